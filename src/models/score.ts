/**
 * Teacher-forced scoring: per-token log-probabilities of a continuation given a prompt,
 * batched with left padding. Editing metrics (reliability, generalisation, locality) and
 * multiple-choice tasks are built on this.
 */
import * as T from '../tensor/index.js';
import { leftPad } from './generate.js';
import { lengthGroups } from './length-groups.js';
import type { CausalLM } from './types.js';

export interface ScoreRequest {
  prompt: readonly number[];
  continuation: readonly number[];
}

export interface ScoreResult {
  /** log p(continuation[i] | prompt, continuation[:i]) */
  tokenLogprobs: number[];
  /** sum of tokenLogprobs */
  logprob: number;
  /** argmax prediction at each continuation position */
  greedyTokens: number[];
  /** every continuation token is the argmax (the EasyEdit "accuracy" notion) */
  greedyMatch: boolean;
}

/** Index of the largest logit, the first one on ties (torch.argmax / HF greedy decoding). */
export function argmax(row: Float32Array): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
  return best;
}

/** log softmax(row)[id], in float64. */
export function logProbOf(row: Float32Array, id: number): number {
  let max = -Infinity;
  for (let v = 0; v < row.length; v++) if (row[v]! > max) max = row[v]!;
  let sum = 0;
  for (let v = 0; v < row.length; v++) sum += Math.exp(row[v]! - max);
  return row[id]! - max - Math.log(sum);
}

/**
 * Score continuations, at most `batchSize` requests per forward pass, in batches of similar
 * length (least padding); results come back in request order. Log-probabilities are computed in
 * float64 from the logits, and greedy tokens are the argmax of the logits themselves.
 * @example const [r] = scoreContinuations(model, [{ prompt: ids('Paris is in'), continuation: ids(' France') }]);
 */
export function scoreContinuations(
  model: CausalLM,
  requests: readonly ScoreRequest[],
  opts: { batchSize?: number } = {},
): ScoreResult[] {
  const bs = opts.batchSize ?? 8;
  if (!Number.isInteger(bs) || bs < 1) throw new Error(`scoreContinuations: batch size must be a positive integer, got ${bs}`);
  const pad = model.config.padTokenId ?? model.config.eosTokenId ?? 0;
  requests.forEach((r, i) => {
    if (r.prompt.length === 0) throw new Error(`scoreContinuations: request ${i} has an empty prompt`);
    if (r.continuation.length === 0) throw new Error(`scoreContinuations: request ${i} has an empty continuation`);
  });
  const rows = requests.map((r) => [...r.prompt, ...r.continuation]);
  const results = new Array<ScoreResult>(requests.length);
  const V = model.config.vocabSize;
  for (const group of lengthGroups(
    rows.map((r) => r.length),
    undefined,
    bs,
  )) {
    T.noGrad(() =>
      T.tidy(() => {
        const { ids, mask } = leftPad(
          group.map((i) => rows[i]!),
          pad,
        );
        const L = ids.shape[1]!;
        const { logits } = model.forward({ ids, attentionMask: mask }); // [B, L, V]
        const data = T.cast(logits!, 'float32').storage as Float32Array;
        group.forEach((i, b) => {
          const r = requests[i]!;
          const n = r.continuation.length;
          const tokenLogprobs: number[] = [];
          const greedyTokens: number[] = [];
          for (let j = 0; j < n; j++) {
            // logits at position t predict token t + 1
            const at = (b * L + L - n - 1 + j) * V;
            const row = data.subarray(at, at + V);
            tokenLogprobs.push(logProbOf(row, r.continuation[j]!));
            greedyTokens.push(argmax(row));
          }
          results[i] = {
            tokenLogprobs,
            logprob: tokenLogprobs.reduce((a, x) => a + x, 0),
            greedyTokens,
            greedyMatch: greedyTokens.every((t, j) => t === r.continuation[j]),
          };
        });
      }),
    );
  }
  return results;
}
