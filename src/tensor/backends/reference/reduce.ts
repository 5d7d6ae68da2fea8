/**
 * Reductions over the middle axis of x viewed as [outer, size, inner]: sum/max/min and argmax.
 * Sums accumulate in doubles; max/min propagate NaN like PyTorch.
 */
import type { FloatArray, ReduceOp } from '../../backend.js';
import { requireLength } from './layout.js';

export function reduce(op: ReduceOp, x: FloatArray, out: FloatArray, outer: number, size: number, inner: number): void {
  if (size < 1) throw new Error(`reduce: size must be >= 1, got ${size}`);
  requireLength('reduce', 'x', x, outer * size * inner);
  requireLength('reduce', 'out', out, outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = x[o * size * inner + i]!;
      for (let s = 1; s < size; s++) {
        const v = x[(o * size + s) * inner + i]!;
        if (op === 'sum') acc += v;
        else if (op === 'max')
          acc = Math.max(acc, v); // Math.max/min return NaN if any input is NaN
        else acc = Math.min(acc, v);
      }
      out[o * inner + i] = acc;
    }
  }
}

export function argmax(x: FloatArray, out: Int32Array, outer: number, size: number, inner: number): void {
  if (size < 1) throw new Error(`argmax: size must be >= 1, got ${size}`);
  requireLength('argmax', 'x', x, outer * size * inner);
  requireLength('argmax', 'out', out, outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = x[o * size * inner + i]!;
      let bestIndex = 0;
      // The first maximum wins; the first NaN beats everything (torch.argmax treats NaN as maximal).
      for (let s = 1; s < size && !Number.isNaN(best); s++) {
        const v = x[(o * size + s) * inner + i]!;
        if (v > best || Number.isNaN(v)) {
          best = v;
          bestIndex = s;
        }
      }
      out[o * inner + i] = bestIndex;
    }
  }
}
