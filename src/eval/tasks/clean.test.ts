/**
 * The clean scorers of GSM8K, RTE, BoolQ, SST-2 and MuTual on hand-made generations, a few
 * paper-mode behaviours the goldens only touch once, and the parsers' errors on bad data.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { boolq } from './boolq.js';
import { gsm8k } from './gsm8k.js';
import { mutual } from './mutual.js';
import { rte } from './rte.js';
import { sst2 } from './sst2.js';
import { ScriptCrash, type Outcome, type ScoringRun, type Task } from './types.js';

/** Score G texts on examples 0..n-1 (one text per example) with a fresh run. */
function scoreAll<E>(task: Task<E>, run: ScoringRun, examples: E[], texts: string[]): Outcome[] {
  return texts.map((t, i) => run.score(task.items(examples[i]!, i)[0]!, t));
}

const pick = (outs: Outcome[], key: string): unknown[] => outs.map((o) => o[key]);

describe('GSM8K', () => {
  const data = [
    ['Q1', 'a\n#### 8'],
    ['Q2', 'b\n#### 10,800'],
    ['Q3', 'c\n#### 40,000'],
    ['Q4', 'd\n#### 4'],
    ['Q5', 'e\n#### 374'],
    ['Q6', 'f\n#### -10'],
    ['Q7', 'g\n#### 18'],
    ['Q8', 'h\n#### 35'],
  ]
    .map(([question, answer]) => JSON.stringify({ question, answer }))
    .join('\n');
  const ex = gsm8k.parse(data, 'g.jsonl', 'clean');

  test('clean: the first number, commas removed, equal to the gold as numbers', () => {
    const run = gsm8k.clean(ex);
    const outs = scoreAll(gsm8k, run, ex, [
      ' 8<|endoftext|>',
      ' 10,800',
      ' 40000',
      ' 14',
      ' 374.0',
      ' -10 degrees',
      ' The answer is',
      ' 3 or 35',
    ]);
    assert.deepEqual(pick(outs, 'predict'), ['8', '10800', '40000', '14', '374.0', '-10', null, '3']);
    assert.deepEqual(pick(outs, 'correct'), [1, 1, 1, 0, 1, 1, 0, 0]);
    const agg = run.aggregate();
    assert.equal(agg.primary, 5 / 8);
    assert.deepEqual(agg.values, { correct: 5, valid: 7, n: 8, score: 5 / 8, valid_rate: 7 / 8, accuracy_on_valid: 5 / 7 });
  });

  test('paper: substring rule (gold 4 in 14), split on the cue; rationale option only changes prompts', () => {
    const run = gsm8k.paper(ex, 'before');
    const item = gsm8k.items(ex[3]!, 3)[0]!;
    assert.equal(item.prompt, "Q: Q4 A:Let's think step by step. d\n Therefore, the answer (arabic numerals) is:");
    assert.equal(
      gsm8k.items(ex[3]!, 3, { rationale: false })[0]!.prompt,
      "Q: Q4 A:Let's think step by step. Therefore, the answer (arabic numerals) is:",
    );
    assert.deepEqual(run.score(item, `${item.prompt} 14`), { gold: '4', predict: ' 14', correct: 1 });
    assert.throws(
      () => run.score(item, 'no cue here'),
      (e: unknown) => e instanceof ScriptCrash && e.pythonError === 'IndexError: list index out of range',
    );
    assert.deepEqual(run.aggregate(), {
      primary: 1 / 1319,
      values: { correct: 1, acc: 1 / 1319, result_file_tail: '0.000758150113722517\n', exception: null },
    });
  });

  test('bad data: invalid JSON, a missing field, no "#### "', () => {
    assert.throws(
      () => gsm8k.parse('{"question": "q", "answer": "a #### 1"}\n{oops\n', 'g.jsonl', 'paper'),
      /g\.jsonl: line 2: not valid JSON/,
    );
    assert.throws(
      () => gsm8k.parse('{"answer": "a #### 1"}\n', 'g.jsonl', 'paper'),
      /g\.jsonl: line 1: missing field "question"/,
    );
    assert.throws(
      () => gsm8k.parse('{"question": "q", "answer": "no final"}\n', 'g.jsonl', 'paper'),
      /g\.jsonl: line 1: .*"#### "/,
    );
    assert.throws(
      () => gsm8k.parse('{"question": "q", "answer": 3}\n', 'g.jsonl', 'paper'),
      /line 1: field "answer" must be a string/,
    );
    assert.throws(
      () =>
        gsm8k.parse('{"question": "q", "answer": "a #### 1"}\n\n{"question": "q", "answer": "a #### 1"}\n', 'g.jsonl', 'paper'),
      /line 2: not valid JSON \(empty line\)/,
    );
  });
});

