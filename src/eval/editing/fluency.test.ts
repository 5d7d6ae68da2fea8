/**
 * Fluency sampling: the batched, per-row-seeded top-k sampler gives each row exactly what
 * `generate` (and the context-template sampler generateFast) give for that row alone, lengths
 * count the prompt, and the text clean-up of generate_fast.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, openModel } from '../../models/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { generateFast } from '../../edit/shared/context-templates.js';
import { modelDir, skipNoShared } from '../../testing.js';
import { textNgramEntropy } from '../metrics/ngram-entropy.js';
import { cleanGeneration, fluency, recordSeed, sampleTopK } from './fluency.js';
import { pieceTokenizer, tinyGpt2 } from './testing.js';

function checkSampler(model: CausalLM, tok: Tokenizer, prompts: string[], maxLen: number): void {
  const ids = prompts.map((p) => tok.encode(p));
  const seeds = prompts.map((_, i) => recordSeed(3, i));
  const batched = sampleTopK(model, ids, { maxLen, seeds, batchSize: 3 });
  ids.forEach((p, i) => {
    const alone = generate(model, [p], {
      maxNewTokens: Math.max(0, maxLen - p.length),
      doSample: true,
      topK: 5,
      seed: seeds[i]!,
      eosTokenId: null,
    });
    assert.deepEqual(batched[i], alone.tokens[0], `row ${i}`);
    assert.equal(p.length + batched[i]!.length, Math.max(maxLen, p.length));
  });
  // texts: the context-template sampler's output for the row alone, scored by n-gram entropy
  const f = fluency(model, tok, prompts, { maxLen, seeds, batchSize: 2 });
  prompts.forEach((_, i) => {
    assert.equal(f.texts[i], generateFast(model, tok, [ids[i]!], 1, maxLen, seeds[i]!)[0]);
    assert.equal(f.entropies[i], textNgramEntropy(f.texts[i]!));
  });
}

describe('fluency sampling', () => {
  test('random GPT-2: batched rows = each row alone; prompts at or over maxLen get nothing', () => {
    const tok = pieceTokenizer([' ', '.', ...'abcdefghijklmnopqrstuvwxyz'], { bos: false });
    const model = tinyGpt2(tok.vocabSize, 2);
    checkSampler(model, tok, ['the cat', 'a', 'a much longer prompt than the others', 'dog', 'x y z'], 24);
    const [none] = sampleTopK(model, [tok.encode('abcdef')], { maxLen: 4, seeds: [0] });
    assert.deepEqual(none, []);
    model.dispose();
  });

  test('stories260K: 100 tokens counting the prompt', { skip: skipNoShared }, async () => {
    const { model, tokenizer } = await openModel(modelDir('stories260K'));
    checkSampler(model, tokenizer, ['Tom had a big red', 'Once upon a time', 'Lily liked to play with her'], 100);
    const f = fluency(model, tokenizer, ['Once upon a time'], { seeds: [recordSeed(0, 0)] });
    assert.ok(f.entropies[0]! > 3, `a 100-token story has varied n-grams (entropy ${f.entropies[0]})`);
    model.dispose();
  });

  test('clean-up: NFKD, "\\n\\n" -> " ", the EOS string removed', () => {
    const tok = pieceTokenizer(['a']);
    assert.equal(cleanGeneration('ﬁne\n\nnext</s> café<|endoftext|>', tok), 'fine next cafe\u0301');
  });
});
