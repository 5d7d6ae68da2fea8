/**
 * Row/element indexing: indexSelect (embedding lookup, f16/bf16 tables allowed) and its
 * backward indexAdd, gather and its backward scatterAdd. Every index is checked before writing.
 */
import type { FloatArray, WeightArray, WeightDType } from '../../backend.js';
import { checkWeight, readWeight } from './gemm.js';
import { requireLength } from './layout.js';

/** Throws `${kernel}: index v at position i out of range [0, limit)` for the first bad index. */
function checkIndices(kernel: string, idx: Int32Array, count: number, limit: (i: number) => number): void {
  for (let i = 0; i < count; i++) {
    const v = idx[i]!;
    const n = limit(i);
    if (v < 0 || v >= n) throw new Error(`${kernel}: index ${v} at position ${i} out of range [0, ${n})`);
  }
}

export function indexSelect(
  table: WeightArray,
  tableDtype: WeightDType,
  rows: number,
  cols: number,
  ids: Int32Array,
  out: FloatArray,
): void {
  checkWeight('indexSelect', table, tableDtype);
  requireLength('indexSelect', 'table', table, rows * cols);
  requireLength('indexSelect', 'out', out, ids.length * cols);
  checkIndices('indexSelect', ids, ids.length, () => rows);
  for (let i = 0; i < ids.length; i++) {
    const row = ids[i]!;
    for (let j = 0; j < cols; j++) out[i * cols + j] = readWeight(table, tableDtype, row * cols + j);
  }
}

export function indexAdd(src: FloatArray, ids: Int32Array, g: FloatArray, rows: number, cols: number): void {
  requireLength('indexAdd', 'src', src, ids.length * cols);
  requireLength('indexAdd', 'g', g, rows * cols);
  checkIndices('indexAdd', ids, ids.length, () => rows);
  // Sum repeated ids in doubles, then store each touched row once (one rounding for float32).
  const sums = new Map<number, Float64Array>();
  for (let i = 0; i < ids.length; i++) {
    const row = ids[i]!;
    let acc = sums.get(row);
    if (!acc) {
      acc = Float64Array.from(g.subarray(row * cols, (row + 1) * cols));
      sums.set(row, acc);
    }
    for (let j = 0; j < cols; j++) acc[j] = acc[j]! + src[i * cols + j]!;
  }
  for (const [row, acc] of sums) g.set(acc, row * cols);
}

export function gather(x: FloatArray, idx: Int32Array, out: FloatArray, rows: number, cols: number, k: number): void {
  requireLength('gather', 'x', x, rows * cols);
  requireLength('gather', 'idx', idx, rows * k);
  requireLength('gather', 'out', out, rows * k);
  checkIndices('gather', idx, rows * k, () => cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) out[r * k + j] = x[r * cols + idx[r * k + j]!]!;
  }
}

export function scatterAdd(src: FloatArray, idx: Int32Array, g: FloatArray, rows: number, cols: number, k: number): void {
  requireLength('scatterAdd', 'src', src, rows * k);
  requireLength('scatterAdd', 'idx', idx, rows * k);
  requireLength('scatterAdd', 'g', g, rows * cols);
  checkIndices('scatterAdd', idx, rows * k, () => cols);
  // Each row is summed in doubles and stored once (one rounding for float32).
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    acc.set(g.subarray(r * cols, (r + 1) * cols));
    for (let j = 0; j < k; j++) {
      const c = idx[r * k + j]!;
      acc[c] = acc[c]! + src[r * k + j]!;
    }
    g.set(acc, r * cols);
  }
}
