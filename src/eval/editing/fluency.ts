/**
 * Fluency (docs/evaluation.md, "Fluency"): sample from each prompt with top-k 5 until the row holds 100
 * tokens counting the prompt (the context-template sampler of src/edit/shared/README.md, no EOS stop),
 * decode, NFKD, "\n\n" → " ", drop the EOS string, and score the n-gram entropy.
 *
 * Rows are sampled in left-padded batches with a KV cache, each row from its own seeded RNG, so a
 * row's text depends only on its prompt and seed, not on the batch it shares: it equals
 * `generate(model, [prompt], { doSample: true, topK: 5, seed, eosTokenId: null })` run alone.
 * Decoding skips special tokens like the context-template sampler; EasyEdit's decode keeps them,
 * which for LLaMA leaves "<s>" at the start of its texts.
 */
import { generate } from '../../models/generate.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { textNgramEntropy } from '../metrics/ngram-entropy.js';
import { lengthGroups } from '../../models/length-groups.js';
import { DEFAULT_EVAL_BATCH } from './token-accuracy.js';

export interface FluencyOptions {
  /** total tokens per row, prompt included (default 100) */
  maxLen?: number;
  /** top-k of the sampler (default 5) */
  topK?: number;
  /** one seed per prompt */
  seeds: readonly number[];
  /** rows per batch (default 16) */
  batchSize?: number;
}

/** The seed of record `index` under a base seed (so a record keeps its seed in any batch or order). */
export function recordSeed(base: number, index: number): number {
  return (Math.imul(base + 1, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

/**
 * New tokens for each prompt: top-k samples until prompt + new tokens = maxLen (none when the
 * prompt is already that long).
 */
export function sampleTopK(model: CausalLM, prompts: readonly (readonly number[])[], opts: FluencyOptions): number[][] {
  const maxLen = opts.maxLen ?? 100;
  if (opts.seeds.length !== prompts.length)
    throw new Error(`sampleTopK: ${opts.seeds.length} seeds for ${prompts.length} prompts`);
  const out: number[][] = prompts.map(() => []);
  const groups = lengthGroups(
    prompts.map((p) => p.length),
    undefined,
    opts.batchSize ?? DEFAULT_EVAL_BATCH,
  );
  for (const batch of groups) {
    const want = batch.map((i) => Math.max(0, maxLen - prompts[i]!.length));
    const steps = Math.max(...want);
    if (steps === 0) continue;
    const { tokens } = generate(
      model,
      batch.map((i) => prompts[i]!),
      {
        maxNewTokens: steps,
        maxNewTokensPerRow: want,
        doSample: true,
        topK: opts.topK ?? 5,
        seeds: batch.map((i) => opts.seeds[i]!),
        eosTokenId: null,
      },
    );
    batch.forEach((i, b) => (out[i] = tokens[b]!));
  }
  return out;
}

/** generate_fast's text clean-up: NFKD, "\n\n" → " ", the EOS string removed. */
export function cleanGeneration(text: string, tok: Tokenizer): string {
  let t = text.normalize('NFKD').replaceAll('\n\n', ' ');
  const eos = tok.eosId !== null ? tok.idToToken(tok.eosId) : null;
  if (eos) t = t.replaceAll(eos, '');
  return t.replaceAll('<|endoftext|>', '');
}

/**
 * Sampled texts (prompt included) for each prompt and their n-gram entropies.
 * @example fluency(model, tok, ['Tom had a big red'], { seeds: [recordSeed(0, 0)] }).entropies[0]
 */
export function fluency(
  model: CausalLM,
  tok: Tokenizer,
  prompts: readonly string[],
  opts: FluencyOptions,
): { texts: string[]; entropies: number[] } {
  const ids = prompts.map((p) => tok.encode(p));
  const gen = sampleTopK(model, ids, opts);
  const texts = ids.map((p, i) => cleanGeneration(tok.decode([...p, ...gen[i]!], { skipSpecialTokens: true }), tok));
  return { texts, entropies: texts.map((t) => textNgramEntropy(t)) };
}
