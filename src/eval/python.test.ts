/**
 * The Python semantics the paper scorers rely on: repr(float) (values from CPython 3.11),
 * csv.reader with a tab delimiter on a universal-newline file (expected records from CPython),
 * int() of a label, and indexing a str.split result.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pyCsvReader, pyFloatRepr, pyInt, pySplitAt, pyStrRepr } from './python.js';
import { confusionAggregate } from './tasks/common.js';
import { ScriptCrash } from './tasks/types.js';

describe('pyFloatRepr', () => {
  test('equals CPython repr', () => {
    const cases: [number, string][] = [
      [7 / 13, '0.5384615384615384'],
      [0, '0.0'],
      [-0, '-0.0'],
      [0.56, '0.56'],
      [1, '1.0'],
      [100, '100.0'],
      [-2.5, '-2.5'],
      [1e-5, '1e-05'],
      [0.0001, '0.0001'],
      [0.00001234, '1.234e-05'],
      [1e15, '1000000000000000.0'],
      [9999999999999998, '9999999999999998.0'],
      [1e16, '1e+16'],
      [1.5e16, '1.5e+16'],
      [123456789012345.6, '123456789012345.6'],
      [1e22, '1e+22'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [1 / 3, '0.3333333333333333'],
      [17 / 1319, '0.01288855193328279'],
      [NaN, 'nan'],
      [Infinity, 'inf'],
      [-Infinity, '-inf'],
    ];
    for (const [x, want] of cases) assert.equal(pyFloatRepr(x), want, String(x));
  });
});

describe('pyCsvReader (csv.reader(open(f), delimiter="\\t"))', () => {
  const fields = (s: string): string[][] => pyCsvReader(s).map((r) => r.fields);
  test('matches CPython on quoting corner cases', () => {
    const cases: [string, string[][]][] = [
      ['a\t"b"c"d\te\n', [['a', 'bc"d', 'e']]],
      ['"unterminated\tx\ny', [['unterminated\tx\ny']]],
      ['a\r\nb\rc\n', [['a'], ['b'], ['c']]],
      ['\n\na\n', [[], [], ['a']]],
      ['x\t""\t"""q"""\n', [['x', '', '"q"']]],
      [' "a"\tb\n', [[' "a"', 'b']]],
      ['a\t\n', [['a', '']]],
      ['a\tb', [['a', 'b']]],
      ['"q\r\nr"\tz\n', [['q\nr', 'z']]],
      ['"a""\n', [['a"\n']]],
    ];
    for (const [input, want] of cases) assert.deepEqual(fields(input), want, JSON.stringify(input));
  });
  test('records carry the line they start on', () => {
    assert.deepEqual(
      pyCsvReader('h\n"x\ny"\tz\nw\n').map((r) => r.line),
      [1, 2, 4],
    );
  });
});

describe('small pieces', () => {
  test('pyInt accepts what int() accepts and raises ValueError otherwise', () => {
    assert.equal(pyInt(' 1\n', ''), 1);
    assert.equal(pyInt('-1_0', ''), -10);
    assert.throws(
      () => pyInt('1.0', 'p'),
      (e: unknown) => e instanceof ScriptCrash && e.pythonError === "ValueError: invalid literal for int() with base 10: '1.0'",
    );
    assert.equal(pyStrRepr("it's"), '"it\'s"');
    assert.equal(pyStrRepr('a\tb'), "'a\\tb'");
  });
  test('pySplitAt indexes like Python, IndexError when out of range', () => {
    assert.equal(pySplitAt('x answer: a answer: b', 'answer:', -1), ' b');
    assert.equal(pySplitAt('x answer: a answer: b', 'answer:', 1), ' a ');
    assert.throws(() => pySplitAt('none', 'answer:', 1), /IndexError: list index out of range/);
  });
  test("confusionAggregate: 'error' only when every answer is invalid; ZeroDivisionError on a smaller all-invalid set", () => {
    assert.deepEqual(
      confusionAggregate({ TP: 0, FN: 0, TN: 0, FP: 0, others: 5 }, 5, 'error\n').values['result_file_tail'],
      'error\n',
    );
    assert.equal(
      confusionAggregate({ TP: 0, FN: 0, TN: 0, FP: 0, others: 4 }, 5, 'error\n').values['exception'],
      'ZeroDivisionError: division by zero',
    );
    const ok = confusionAggregate({ TP: 1, FN: 1, TN: 1, FP: 1, others: 1 }, 5, 'error\n');
    assert.deepEqual(ok, {
      primary: 0.4,
      values: {
        TP: 1,
        FN: 1,
        TN: 1,
        FP: 1,
        others: 1,
        accuracy: 0.5,
        total_accuracy: 0.4,
        result_file_tail: '1\t1\t1\t1\t1\n0.5\t0.4\n',
        exception: null,
      },
    });
  });
});
