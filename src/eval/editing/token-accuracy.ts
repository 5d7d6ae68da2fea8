/**
 * EasyEdit's teacher-forced token accuracy (`test_prediction_acc`; docs/evaluation.md, "Reliability,
 * generalization, portability"), the value behind reliability, generalization and portability, plus an exact-match variant that
 * generates the answer greedily.
 *
 * For a (prompt P, answer A) pair: ids = encode(P + " " + A) with the tokenizer's own special
 * tokens (BOS for LLaMA-style tokenizers, none for GPT-2), m = len(encode(P)), n = len(ids);
 * acc = mean over j in [m, n) of [argmax logits_{j−1} = ids_j]; NaN when n ≤ m. When BPE merges
 * across the prompt/answer boundary, ids[m:] are not exactly A's tokens: reproduced as written.
 */
import { scoreContinuations } from '../../models/score.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { generateBatched } from '../generation.js';

/** Rows per forward pass when the caller does not say. */
export const DEFAULT_EVAL_BATCH = 16;

/** A prompt and the answer scored after it. */
export interface PromptTarget {
  prompt: string;
  answer: string;
}

/** A tokenised pair: the full sequence and the prompt's length m (BOS included). */
export interface EncodedPair {
  ids: number[];
  m: number;
}

/** Encode a pair as EasyEdit does: s = P + " " + A, m = len(encode(P)). */
export function encodePair(tok: Tokenizer, p: PromptTarget): EncodedPair {
  return { ids: tok.encode(`${p.prompt} ${p.answer}`), m: tok.encode(p.prompt).length };
}

/**
 * The argmax predictions at positions m−1 … n−2 of every pair (those that predict tokens
 * m … n−1), from batched forward passes; empty when n ≤ m.
 */
export function answerPredictions(model: CausalLM, pairs: readonly EncodedPair[], opts: { batchSize?: number } = {}): number[][] {
  const out: number[][] = pairs.map(() => []);
  const live = pairs.map((p, i) => (p.ids.length > p.m ? i : -1)).filter((i) => i >= 0);
  const scored = scoreContinuations(
    model,
    live.map((i) => ({ prompt: pairs[i]!.ids.slice(0, pairs[i]!.m), continuation: pairs[i]!.ids.slice(pairs[i]!.m) })),
    { batchSize: opts.batchSize ?? DEFAULT_EVAL_BATCH },
  );
  live.forEach((i, k) => (out[i] = scored[k]!.greedyTokens));
  return out;
}

/** mean_j [preds_j = ids_{m+j}]; NaN when there is nothing to score. */
export function accuracyOf(pair: EncodedPair, preds: readonly number[]): number {
  const n = pair.ids.length - pair.m;
  if (n <= 0) return NaN;
  if (preds.length !== n) throw new Error(`accuracyOf: ${preds.length} predictions for ${n} answer tokens`);
  let hit = 0;
  preds.forEach((p, j) => {
    if (p === pair.ids[pair.m + j]) hit++;
  });
  return hit / n;
}

/**
 * Teacher-forced token accuracy of each pair (NaN for a pair whose answer adds no token).
 * @example tokenAccuracy(model, tok, [{ prompt: 'The capital of France is', answer: 'Paris' }]) // [1] if the model says Paris
 */
export function tokenAccuracy(
  model: CausalLM,
  tok: Tokenizer,
  items: readonly PromptTarget[],
  opts: { batchSize?: number } = {},
): number[] {
  const pairs = items.map((p) => encodePair(tok, p));
  const preds = answerPredictions(model, pairs, opts);
  return pairs.map((p, i) => accuracyOf(p, preds[i]!));
}

/**
 * Exact match by generation: from encode(P), generate n − m tokens greedily (no EOS stop) and
 * compare them with ids[m:] of the encoding {@link tokenAccuracy} scores. 1 or 0 per pair; NaN
 * when the answer adds no token. Batched with left padding.
 */
export function generationExactMatch(
  model: CausalLM,
  tok: Tokenizer,
  items: readonly PromptTarget[],
  opts: { batchSize?: number } = {},
): number[] {
  const pairs = items.map((p) => encodePair(tok, p));
  const out = pairs.map(() => NaN);
  const live = pairs.map((p, i) => (p.ids.length > p.m ? i : -1)).filter((i) => i >= 0);
  const want = live.map((i) => pairs[i]!.ids.length - pairs[i]!.m);
  // greedy and causal: generating the longest answer's length and cutting gives each row's tokens
  const gens = generateBatched(
    model,
    live.map((i) => tok.encode(items[i]!.prompt)),
    { maxNewTokens: Math.max(1, ...want), batchSize: opts.batchSize ?? DEFAULT_EVAL_BATCH, eosTokenId: null },
  );
  live.forEach((i, k) => {
    const { ids, m } = pairs[i]!;
    const gen = gens[k]!.generatedIds.slice(0, want[k]);
    out[i] = gen.length === ids.length - m && gen.every((t, j) => t === ids[m + j]) ? 1 : 0;
  });
  return out;
}
