/**
 * rescore() without the shared data: a character-level stand-in tokenizer, the SST-2 task on a
 * hand-made file. Covers the text each mode sees, crash handling and the predictions' validation
 * (the goldens run through rescore in test/golden/scoring.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tokenizer } from '../tokenizer/index.js';
import { parsePredictions, rescore } from './rescore.js';
import { getTask } from './tasks/index.js';
import { sst2 } from './tasks/sst2.js';

/** ids 0..255 are characters; 256 is EOS, rendered '<|endoftext|>' unless skipped. */
const charTok: Tokenizer = {
  kind: 'hf',
  vocabSize: 257,
  bosId: null,
  eosId: 256,
  padId: null,
  encode: (text) => [...text].map((c) => c.charCodeAt(0)),
  decode: (ids, opts) =>
    ids.map((i) => (i === 256 ? (opts?.skipSpecialTokens ? '' : '<|endoftext|>') : String.fromCharCode(i))).join(''),
  decodeToken: (id) => (id === 256 ? '<|endoftext|>' : String.fromCharCode(id)),
  idToToken: (id) => (id === 256 ? '<|endoftext|>' : String.fromCharCode(id)),
  tokenToId: (t) => (t === '<|endoftext|>' ? 256 : t.length === 1 ? t.charCodeAt(0) : null),
};
const ids = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

const examples = sst2.parse('sentence\tlabel\ngood . \t1\nbad . \t0\nodd . \tx\n', 's.tsv', 'paper');
const base = { task: sst2, variant: 'before' as const, tokenizer: charTok, examples };

describe('rescore', () => {
  test('paper mode scores T (prompt + generation, cleaned up, pads in front); clean mode G', () => {
    const predictions = [
      { example_index: 0, continuation_ids: ids(' positive'), pad_tokens: 2 },
      { example_index: 1, continuation_ids: [...ids(' negative'), 256] },
    ];
    const paper = rescore({ ...base, mode: 'paper', predictions });
    assert.deepEqual(paper.cases[0], {
      example_index: 0,
      outcome: { gold: '1', predict: ' positive', TP: 1, FN: 0, TN: 0, FP: 0, others: 0 },
    });
    assert.equal(paper.cases[1]!.outcome['predict'], ' negative<|endoftext|>');
    assert.equal(paper.aggregate['total_accuracy'], 1);
    assert.equal(paper.aggregate['primary'], 1);
    const clean = rescore({ ...base, mode: 'clean', predictions });
    assert.deepEqual(
      clean.cases.map((c) => c.outcome['predict']),
      ['1', '0'],
    );
    assert.equal(clean.aggregate['score'], 1);
    assert.equal(clean.aggregate['primary'], 1);
  });

  test('a line that makes the script raise: its outcome is the crash, the aggregate nulls with the exception', () => {
    const r = rescore({
      ...base,
      mode: 'paper',
      predictions: [
        { example_index: 0, continuation_ids: ids(' positive') },
        { example_index: 2, continuation_ids: ids(' positive') },
      ],
    });
    assert.deepEqual(r.cases[1]!.outcome, {
      predict: ' positive',
      raises: "ValueError: invalid literal for int() with base 10: 'x'",
    });
    assert.equal(r.aggregate['exception'], "ValueError: invalid literal for int() with base 10: 'x'");
    assert.equal(r.aggregate['primary'], null);
    assert.equal(r.aggregate['TP'], null);
    assert.equal(r.aggregate['total_accuracy'], null);
  });

  test('bad lines are errors naming the predictions file and line', () => {
    const { predictions, lineNumbers } = parsePredictions(
      '{"example_index": 0, "continuation_ids": [1]}\n\n{"example_index": 1}\n',
      'p.jsonl',
    );
    assert.deepEqual(lineNumbers, [1, 3]);
    const bad = (preds: unknown[], re: RegExp, task = sst2 as typeof sst2): void => {
      assert.throws(() => rescore({ ...base, task, mode: 'paper', predictions: preds, predictionsFile: 'p.jsonl' }), re);
    };
    assert.throws(
      () => rescore({ ...base, mode: 'paper', predictions, lineNumbers, predictionsFile: 'p.jsonl' }),
      /^Error: p\.jsonl: line 3: missing continuation_ids$/,
    );
    bad(
      [{ example_index: 3, continuation_ids: [] }],
      /p\.jsonl: line 1: example_index 3 is out of range \(sst2 has 3 examples: 0\.\.2\)/,
    );
    bad([{ example_index: -1, continuation_ids: [] }], /line 1: example_index -1 is out of range/);
    bad([{ example_index: '0', continuation_ids: [] }], /line 1: example_index must be an integer/);
    bad([{ continuation_ids: [] }], /line 1: missing example_index/);
    bad(
      [
        { example_index: 0, continuation_ids: [1] },
        { example_index: 0, continuation_ids: [1.5] },
      ],
      /line 2: continuation_ids\[0\] = 1\.5 is not a token id/,
    );
    bad(
      [{ example_index: 0, continuation_ids: [257] }],
      /line 1: continuation_ids\[0\] = 257 is not a token id \(integers 0\.\.256\)/,
    );
    bad([{ example_index: 0, continuation_ids: 'abc' }], /line 1: continuation_ids must be a list/);
    bad([{ example_index: 0, continuation_ids: [], pad_tokens: -1 }], /line 1: pad_tokens must be a non-negative integer/);
    bad([{ example_index: 0, continuation_ids: [], entity_type: 'PER' }], /line 1: bad entity_type "PER": only conll2003/);
    bad([7], /line 1: expected a JSON object/);
    const ner = getTask('conll2003') as unknown as typeof sst2;
    bad([{ example_index: 0, continuation_ids: [] }], /line 1: missing entity_type .* for conll2003/, ner);
    bad(
      [{ example_index: 0, continuation_ids: [], entity_type: 'PERSON' }],
      /line 1: bad entity_type "PERSON" \(one of PER, LOC, ORG, MISC\)/,
      ner,
    );
    assert.throws(() => parsePredictions('{"a": 1}\n{oops}\n', 'p.jsonl'), /p\.jsonl: line 2: not valid JSON/);
  });
});
