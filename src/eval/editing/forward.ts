/**
 * Batched teacher-forced forward passes for the editing metrics: token rows of any lengths are
 * grouped by length, left-padded with an attention mask (positions derived from the mask, as HF
 * does), and each row's logits are handed back at positions of the unpadded row, so callers
 * never see the padding. Shapes: B rows per batch, L longest row, V vocabulary.
 */
import * as T from '../../tensor/index.js';
import { leftPad } from '../../models/generate.js';
import type { CausalLM } from '../../models/types.js';

/** Rows per forward pass when the caller does not say. */
export const DEFAULT_EVAL_BATCH = 16;

/** The id used for left padding: the config's pad, else EOS, else 0 (masked either way). */
export function padIdOf(model: CausalLM): number {
  return model.config.padTokenId ?? model.config.eosTokenId ?? 0;
}

/** Logits [V] at a position of the unpadded row (valid only inside the visit callback). */
export type LogitsAt = (pos: number) => Float32Array;

/** Row order for batching: longest first (less padding), ties by index. */
export function lengthOrder(rows: readonly (readonly number[])[]): number[] {
  return [...rows.keys()].sort((a, b) => rows[b]!.length - rows[a]!.length || a - b);
}

/**
 * Run every row through the model in left-padded batches of `batchSize` and call
 * `visit(index, logitsAt)` once per row (in batch order, not index order).
 * @example forEachRowLogits(model, [ids], 8, (i, at) => console.log(argmax(at(ids.length - 1))));
 */
export function forEachRowLogits(
  model: CausalLM,
  rows: readonly (readonly number[])[],
  batchSize: number,
  visit: (index: number, logitsAt: LogitsAt) => void,
): void {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`evaluation batch size must be a positive integer, got ${batchSize}`);
  rows.forEach((r, i) => {
    if (r.length === 0) throw new Error(`row ${i} has no tokens`);
  });
  const order = lengthOrder(rows);
  const pad = padIdOf(model);
  const V = model.config.vocabSize;
  for (let s = 0; s < order.length; s += batchSize) {
    const batch = order.slice(s, s + batchSize);
    T.noGrad(() =>
      T.tidy(() => {
        const { ids, mask } = leftPad(
          batch.map((i) => rows[i]!),
          pad,
        ); // [B, L]
        const L = ids.shape[1]!;
        const { logits } = model.forward({ ids, attentionMask: mask }); // [B, L, V]
        const data = T.cast(logits!, 'float32').storage as Float32Array; // contiguous copy
        batch.forEach((i, b) => {
          const n = rows[i]!.length;
          visit(i, (pos) => {
            if (!Number.isInteger(pos) || pos < 0 || pos >= n) throw new Error(`position ${pos} outside row ${i} of length ${n}`);
            const at = (b * L + L - n + pos) * V;
            return data.subarray(at, at + V);
          });
        });
      }),
    );
  }
}

/** Index of the largest logit, the first one on ties (torch.argmax's CPU behaviour). */
export function argmax(row: Float32Array): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
  return best;
}

/** log softmax(row)[id], computed in float64. */
export function logProbOf(row: Float32Array, id: number): number {
  let max = -Infinity;
  for (let v = 0; v < row.length; v++) if (row[v]! > max) max = row[v]!;
  let sum = 0;
  for (let v = 0; v < row.length; v++) sum += Math.exp(row[v]! - max);
  return row[id]! - max - Math.log(sum);
}
