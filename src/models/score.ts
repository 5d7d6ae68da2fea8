/**
 * Teacher-forced scoring: per-token log-probabilities of a continuation given a prompt,
 * batched with left padding. Editing metrics (reliability, generalisation, locality) and
 * multiple-choice tasks are built on this.
 */
import * as T from '../tensor/index.js';
import { leftPad } from './generate.js';
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

/**
 * Score continuations in batches of `batchSize` requests.
 * @example const [r] = scoreContinuations(model, [{ prompt: ids('Paris is in'), continuation: ids(' France') }]);
 */
export function scoreContinuations(model: CausalLM, requests: readonly ScoreRequest[], opts: { batchSize?: number } = {}): ScoreResult[] {
  const bs = opts.batchSize ?? 8;
  const pad = model.config.padTokenId ?? model.config.eosTokenId ?? 0;
  const results: ScoreResult[] = [];
  requests.forEach((r, i) => {
    if (r.prompt.length === 0) throw new Error(`scoreContinuations: request ${i} has an empty prompt`);
    if (r.continuation.length === 0) throw new Error(`scoreContinuations: request ${i} has an empty continuation`);
  });
  for (let s = 0; s < requests.length; s += bs) {
    const batch = requests.slice(s, s + bs);
    const rows = batch.map((r) => [...r.prompt, ...r.continuation]);
    T.noGrad(() =>
      T.tidy(() => {
        const { ids, mask } = leftPad(rows, pad);
        const L = ids.shape[1]!;
        const { logits } = model.forward({ ids, attentionMask: mask });
        const lp = T.logSoftmax(T.cast(logits!, 'float32')); // [B, L, V]
        const V = model.config.vocabSize;
        const data = lp.storage as Float32Array;
        batch.forEach((r, b) => {
          const n = r.continuation.length;
          const tokenLogprobs: number[] = [];
          const greedyTokens: number[] = [];
          for (let j = 0; j < n; j++) {
            // logits at position t predict token t + 1
            const pos = L - n - 1 + j;
            const row = data.subarray((b * L + pos) * V, (b * L + pos + 1) * V);
            tokenLogprobs.push(row[r.continuation[j]!]!);
            let best = 0;
            for (let v = 1; v < V; v++) if (row[v]! > row[best]!) best = v;
            greedyTokens.push(best);
          }
          results.push({
            tokenLogprobs,
            logprob: tokenLogprobs.reduce((a, x) => a + x, 0),
            greedyTokens,
            greedyMatch: greedyTokens.every((t, j) => t === r.continuation[j]),
          });
        });
      }),
    );
  }
  return results;
}