describe('RTE', () => {
  const tsv = [
    'index\tsentence1\tsentence2\tlabel',
    '0\tA.\tB\tentailment',
    '1\tC.\tD\tnot_entailment',
    '2\tE.\tF\tentailment',
    '3\tG.\tH\tnot_entailment',
    '4\tI.\tJ\tentailment',
    '5\tK.\tL\tentailment',
    '',
  ].join('\n');
  const ex = rte.parse(tsv, 'r.tsv', 'clean');

  test('clean: the trimmed answer starts with true / false', () => {
    const run = rte.clean(ex);
    const outs = scoreAll(rte, run, ex, [' True', ' false', ' untrue', '\nFALSE.', ' True False', ' Yes']);
    assert.deepEqual(pick(outs, 'predict'), ['entailment', 'not_entailment', null, 'not_entailment', 'entailment', null]);
    assert.deepEqual(pick(outs, 'correct'), [1, 1, 0, 1, 1, 0]);
    const agg = run.aggregate();
    assert.equal(agg.primary, 4 / 6);
    assert.equal(agg.values['valid_rate'], 4 / 6);
  });

  test('paper: an answer with both words counts twice; total_accuracy divides by all counters', () => {
    const run = rte.paper(ex, 'after');
    const p = (i: number): string => rte.items(ex[i]!, i)[0]!.prompt;
    assert.equal(p(0), 'A. entails the B. True or False? answer:');
    assert.deepEqual(run.score(rte.items(ex[0]!, 0)[0]!, `${p(0)} True False`), {
      gold: 'entailment',
      predict: ' True False',
      TP: 1,
      FN: 0,
      TN: 1,
      FP: 0,
      others: 0,
    });
    assert.deepEqual(run.score(rte.items(ex[1]!, 1)[0]!, `${p(1)} true/false`), {
      gold: 'not_entailment',
      predict: ' true/false',
      TP: 0,
      FN: 1,
      TN: 0,
      FP: 1,
      others: 0,
    });
    run.score(rte.items(ex[2]!, 2)[0]!, `${p(2)}<|endoftext|>`);
    const agg = run.aggregate();
    assert.equal(agg.values['accuracy'], 2 / 4);
    assert.equal(agg.values['total_accuracy'], 2 / 5);
    assert.equal(agg.values['result_file_tail'], '1\t1\t1\t1\t1\n0.5\t0.4\n');
    assert.equal(agg.primary, 2 / 5);
  });

  test('paper parsing follows csv.reader: quotes removed, "" unescaped, text after the quote kept, newlines inside quotes', () => {
    const quoted = [
      'index\tsentence1\tsentence2\tlabel',
      '0\t"Say ""hi""." said Al.\tx "y"\tentailment',
      '1\t"two\nlines"\tz\tnot_entailment',
      '',
    ].join('\n');
    const paper = rte.parse(quoted, 'q.tsv', 'paper');
    assert.deepEqual(
      paper.map((e) => e.sentence1),
      ['Say "hi". said Al.', 'two\nlines'],
    );
    assert.equal(paper[0]!.sentence2, 'x "y"');
    assert.equal(paper[1]!.label, 'not_entailment');
    assert.equal(rte.parse(quoted.split('\n').slice(0, 2).join('\n'), 'q.tsv', 'clean')[0]!.sentence1, '"Say ""hi""." said Al.');
  });

  test('bad data: too few fields, bad clean label (errors name file and line)', () => {
    assert.throws(
      () => rte.parse('index\ts1\ts2\tlabel\n0\ta\tb\n', 'r.tsv', 'paper'),
      /r\.tsv: line 2 \(record 0\): expected 4 tab-separated fields .* got 3/,
    );
    assert.throws(
      () => rte.parse('index\ts1\ts2\tlabel\n0\ta\tb\tentailment\n\n', 'r.tsv', 'paper'),
      /r\.tsv: line 3 \(record 1\): .* got 0/,
    );
    assert.throws(
      () => rte.parse('index\ts1\ts2\tlabel\n0\ta\tb\tmaybe\n', 'r.tsv', 'clean'),
      /r\.tsv: line 2 \(record 0\): label must be entailment or not_entailment/,
    );
    assert.throws(() => rte.parse('index\ts1\ts2\tlabel\n0\ta\tb\tentailment\textra\n', 'r.tsv', 'clean'), /got 5/);
    assert.equal(rte.parse('index\ts1\ts2\tlabel\n0\ta\tb\tentailment\textra\n', 'r.tsv', 'paper').length, 1); // the script ignores extra fields
  });
});

