/**
 * CounterFact probability metrics: per-case rates and magnitudes and their aggregation on
 * constructed NLLs (worked out by hand), and answer NLLs from batched passes equal to
 * teacher-forced scoring of each row alone.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openModel, scoreContinuations } from '../../models/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { modelDir, skipNoShared } from '../../testing.js';
import {
  aggregateCounterFact,
  answerNlls,
  counterfactCase,
  encodeAnswer,
  harmonicMean,
  type PrefixAnswer,
} from './counterfact.js';
import { pieceTokenizer, tinyGpt2 } from './testing.js';

const close = (a: number | null, b: number, tol = 1e-12) => assert.ok(a !== null && Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe('CounterFact aggregation', () => {
  test('per case: rates over the prompts of each kind, magnitudes from P = exp(-NLL)', () => {
    const c = counterfactCase({
      rewrite: [{ new: 1, true: 2 }],
      paraphrase: [
        { new: 1, true: 2 },
        { new: 3, true: 2 },
      ],
      neighborhood: [
        { new: 2, true: 1 },
        { new: 2, true: 1 },
        { new: 1, true: 2 },
        { new: 5, true: 5 }, // a tie counts for neither
      ],
    });
    assert.equal(c.es, 1);
    assert.equal(c.ps, 0.5);
    assert.equal(c.ns, 0.5);
    close(c.em, Math.exp(-1) - Math.exp(-2));
    close(c.pm, (Math.exp(-1) - Math.exp(-2) + Math.exp(-3) - Math.exp(-2)) / 2);
    close(c.nm, (2 * (Math.exp(-1) - Math.exp(-2)) + Math.exp(-2) - Math.exp(-1)) / 4);
  });

  test('over cases: average per case first, then over cases; S = harmonic mean', () => {
    const a = counterfactCase({
      rewrite: [{ new: 1, true: 2 }],
      paraphrase: [
        { new: 1, true: 2 },
        { new: 3, true: 2 },
      ],
      neighborhood: [{ new: 2, true: 1 }],
    });
    const b = counterfactCase({
      rewrite: [{ new: 3, true: 2 }],
      paraphrase: [{ new: 1, true: 2 }],
      neighborhood: [
        { new: 2, true: 1 },
        { new: 1, true: 2 },
        { new: 1, true: 2 },
        { new: 1, true: 2 },
      ],
    });
    const s = aggregateCounterFact([a, b]);
    // ES: (1 + 0) / 2; PS: (0.5 + 1) / 2 (not 2 of 3 pooled); NS: (1 + 0.25) / 2
    assert.equal(s.ES, 0.5);
    assert.equal(s.PS, 0.75);
    assert.equal(s.NS, 0.625);
    close(s.S, 3 / (1 / 0.5 + 1 / 0.75 + 1 / 0.625));
    assert.equal(s.cases, 2);
    close(harmonicMean([1, 0.5]), 2 / 3);
    assert.equal(harmonicMean([0.9, 0]), 0);
  });

  test('cases without paraphrases or neighbours leave those metrics to the others; S needs all three', () => {
    const a = counterfactCase({ rewrite: [{ new: 1, true: 2 }], paraphrase: [], neighborhood: [] });
    assert.ok(Number.isNaN(a.ps) && Number.isNaN(a.nm));
    const s = aggregateCounterFact([a]);
    assert.equal(s.ES, 1);
    assert.equal(s.PS, null);
    assert.equal(s.S, null);
    const b = counterfactCase({
      rewrite: [{ new: 2, true: 1 }],
      paraphrase: [{ new: 1, true: 2 }],
      neighborhood: [{ new: 2, true: 1 }],
    });
    const s2 = aggregateCounterFact([a, b]);
    assert.equal(s2.ES, 0.5);
    assert.equal(s2.PS, 1);
    assert.equal(s2.NS, 1);
  });
});

function assertNllsMatchScoring(model: CausalLM, tok: Tokenizer, items: PrefixAnswer[]): void {
  const batched = answerNlls(model, tok, items, { batchSize: 3 });
  const one = answerNlls(model, tok, items, { batchSize: 1 });
  items.forEach((it, i) => {
    // scoreContinuations with batch size 1 runs each row alone (float32 log-softmax)
    const [r] = scoreContinuations(model, [{ prompt: tok.encode(it.prefix), continuation: encodeAnswer(tok, it.answer) }], {
      batchSize: 1,
    });
    const want = -r!.logprob / r!.tokenLogprobs.length;
    assert.ok(Math.abs(batched[i]! - want) <= 1e-4 * Math.max(1, Math.abs(want)), `item ${i}: ${batched[i]} vs ${want}`);
    assert.ok(
      Math.abs(batched[i]! - one[i]!) <= 1e-5 * Math.max(1, Math.abs(want)),
      `item ${i}: batched ${batched[i]} vs alone ${one[i]}`,
    );
  });
}

const ITEMS: PrefixAnswer[] = [
  { prefix: 'the tower is in', answer: 'paris' },
  { prefix: 'the tower is in', answer: 'rome' },
  { prefix: 'a', answer: 'very long answer string' },
  { prefix: 'the mother tongue of danielle darrieux is', answer: 'french' },
];

describe('answer NLLs: batched = one row at a time', () => {
  test('random GPT-2; answer tokens are encode(" " + a) without BOS', () => {
    const tok = pieceTokenizer([' ', ...'abcdefghijklmnopqrstuvwxyz'], { bos: false });
    assert.deepEqual(encodeAnswer(tok, 'ab'), [2, 3, 4]);
    const model = tinyGpt2(tok.vocabSize, 5);
    assertNllsMatchScoring(model, tok, ITEMS);
    model.dispose();
  });

  test('stories260K: the model prefers its own continuation', { skip: skipNoShared }, async () => {
    const { model, tokenizer } = await openModel(modelDir('stories260K'));
    // " car" is one piece after the prompt (no BOS, no doubled dummy space)
    assert.equal(encodeAnswer(tokenizer, 'car').length, tokenizer.encode(' car', { addBos: false, dummyPrefix: 'never' }).length);
    const items = [
      ...ITEMS,
      { prefix: 'Once upon a time, there was a little', answer: 'girl' },
      { prefix: 'Once upon a time, there was a little', answer: 'tower' },
    ];
    assertNllsMatchScoring(model, tokenizer, items);
    const [girl, tower] = answerNlls(model, tokenizer, items.slice(-2));
    assert.ok(girl! < tower!, `NLL girl ${girl} vs tower ${tower}`);
    model.dispose();
  });
});
