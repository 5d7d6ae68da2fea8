/**
 * Text generation: greedy or sampled (temperature, top-k, top-p with a seeded RNG), batched
 * with left padding and a KV cache, stopping at EOS, stop strings or max_new_tokens. Follows
 * HF `generate`: finished rows keep receiving the pad token, positions come from the mask.
 */
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import type { CausalLM, KVCache } from './types.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Sample instead of greedy argmax. */
  doSample?: boolean;
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set with cumulative probability >= p (1 = off). */
  topP?: number;
  seed?: number;
  /** One seed per row instead of `seed`: each row samples from its own RNG, so its tokens do not depend on the batch it shares. */
  seeds?: readonly number[];
  /** Per-row caps on new tokens (each at most `maxNewTokens`). */
  maxNewTokensPerRow?: readonly number[];
  /** Stop a row when it emits one of these (default: the config's eos; null = never). */
  eosTokenId?: number | readonly number[] | null;
  /** Pad id for left padding and finished rows (default: config pad, else eos, else 0). */
  padTokenId?: number;
  /** Stop a row once its decoded continuation contains one of these (needs `decode`). */
  stopStrings?: readonly string[];
  decode?: (ids: number[]) => string;
  /** Called after every step with the new token of each row (null for finished rows). */
  onStep?: (step: number, tokens: (number | null)[]) => void;
}

export interface GenerateResult {
  /** new tokens per row, without padding; ends with the EOS token when one stopped it */
  tokens: number[][];
  /** why each row stopped */
  finishReason: ('eos' | 'stop_string' | 'length')[];
}

/** Left-pad token rows into ids [B, L] and mask [B, L]. */
export function leftPad(rows: readonly (readonly number[])[], pad: number): { ids: Tensor; mask: Tensor } {
  if (rows.length === 0) throw new Error('leftPad: no rows');
  const L = Math.max(...rows.map((r) => r.length));
  if (L === 0) throw new Error('leftPad: every row is empty');
  const ids = new Int32Array(rows.length * L).fill(pad);
  const mask = new Uint8Array(rows.length * L);
  rows.forEach((r, b) => {
    if (r.length === 0) throw new Error(`leftPad: row ${b} is empty`);
    r.forEach((t, j) => {
      ids[b * L + L - r.length + j] = t;
      mask[b * L + L - r.length + j] = 1;
    });
  });
  return { ids: T.tensor(ids, [rows.length, L], 'int32'), mask: T.tensor(mask, [rows.length, L], 'uint8') };
}

/**
 * Indices of the k largest logits, largest first (ties: lower index first, as a stable sort
 * gives), in one pass: a vocabulary-wide sort per sampled token cost ~15 ms.
 */
export function topKIndices(logits: Float32Array | Float64Array, k: number): number[] {
  const idx: number[] = [];
  const better = (a: number, b: number): boolean => logits[a]! > logits[b]! || (logits[a] === logits[b] && a < b);
  for (let i = 0; i < logits.length; i++) {
    if (idx.length === k && !better(i, idx[k - 1]!)) continue;
    let j = idx.length < k ? idx.length : k - 1;
    if (idx.length < k) idx.push(i);
    while (j > 0 && better(i, idx[j - 1]!)) {
      idx[j] = idx[j - 1]!;
      j--;
    }
    idx[j] = i;
  }
  return idx;
}

/** Pick the next token from one row of logits. */
function pick(logits: Float32Array | Float64Array, opts: GenerateOptions, rng: T.Rng): number {
  if (!opts.doSample) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const temp = opts.temperature ?? 1;
  if (!(temp > 0)) throw new Error(`generate: temperature must be > 0, got ${temp}`);
  const topK = opts.topK ?? 0;
  let idx =
    topK > 0 && topK < logits.length
      ? topKIndices(logits, topK)
      : Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const maxL = logits[idx[0]!]! / temp;
  let probs = idx.map((i) => Math.exp(logits[i]! / temp - maxL));
  let total = probs.reduce((s, p) => s + p, 0);
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    let cum = 0;
    let keepN = 0;
    while (keepN < probs.length && cum < topP * total) cum += probs[keepN++]!;
    idx = idx.slice(0, Math.max(1, keepN));
    probs = probs.slice(0, idx.length);
    total = probs.reduce((s, p) => s + p, 0);
  }
  let r = rng.next() * total;
  for (let i = 0; i < idx.length; i++) {
    r -= probs[i]!;
    if (r <= 0) return idx[i]!;
  }
  return idx[idx.length - 1]!;
}

