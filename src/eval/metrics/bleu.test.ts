/**
 * nltk 3.8 sentence BLEU, CPython's math.fsum, glibc's log/exp (bit for bit) and the Python string
 * helpers. Expected BLEU/libm values are CPython 3.11 on Debian 12 (glibc 2.36, x86-64 with FMA),
 * nltk 3.8's bleu_score.py.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fsum, modifiedPrecision, sentenceBleu } from './bleu.js';
import { bigScaledToDouble, fma, glibcExp, glibcLog } from './libm.js';
import { pyCollapseWhitespace, pyLen, pySlice, pySplit, pyStrip } from './py-text.js';

const w = (s: string): string[] => s.split(' ');

test('modified precision clips hypothesis counts by the reference counts', () => {
  // "the the the the" vs "the cat": the appears once in the reference → 1/4
  assert.deepEqual(modifiedPrecision([w('the cat')], w('the the the the'), 1), [1, 4]);
  assert.deepEqual(modifiedPrecision([w('a b')], w('a'), 2), [0, 1]); // denominator at least 1
});

test('sentence BLEU (nltk 3.8, method0): values of the original', () => {
  assert.equal(sentenceBleu([w('a b c d')], w('a b c d')), 1);
  // p4 = 0 → sys.float_info.min, brevity penalty exp(1 − 4/3)
  assert.equal(sentenceBleu([w('a b c d')], w('a b c')), 8.751273976943354e-78);
  assert.equal(sentenceBleu([w('the cat sat on the mat')], w('the cat sat on a mat')), 0.537284965911771);
  assert.equal(sentenceBleu([w('the cat sat on the mat today')], w('the cat sat on the mat today x')), 0.8408964152537145);
  assert.equal(sentenceBleu([w('x')], w('y')), 0); // no unigram match: the integer 0
  assert.equal(sentenceBleu([w('x')], []), 0);
});

test('fsum is exactly rounded (CPython math.fsum)', () => {
  assert.equal(fsum([1e16, 1, 1e-16]), 1.0000000000000002e16);
  assert.equal(fsum(Array(10).fill(0.1)), 1);
  assert.equal(fsum([1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50]), 1e-100);
  assert.equal(fsum([]), 0);
});

test('glibc log/exp: the values CPython gets, including where they are not correctly rounded', () => {
  // correctly rounded would be −0.17480272437992725 and 0.5960716921737033
  assert.equal(glibcLog(0.839622641509434), -0.17480272437992728);
  assert.equal(glibcExp(-0.5173943302688624), 0.5960716921737031);
  assert.equal(glibcLog(5e-324), -744.4400719213812); // subnormal input
  assert.equal(glibcLog(1.0625), 0.06062462181643484); // near-1 path
  assert.equal(glibcLog(0.95), -0.05129329438755058);
  assert.equal(0.25 * glibcLog(2.2250738585072014e-308), -177.09910463306602);
  assert.equal(glibcExp(-600.5), 1.6075467697937942e-261); // large |x| special case
  assert.equal(glibcExp(-740.25), 3.26e-322); // subnormal result
  assert.equal(glibcLog(1), 0);
  assert.equal(glibcExp(0), 1);
  assert.equal(glibcExp(1000), Infinity);
  assert.equal(glibcExp(-1000), 0);
  assert.ok(Number.isNaN(glibcLog(-1)));
  assert.equal(glibcLog(0), -Infinity);
});

test('exact fma and BigInt → double rounding', () => {
  assert.equal(fma(0.1, 10, -1), 5.551115123125783e-17); // 0.1·10 − 1 without the intermediate rounding
  assert.equal(bigScaledToDouble(3n, -1075), 1e-323); // 1.5 · 2^-1074: a tie, to the even 2 · 2^-1074
  assert.equal(bigScaledToDouble(1n, -1075), 0); // exactly half the smallest subnormal: ties to even (0)
  assert.equal(bigScaledToDouble((1n << 53n) + 1n, 0), 2 ** 53); // tie → even
  assert.equal(bigScaledToDouble((1n << 53n) + 3n, 0), 2 ** 53 + 4);
});

test('Python string helpers: split(), strip(), len and slices in code points', () => {
  assert.deepEqual(pySplit(' a\u00a0b\x1cc\u3000 '), ['a', 'b', 'c']);
  assert.deepEqual(pySplit('a\ufeffb'), ['a\ufeffb']);
  assert.equal(pyCollapseWhitespace('  x \t y\n'), 'x y');
  assert.equal(pyStrip('\x85 x y \u2028'), 'x y');
  assert.equal(pyLen('a😀'), 2);
  assert.equal(pySlice('ab😀😀', 0, -1), 'ab😀');
  assert.equal(pySlice('abc', 0, -13), '');
  assert.equal(pySlice('abcdef', 2), 'cdef');
});