describe('BoolQ', () => {
  const rows = [true, false, true, false, true, true].map((answer, i) =>
    JSON.stringify({ question: `q${i}`, title: 't', answer, passage: `p${i}` }),
  );
  const ex = boolq.parse(rows.join('\n') + '\n', 'b.jsonl', 'clean');

  test('clean: exactly yes or no after trimming, lowercasing and dropping punctuation', () => {
    const run = boolq.clean(ex);
    const outs = scoreAll(boolq, run, ex, [' Yes.', ' no!', ' not', ' yes no', '"YES"', ' now']);
    assert.deepEqual(pick(outs, 'predict'), [true, false, null, null, true, null]);
    assert.deepEqual(pick(outs, 'correct'), [1, 1, 0, 0, 1, 0]);
    assert.deepEqual(run.aggregate().values, { correct: 3, valid: 3, n: 6, score: 0.5, valid_rate: 0.5, accuracy_on_valid: 1 });
  });

  test('paper: exact " yes"/" no" before editing, substrings after', () => {
    const item = boolq.items(ex[0]!, 0)[0]!;
    assert.equal(
      item.prompt,
      "Please answer the given question based on the passage. The answer should be exact 'yes' or 'no'. passage: p0 question: q0. answer:",
    );
    const before = boolq.paper(ex, 'before');
    const after = boolq.paper(ex, 'after');
    assert.equal(before.score(item, `${item.prompt} not`)['others'], 1);
    assert.equal(after.score(item, `${item.prompt} not`)['TN'], 1);
    assert.deepEqual(before.aggregate().values, {
      TP: 0,
      FN: 0,
      TN: 0,
      FP: 0,
      others: 1,
      accuracy: null,
      total_accuracy: null,
      result_file_tail: null,
      exception: 'ZeroDivisionError: division by zero',
    });
    assert.equal(before.aggregate().primary, null);
  });

  test('bad data: answer missing or not a boolean, passage missing', () => {
    assert.throws(
      () => boolq.parse('{"question": "q", "passage": "p"}\n', 'b.jsonl', 'paper'),
      /b\.jsonl: line 1: missing field "answer"/,
    );
    assert.throws(
      () => boolq.parse('{"question": "q", "passage": "p", "answer": "yes"}\n', 'b.jsonl', 'paper'),
      /line 1: field "answer" must be true or false/,
    );
    assert.throws(
      () => boolq.parse('{"question": "q", "answer": true}\n', 'b.jsonl', 'paper'),
      /line 1: missing field "passage"/,
    );
    assert.throws(() => boolq.parse('[1, 2]\n', 'b.jsonl', 'paper'), /line 1: expected a JSON object/);
  });
});

