/**
 * Batched general matrix product as a naive triple loop, summing in doubles.
 * B may be a float16/bfloat16 weight (Uint16Array bit patterns), decoded per element.
 */
import type { GemmParams, WeightArray, WeightDType } from '../../backend.js';
import { bf16ToNumber, f16ToNumber } from '../../dtype.js';
import { requireLength } from './layout.js';

/** Element i of a weight array as a number (f16/bf16 decoded). */
export function readWeight(w: WeightArray, dtype: WeightDType, i: number): number {
  if (dtype === 'float16') return f16ToNumber(w[i]!);
  if (dtype === 'bfloat16') return bf16ToNumber(w[i]!);
  return w[i]!;
}

/** Checks that a weight array's runtime type matches its declared dtype. */
export function checkWeight(kernel: string, w: WeightArray, dtype: WeightDType): void {
  const ok =
    dtype === 'float32' ? w instanceof Float32Array : dtype === 'float64' ? w instanceof Float64Array : w instanceof Uint16Array;
  if (!ok) throw new Error(`${kernel}: weight array ${w.constructor.name} does not hold ${dtype}`);
}

/** Index one past the last element a strided batch of rows x cols matrices reads. */
function extent(offset: number, batch: number, batchStride: number, rows: number, cols: number, ld: number): number {
  return offset + (batch - 1) * batchStride + (rows - 1) * ld + cols;
}

export function gemm(p: GemmParams): void {
  const { transA, transB, M, N, K, alpha, beta, batch, a, b, c } = p;
  checkWeight('gemm', b, p.bDtype);
  if (batch === 0 || M === 0 || N === 0) return;
  requireLength('gemm', 'c', c, extent(p.cOffset, batch, p.cBatchStride, M, N, p.ldc));
  // BLAS convention: alpha = 0 (or K = 0) means A and B are not read at all.
  const readAB = alpha !== 0 && K > 0;
  if (readAB) {
    requireLength(
      'gemm',
      'a',
      a,
      transA ? extent(p.aOffset, batch, p.aBatchStride, K, M, p.lda) : extent(p.aOffset, batch, p.aBatchStride, M, K, p.lda),
    );
    requireLength(
      'gemm',
      'b',
      b,
      transB ? extent(p.bOffset, batch, p.bBatchStride, N, K, p.ldb) : extent(p.bOffset, batch, p.bBatchStride, K, N, p.ldb),
    );
  }
  for (let bi = 0; bi < batch; bi++) {
    const aBase = p.aOffset + bi * p.aBatchStride;
    const bBase = p.bOffset + bi * p.bBatchStride;
    const cBase = p.cOffset + bi * p.cBatchStride;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let sum = 0;
        if (readAB) {
          for (let k = 0; k < K; k++) {
            const aik = a[transA ? aBase + k * p.lda + i : aBase + i * p.lda + k]!;
            const bkj = readWeight(b, p.bDtype, transB ? bBase + j * p.ldb + k : bBase + k * p.ldb + j);
            sum += aik * bkj;
          }
        }
        const ci = cBase + i * p.ldc + j;
        // beta = 0: C is write-only, its old contents (even NaN) are ignored, as in BLAS.
        c[ci] = beta === 0 ? alpha * sum : alpha * sum + beta * c[ci]!;
      }
    }
  }
}
