/**
 * Batched generation (sorted by length, left-padded, KV cache) gives the tokens of one-by-one
 * generation, on a tiny random GPT-2 and on the real stories260K; the context policy.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../tensor/index.js';
import { generate, openModel } from '../models/index.js';
import { randomModel } from '../models/testing.js';
import { fitToContext, generateBatched } from './generation.js';
import { modelDir, skipNoShared } from '../testing.js';

function randomPrompts(rng: T.Rng, n: number, vocab: number, maxLen: number): number[][] {
  return Array.from({ length: n }, () => Array.from({ length: 1 + rng.nextInt(maxLen) }, () => rng.nextInt(vocab)));
}

describe('generateBatched', () => {
  test('equals one-at-a-time greedy generation on a tiny GPT-2 (odd sizes, EOS stops)', () => {
    const model = randomModel(
      {
        model_type: 'gpt2',
        vocab_size: 37,
        n_embd: 24,
        n_layer: 2,
        n_head: 3,
        n_positions: 64,
        eos_token_id: 5,
        layer_norm_epsilon: 1e-5,
      },
      { std: 0.4, seed: Date.now() % 1000 },
    );
    const prompts = randomPrompts(new T.Rng(Date.now() % 7919), 11, 37, 13);
    for (const bs of [1, 3, 8]) {
      const batched = generateBatched(model, prompts, { maxNewTokens: 7, batchSize: bs });
      prompts.forEach((p, i) => {
        const single = generate(model, [p], { maxNewTokens: 7 }).tokens[0]!;
        assert.deepEqual(batched[i]!.generatedIds, single, `prompt ${i}, batch size ${bs}`);
        assert.deepEqual(batched[i]!.promptIds, p);
        assert.equal(batched[i]!.finishReason, single.at(-1) === 5 ? 'eos' : 'length');
      });
    }
    model.dispose();
  });

  test('the context policy keeps the end (with BOS), the start, or skips', () => {
    const ids = [1, 10, 11, 12, 13, 14, 15];
    assert.deepEqual(fitToContext(ids, 6, 2, 'keep-end', 1), { ids: [1, 13, 14, 15], truncated: true, skipped: false });
    assert.deepEqual(fitToContext(ids, 6, 2, 'keep-end', null), { ids: [12, 13, 14, 15], truncated: true, skipped: false });
    assert.deepEqual(fitToContext(ids, 6, 2, 'keep-start', 1), { ids: [1, 10, 11, 12], truncated: true, skipped: false });
    assert.deepEqual(fitToContext(ids, 6, 2, 'skip', 1), { ids: [], truncated: true, skipped: true });
    assert.deepEqual(fitToContext(ids, 9, 2, 'keep-end', 1), { ids, truncated: false, skipped: false });
    assert.throws(() => fitToContext(ids, 4, 4, 'keep-end', 1), /leaves no room/);
  });

  test('over-long prompts are truncated and still generate within the context', () => {
    const model = randomModel(
      { model_type: 'gpt2', vocab_size: 19, n_embd: 8, n_layer: 1, n_head: 2, n_positions: 16, layer_norm_epsilon: 1e-5 },
      { seed: 3 },
    );
    const long = Array.from({ length: 40 }, (_, i) => i % 19);
    const [g, s] = generateBatched(model, [long, [1, 2, 3]], { maxNewTokens: 4 });
    assert.equal(g!.truncated, true);
    assert.equal(g!.promptIds.length, 12);
    assert.deepEqual(g!.promptIds, long.slice(28));
    assert.equal(g!.generatedIds.length, 4);
    assert.equal(s!.truncated, false);
    const [k] = generateBatched(model, [long], { maxNewTokens: 4, contextPolicy: 'skip' });
    assert.deepEqual([k!.skipped, k!.generatedIds, k!.finishReason], [true, [], 'skipped']);
    model.dispose();
  });

  test('equals one-at-a-time generation on stories260K', { skip: skipNoShared }, async () => {
    const { model, tokenizer } = await openModel(modelDir('stories260K'));
    const texts = [
      'Once upon a time',
      'Tom had a big red',
      'Lily liked to play with her',
      'The sun',
      'One day, a little girl named Sue went to the park with her mom and',
      'He',
    ];
    const prompts = texts.map((t) => tokenizer.encode(t));
    const batched = generateBatched(model, prompts, { maxNewTokens: 12, batchSize: 4 });
    prompts.forEach((p, i) =>
      assert.deepEqual(batched[i]!.generatedIds, generate(model, [p], { maxNewTokens: 12 }).tokens[0], texts[i]),
    );
    model.dispose();
  });
});