/**
 * Generate continuations for token-id prompts.
 * @example const { tokens } = generate(model, [tok.encode('Once upon a time')], { maxNewTokens: 20 });
 */
export function generate(model: CausalLM, prompts: readonly (readonly number[])[], opts: GenerateOptions): GenerateResult {
  const cfg = model.config;
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0)
    throw new Error(`generate: maxNewTokens must be an integer >= 0`);
  if (opts.stopStrings?.length && !opts.decode) throw new Error('generate: stopStrings need a decode function');
  const eosList =
    opts.eosTokenId === null
      ? []
      : [opts.eosTokenId ?? cfg.eosTokenId ?? []].flat().filter((x): x is number => typeof x === 'number');
  const pad = opts.padTokenId ?? cfg.padTokenId ?? eosList[0] ?? 0;
  const B = prompts.length;
  if (opts.seeds && opts.seeds.length !== B) throw new Error(`generate: ${opts.seeds.length} seeds for ${B} prompts`);
  if (opts.maxNewTokensPerRow && opts.maxNewTokensPerRow.length !== B)
    throw new Error(`generate: ${opts.maxNewTokensPerRow.length} per-row limits for ${B} prompts`);
  const shared = new T.Rng(opts.seed ?? 0);
  const rngs = prompts.map((_, b) => (opts.seeds ? new T.Rng(opts.seeds[b]!) : shared));
  const limit = prompts.map((_, b) => Math.min(opts.maxNewTokens, opts.maxNewTokensPerRow?.[b] ?? opts.maxNewTokens));
  const out: number[][] = prompts.map(() => []);
  const reason: GenerateResult['finishReason'] = prompts.map(() => 'length');
  const done = limit.map((n) => n <= 0);
  const { ids, mask } = leftPad(prompts, pad);
  let cache: KVCache | null = null;
  let maskNow = mask;
  let step = 0;
  try {
    T.noGrad(() => {
      let input = ids;
      while (step < opts.maxNewTokens && done.some((d) => !d)) {
        const res = model.forward({
          ids: input,
          attentionMask: maskNow,
          ...(cache ? { cache } : { useCache: true, cacheCapacity: ids.shape[1]! + opts.maxNewTokens }),
          logits: 'last',
        });
        disposeCache(cache);
        cache = res.cache;
        res.hidden?.dispose();
        const logits = res.logits!; // [B, 1, V]
        const data = T.cast(logits, 'float32');
        const V = cfg.vocabSize;
        const flat = data.storage as Float32Array;
        const next: (number | null)[] = [];
        for (let b = 0; b < B; b++) {
          if (done[b]) {
            next.push(null);
            continue;
          }
          const tok = pick(flat.subarray(b * V, (b + 1) * V), opts, rngs[b]!);
          out[b]!.push(tok);
          next.push(tok);
          if (out[b]!.length >= limit[b]!) done[b] = true;
          if (eosList.includes(tok)) {
            done[b] = true;
            reason[b] = 'eos';
          } else if (opts.stopStrings?.length) {
            const text = opts.decode!(out[b]!);
            if (opts.stopStrings.some((s) => text.includes(s))) {
              done[b] = true;
              reason[b] = 'stop_string';
            }
          }
        }
        logits.dispose();
        data.dispose();
        step++;
        opts.onStep?.(step, next);
        if (input !== ids) input.dispose();
        input = T.tensor(
          next.map((t) => t ?? pad),
          [B, 1],
          'int32',
        );
        const m2 = appendMaskColumn(maskNow);
        if (maskNow !== mask) maskNow.dispose();
        maskNow = m2;
      }
      if (input !== ids) input.dispose();
    });
  } finally {
    disposeCache(cache);
    ids.dispose();
    mask.dispose();
    if (maskNow !== mask) maskNow.dispose();
  }
  return { tokens: out, finishReason: reason };
}

/** mask [B, L] → [B, L + 1] with a column of ones (the token just generated). */
function appendMaskColumn(mask: Tensor): Tensor {
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
