/**
 * Dense linear algebra on square/rectangular matrices in float64 or float32 (LAPACK in the
 * native backend when OpenBLAS ships it). No gradients: editing methods solve closed forms.
 */
import type { FloatArray } from '../backend.js';
import { Tensor, fmtShape } from '../tensor.js';
import { be, computeDtype, empty, f, withContiguous, withContiguousAll } from './util.js';

function square(op: string, a: Tensor): number {
  computeDtype(op, a);
  if (a.rank !== 2 || a.shape[0] !== a.shape[1]) throw new Error(`${op}: need a square matrix, got ${fmtShape(a.shape)}`);
  return a.shape[0]!;
}

function rhs(op: string, a: Tensor, b: Tensor, n: number): number {
  if (b.dtype !== a.dtype) throw new Error(`${op}: A is ${a.dtype} but B is ${b.dtype}`);
  if (b.rank < 1 || b.rank > 2 || b.shape[0] !== n)
    throw new Error(`${op}: B must be [${n}] or [${n}, k], got ${fmtShape(b.shape)}`);
  return b.rank === 1 ? 1 : b.shape[1]!;
}

function wrap(data: FloatArray, dtype: Tensor['dtype'], shape: number[]): Tensor {
  return Tensor.fromStorage(data, dtype, shape);
}

/** Lower-triangular L with L Lᵀ = A for symmetric positive-definite A. */
export function cholesky(a: Tensor): Tensor {
  const n = square('cholesky', a);
  const out = empty([n, n], a.dtype);
  withContiguous(a, (ac) => be().cholesky(f(ac), n, f(out)));
  return out;
}

/** X with A X = B for symmetric positive-definite A (Cholesky). B [n] or [n, k]. */
export function solveSPD(a: Tensor, b: Tensor): Tensor {
  const n = square('solveSPD', a);
  const k = rhs('solveSPD', a, b, n);
  const out = empty(b.shape, a.dtype);
  withContiguousAll([a, b], ([ac, bc]) => be().solveSPD(f(ac!), f(bc!), n, k, f(out)));
  return out;
}

/** X with A X = B for a general square A (LU with partial pivoting). */
export function solve(a: Tensor, b: Tensor): Tensor {
  const n = square('solve', a);
  const k = rhs('solve', a, b, n);
  const out = empty(b.shape, a.dtype);
  withContiguousAll([a, b], ([ac, bc]) => be().solve(f(ac!), f(bc!), n, k, f(out)));
  return out;
}

/** A⁻¹. Prefer solve/solveSPD where possible. */
export function inverse(a: Tensor): Tensor {
  const n = square('inverse', a);
  const out = empty([n, n], a.dtype);
  withContiguous(a, (ac) => be().inverse(f(ac), n, f(out)));
  return out;
}

/** Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix. */
export function eigh(a: Tensor): { values: Tensor; vectors: Tensor } {
  const n = square('eigh', a);
  const r = withContiguous(a, (ac) => be().eigh(f(ac), n));
  return { values: wrap(r.values, a.dtype, [n]), vectors: wrap(r.vectors, a.dtype, [n, n]) };
}

/** Thin SVD: A [m, n] = U diag(S) Vᵀ with U [m, k], S [k] descending, Vᵀ [k, n], k = min(m, n). */
export function svd(a: Tensor): { u: Tensor; s: Tensor; vt: Tensor } {
  computeDtype('svd', a);
  if (a.rank !== 2) throw new Error(`svd: need a matrix, got ${fmtShape(a.shape)}`);
  const [m, n] = a.shape as [number, number];
  const k = Math.min(m, n);
  const r = withContiguous(a, (ac) => be().svd(f(ac), m, n));
  return { u: wrap(r.u, a.dtype, [m, k]), s: wrap(r.s, a.dtype, [k]), vt: wrap(r.vt, a.dtype, [k, n]) };
}