describe('SST-2', () => {
  const ex = sst2.parse('sentence\tlabel\ngood . \t1\nbad . \t0\nfine . \t1\nmeh . \t0\nok . \t1\n', 's.tsv', 'clean');

  test('clean: the trimmed answer starts with positive / negative', () => {
    const run = sst2.clean(ex);
    const outs = scoreAll(sst2, run, ex, [' Positive', ' negative.', ' non-negative', ' positively', ' neutral']);
    assert.deepEqual(pick(outs, 'predict'), ['1', '0', null, '1', null]);
    assert.deepEqual(pick(outs, 'correct'), [1, 1, 0, 0, 0]);
    assert.equal(run.aggregate().primary, 2 / 5);
    assert.equal(run.aggregate().values['valid_rate'], 3 / 5);
  });

  test('paper: if/elif order (both words on label 0 → FN), int(label) raises on a bad label', () => {
    const item = sst2.items(ex[1]!, 1)[0]!;
    assert.equal(
      item.prompt,
      "For each snippet of text,label the sentiment of the text as positive or negative.The answer should be exact 'positive' or 'negative'. text: bad .  answer:",
    );
    const run = sst2.paper(ex, 'before');
    assert.equal(run.score(item, `${item.prompt} positive negative`)['FN'], 1);
    const odd = sst2.parse('sentence\tlabel\nx\tpos\n', 's.tsv', 'paper');
    const r2 = sst2.paper(odd, 'before');
    const it2 = sst2.items(odd[0]!, 0)[0]!;
    assert.equal(r2.score(it2, `${it2.prompt} neutral`)['others'], 1); // int() is never reached
    assert.throws(
      () => r2.score(it2, `${it2.prompt} positive`),
      (e: unknown) =>
        e instanceof ScriptCrash &&
        e.pythonError === "ValueError: invalid literal for int() with base 10: 'pos'" &&
        e.predict === ' positive',
    );
  });

  test('bad data: a row without a label, a bad clean label', () => {
    assert.throws(
      () => sst2.parse('sentence\tlabel\njust text\n', 's.tsv', 'paper'),
      /s\.tsv: line 2 \(record 0\): expected 2 tab-separated fields .* got 1/,
    );
    assert.throws(
      () => sst2.parse('sentence\tlabel\nx\t2\n', 's.tsv', 'clean'),
      /s\.tsv: line 2 \(record 0\): label must be 0 or 1/,
    );
  });
});

describe('MuTual', () => {
  const rows = ['A', 'B', 'C', 'D', 'A', 'B'].map((answers, i) =>
    JSON.stringify({ answers, options: ['o1', 'o2', 'o3', 'o4'], article: `a${i}`, id: `dev_${i}` }),
  );
  const ex = mutual.parse(rows.join('\n'), 'm.jsonl', 'clean');

  test('clean: a letter standing alone at the start of the trimmed text, a leading "(" dropped', () => {
    const run = mutual.clean(ex);
    const outs = scoreAll(mutual, run, ex, [' A', ' (B)', ' Chi', ' d', '<|endoftext|>', ' A.']);
    assert.deepEqual(pick(outs, 'predict'), ['A', 'B', null, null, null, 'A']);
    assert.deepEqual(pick(outs, 'correct'), [1, 1, 0, 0, 0, 0]);
    assert.deepEqual(run.aggregate().values, {
      correct: 2,
      valid: 3,
      n: 6,
      score: 2 / 6,
      valid_rate: 3 / 6,
      accuracy_on_valid: 2 / 3,
    });
  });

  test("paper: 'Chi' is C before editing and other after; the accuracy divides by 886", () => {
    const item = mutual.items(ex[2]!, 2)[0]!;
    assert.equal(
      item.prompt,
      'Q: a2 Which choice is correct? Answer Chioces: (A)o1(B)o2(C)o3(D)o4 A: Among A through D, the answer is',
    );
    const before = mutual.paper(ex, 'before');
    const after = mutual.paper(ex, 'after');
    assert.deepEqual(before.score(item, `${item.prompt} Chi`), { gold: 'C', predict: ' Chi', correct: 1, other: 0 });
    assert.deepEqual(after.score(item, `${item.prompt} Chi`), { gold: 'C', predict: ' Chi', correct: 0, other: 1 });
    assert.deepEqual(before.aggregate(), {
      primary: 1 / 886,
      values: { correct: 1, other: 0, accuracy: 1 / 886, result_file_tail: '1\t0\t0.001128668171557562\n', exception: null },
    });
  });

  test('bad data: options not four strings, answers missing', () => {
    assert.throws(
      () => mutual.parse('{"answers": "A", "options": ["a", "b", "c"], "article": "x"}', 'm.jsonl', 'paper'),
      /m\.jsonl: line 1: field "options" must be a list of 4 strings/,
    );
    assert.throws(
      () => mutual.parse('{"options": ["a", "b", "c", "d"], "article": "x"}', 'm.jsonl', 'paper'),
      /m\.jsonl: line 1: missing field "answers"/,
    );
  });
});
