/**
 * Fluency (evaluation.md §1.3): sample from each prompt with top-k 5 until the row holds 100
 * tokens counting the prompt (the context-template sampler of methods.md §1.3, no EOS stop),
 * decode, NFKD, "\n\n" → " ", drop the EOS string, and score the n-gram entropy.
 *
 * Rows are sampled in left-padded batches with a KV cache, each row from its own seeded RNG, so a
 * row's text depends only on its prompt and seed, not on the batch it shares: it equals
 * `generate(model, [prompt], { doSample: true, topK: 5, seed, eosTokenId: null })` run alone.
 * Decoding skips special tokens like the context-template sampler; EasyEdit's decode keeps them,
 * which for LLaMA leaves "<s>" at the start of its texts.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { leftPad, topKIndices } from '../../models/generate.js';
import type { CausalLM, KVCache } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { textNgramEntropy } from '../metrics/ngram-entropy.js';
import { DEFAULT_EVAL_BATCH, lengthOrder, padIdOf } from './forward.js';

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

/** Top-k sampling from one row of logits, exactly as `generate` picks (temperature 1). */
function sampleTopKRow(logits: Float32Array, k: number, rng: T.Rng): number {
  const idx = topKIndices(logits, k);
  const maxL = logits[idx[0]!]!;
  const probs = idx.map((i) => Math.exp(logits[i]! - maxL));
  let r = rng.next() * probs.reduce((s, p) => s + p, 0);
  for (let i = 0; i < idx.length; i++) {
    r -= probs[i]!;
    if (r <= 0) return idx[i]!;
  }
  return idx[idx.length - 1]!;
}

/**
 * New tokens for each prompt: top-k samples until prompt + new tokens = maxLen (none when the
 * prompt is already that long).
 */
export function sampleTopK(model: CausalLM, prompts: readonly (readonly number[])[], opts: FluencyOptions): number[][] {
  const maxLen = opts.maxLen ?? 100;
  const k = opts.topK ?? 5;
  if (opts.seeds.length !== prompts.length) throw new Error(`sampleTopK: ${opts.seeds.length} seeds for ${prompts.length} prompts`);
  const out: number[][] = prompts.map(() => []);
  const order = lengthOrder(prompts);
  const bs = opts.batchSize ?? DEFAULT_EVAL_BATCH;
  for (let s = 0; s < order.length; s += bs) {
    const batch = order.slice(s, s + bs);
    const want = batch.map((i) => Math.max(0, maxLen - prompts[i]!.length));
    const steps = Math.max(...want);
    if (steps === 0) continue;
    const rngs = batch.map((i) => new T.Rng(opts.seeds[i]!));
    sampleBatch(model, batch.map((i) => prompts[i]!), steps, (step, b, logits) => {
      if (step >= want[b]!) return null;
      const t = sampleTopKRow(logits, k, rngs[b]!);
      out[batch[b]!]!.push(t);
      return t;
    });
  }
  return out;
}

/**
 * Decode steps over one left-padded batch with a KV cache; `pick` returns row b's next token
 * (null once the row is done; it then receives the pad id, which is never read back).
 */
function sampleBatch(model: CausalLM, rows: readonly (readonly number[])[], steps: number, pick: (step: number, b: number, logits: Float32Array) => number | null): void {
  const pad = padIdOf(model);
  const V = model.config.vocabSize;
  const B = rows.length;
  const { ids, mask } = leftPad(rows, pad); // [B, L]
  let cache: KVCache | null = null;
  let input = ids;
  let maskNow = mask;
  try {
    T.noGrad(() => {
      for (let step = 0; step < steps; step++) {
        const res = model.forward({ ids: input, attentionMask: maskNow, ...(cache ? { cache } : { useCache: true, cacheCapacity: ids.shape[1]! + steps }), logits: 'last' });
        disposeCache(cache);
        cache = res.cache;
        res.hidden?.dispose();
        const logits = T.cast(res.logits!, 'float32'); // [B, 1, V]
        res.logits!.dispose();
        const flat = logits.storage as Float32Array;
        const next = rows.map((_, b) => pick(step, b, flat.subarray(b * V, (b + 1) * V)) ?? pad);
        logits.dispose();
        if (input !== ids) input.dispose();
        input = T.tensor(Int32Array.from(next), [B, 1], 'int32');
        const grown = appendOnes(maskNow);
        if (maskNow !== mask) maskNow.dispose();
        maskNow = grown;
      }
    });
  } finally {
    disposeCache(cache);
    if (input !== ids) input.dispose();
    if (maskNow !== mask) maskNow.dispose();
    ids.dispose();
    mask.dispose();
  }
}

/** mask [B, L] → [B, L + 1] with a column of ones. */
function appendOnes(mask: Tensor): Tensor {
  const [B, L] = mask.shape as [number, number];
  const src = mask.storage as Uint8Array;
  const m = new Uint8Array(B * (L + 1));
  for (let b = 0; b < B; b++) {
    m.set(src.subarray(mask.offset + b * L, mask.offset + (b + 1) * L), b * (L + 1));
    m[b * (L + 1) + L] = 1;
  }
  return T.tensor(m, [B, L + 1], 'uint8');
}

function disposeCache(cache: KVCache | null): void {
  cache?.layers.forEach((l) => {
    l.k.dispose();
    l.v.dispose();
  });
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
export function fluency(model: CausalLM, tok: Tokenizer, prompts: readonly string[], opts: FluencyOptions): { texts: string[]; entropies: number[] } {
  const ids = prompts.map((p) => tok.encode(p));
  const gen = sampleTopK(model, ids, opts);
  const texts = ids.map((p, i) => cleanGeneration(tok.decode([...p, ...gen[i]!], { skipSpecialTokens: true }), tok));
  return { texts, entropies: texts.map((t) => textNgramEntropy(t)) };
}
