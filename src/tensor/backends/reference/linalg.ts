/**
 * Dense linear algebra in doubles on row-major matrices: Cholesky, SPD and LU solves, inverse,
 * symmetric eigendecomposition (cyclic Jacobi) and thin SVD (one-sided Jacobi).
 */
import type { EighResult, FloatArray, SvdResult } from '../../backend.js';
import { requireLength } from './layout.js';

/** A new array of the same element type as `like`. */
function sameType(like: FloatArray, n: number): FloatArray {
  return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/** Lower Cholesky factor of the SPD matrix a (only its lower triangle is read), in doubles. */
function choleskyF64(kernel: string, a: FloatArray, n: number): Float64Array {
  requireLength(kernel, 'a', a, n * n);
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= L[j * n + k]! ** 2;
    if (!(d > 0)) {
      throw new Error(`${kernel}: matrix is not symmetric positive definite (pivot ${j} is ${d})`);
    }
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= L[i * n + k]! * L[j * n + k]!;
      L[i * n + j] = sum / ljj;
    }
  }
  return L;
}

export function cholesky(a: FloatArray, n: number, out: FloatArray): void {
  requireLength('cholesky', 'out', out, n * n);
  out.set(choleskyF64('cholesky', a, n)); // the upper triangle of L is zero
}

export function solveSPD(a: FloatArray, b: FloatArray, n: number, nrhs: number, out: FloatArray): void {
  const L = choleskyF64('solveSPD', a, n);
  requireLength('solveSPD', 'b', b, n * nrhs);
  requireLength('solveSPD', 'out', out, n * nrhs);
  const x = Float64Array.from(b.subarray(0, n * nrhs));
  for (let c = 0; c < nrhs; c++) {
    // L y = b (forward), then L^T x = y (backward), in place in column c of x.
    for (let i = 0; i < n; i++) {
      let sum = x[i * nrhs + c]!;
      for (let k = 0; k < i; k++) sum -= L[i * n + k]! * x[k * nrhs + c]!;
      x[i * nrhs + c] = sum / L[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let sum = x[i * nrhs + c]!;
      for (let k = i + 1; k < n; k++) sum -= L[k * n + i]! * x[k * nrhs + c]!;
      x[i * nrhs + c] = sum / L[i * n + i]!;
    }
  }
  out.set(x);
}

/**
 * Solves A X = B by LU with partial pivoting (doubles). Like LAPACK getrf, A is singular when
 * a pivot is exactly zero; a nearly singular A gives a (large) result rather than an error.
 */
function luSolveF64(kernel: string, a: FloatArray, b: Float64Array, n: number, nrhs: number): Float64Array {
  requireLength(kernel, 'a', a, n * n);
  const lu = Float64Array.from(a.subarray(0, n * n));
  const x = b;
  for (let col = 0; col < n; col++) {
    // Pivot: the row with the largest |entry| in this column (the first one on ties).
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(lu[r * n + col]!) > Math.abs(lu[piv * n + col]!)) piv = r;
    if (lu[piv * n + col] === 0) throw new Error(`${kernel}: matrix is singular (zero pivot in column ${col})`);
    if (piv !== col) {
      for (let j = 0; j < n; j++) [lu[col * n + j], lu[piv * n + j]] = [lu[piv * n + j]!, lu[col * n + j]!];
      for (let j = 0; j < nrhs; j++) [x[col * nrhs + j], x[piv * nrhs + j]] = [x[piv * nrhs + j]!, x[col * nrhs + j]!];
    }
    const pivot = lu[col * n + col]!;
    for (let r = col + 1; r < n; r++) {
      const f = lu[r * n + col]! / pivot;
      if (f === 0) continue;
      for (let j = col; j < n; j++) lu[r * n + j] = lu[r * n + j]! - f * lu[col * n + j]!;
      for (let j = 0; j < nrhs; j++) x[r * nrhs + j] = x[r * nrhs + j]! - f * x[col * nrhs + j]!;
    }
  }
  // Back substitution with the upper triangle.
  for (let i = n - 1; i >= 0; i--) {
    for (let j = 0; j < nrhs; j++) {
      let sum = x[i * nrhs + j]!;
      for (let k = i + 1; k < n; k++) sum -= lu[i * n + k]! * x[k * nrhs + j]!;
      x[i * nrhs + j] = sum / lu[i * n + i]!;
    }
  }
  return x;
}

export function solve(a: FloatArray, b: FloatArray, n: number, nrhs: number, out: FloatArray): void {
  requireLength('solve', 'b', b, n * nrhs);
  requireLength('solve', 'out', out, n * nrhs);
  out.set(luSolveF64('solve', a, Float64Array.from(b.subarray(0, n * nrhs)), n, nrhs));
}

export function inverse(a: FloatArray, n: number, out: FloatArray): void {
  requireLength('inverse', 'out', out, n * n);
  const identity = new Float64Array(n * n);
  for (let i = 0; i < n; i++) identity[i * n + i] = 1;
  out.set(luSolveF64('inverse', a, identity, n, n));
}

/** Rotation (c, s) that zeroes the off-diagonal of [[app, apq], [apq, aqq]]: t = s/c solves t^2 + 2 theta t - 1 = 0. */
function jacobiRotation(app: number, aqq: number, apq: number): [number, number] {
  const theta = (aqq - app) / (2 * apq);
  const t = Math.abs(theta) > 1e150 ? 1 / (2 * theta) : (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  return [c, t * c];
}

/**
 * Cyclic Jacobi: rotate away each off-diagonal pair in turn until none is left. An entry too small
 * to change either diagonal entry (Numerical Recipes' test) is set to zero, so sweeps terminate.
 */
export function eigh(a: FloatArray, n: number): EighResult {
  requireLength('eigh', 'a', a, n * n);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      A[i * n + j] = a[i * n + j]!; // only the lower triangle is read
      A[j * n + i] = a[i * n + j]!;
    }
  }
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (apq === 0) continue;
        const app = A[p * n + p]!;
        const aqq = A[q * n + q]!;
        const g = 100 * Math.abs(apq);
        if (Math.abs(app) + g === Math.abs(app) && Math.abs(aqq) + g === Math.abs(aqq)) {
          A[p * n + q] = 0;
          A[q * n + p] = 0;
          continue;
        }
        rotated = true;
        const [c, s] = jacobiRotation(app, aqq, apq);
        // A <- J^T A J and V <- V J with J = identity except J_pp = J_qq = c, J_pq = s, J_qp = -s.
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!;
          const akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!;
          const aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        A[p * n + q] = 0;
        A[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!;
          const vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
    if (!rotated) break;
  }
  // Sort ascending; eigenvector c is column c of the row-major result.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => A[x * n + x]! - A[y * n + y]!);
  const values = sameType(a, n);
  const vectors = sameType(a, n * n);
  order.forEach((src, dst) => {
    values[dst] = A[src * n + src]!;
    for (let k = 0; k < n; k++) vectors[k * n + dst] = V[k * n + src]!;
  });
  return { values, vectors };
}

/**
 * Thin SVD of a tall or square matrix (m >= n) by one-sided Jacobi (Hestenes): rotate pairs of
 * columns of W = A V until all are orthogonal; then s_j = |w_j| and u_j = w_j / s_j.
 * Returns u [m, n] (row-major), s [n] descending, vt [n, n], all doubles.
 */
function svdTall(a: Float64Array, m: number, n: number): { u: Float64Array; s: Float64Array; vt: Float64Array } {
  // Columns stored contiguously: W[j * m + i] = A[i, j], V[j * n + i] = V[i, j].
  const W = new Float64Array(n * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) W[j * m + i] = a[i * n + j]!;
  const V = new Float64Array(n * n);
  for (let j = 0; j < n; j++) V[j * n + j] = 1;
  const tol = Number.EPSILON * m;
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          const wp = W[p * m + i]!;
          const wq = W[q * m + i]!;
          alpha += wp * wp;
          beta += wq * wq;
          gamma += wp * wq;
        }
        if (!(Math.abs(gamma) > tol * Math.sqrt(alpha * beta))) continue;
        rotated = true;
        // The rotation that diagonalises the Gram block [[alpha, gamma], [gamma, beta]].
        const [c, s] = jacobiRotation(alpha, beta, gamma);
        for (let i = 0; i < m; i++) {
          const wp = W[p * m + i]!;
          const wq = W[q * m + i]!;
          W[p * m + i] = c * wp - s * wq;
          W[q * m + i] = s * wp + c * wq;
        }
        for (let i = 0; i < n; i++) {
          const vp = V[p * n + i]!;
          const vq = V[q * n + i]!;
          V[p * n + i] = c * vp - s * vq;
          V[q * n + i] = s * vp + c * vq;
        }
      }
    }
    if (!rotated) break;
  }
  const norms = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let sq = 0;
    for (let i = 0; i < m; i++) sq += W[j * m + i]! ** 2;
    norms[j] = Math.sqrt(sq);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => norms[y]! - norms[x]!);
  const u = new Float64Array(m * n);
  const s = new Float64Array(n);
  const vt = new Float64Array(n * n);
  const missing: number[] = []; // columns of u for zero singular values, completed below
  order.forEach((src, r) => {
    s[r] = norms[src]!;
    for (let i = 0; i < n; i++) vt[r * n + i] = V[src * n + i]!;
    if (norms[src]! > 0) for (let i = 0; i < m; i++) u[i * n + r] = W[src * m + i]! / norms[src]!;
    else missing.push(r);
  });
  completeOrthonormalColumns(u, m, n, missing);
  return { u, s, vt };
}

/**
 * Fills the listed columns of u [m, k] with unit vectors orthogonal to all other columns
 * (Gram-Schmidt on standard basis vectors), so that U^T U = I even for rank-deficient input.
 */
function completeOrthonormalColumns(u: Float64Array, m: number, k: number, missing: number[]): void {
  const done = new Set(Array.from({ length: k }, (_, c) => c).filter((c) => !missing.includes(c)));
  let e = 0;
  for (const col of missing) {
    for (; e < m; e++) {
      const w = new Float64Array(m);
      w[e] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (const c of done) {
          let dot = 0;
          for (let i = 0; i < m; i++) dot += u[i * k + c]! * w[i]!;
          for (let i = 0; i < m; i++) w[i] = w[i]! - dot * u[i * k + c]!;
        }
      }
      const norm = Math.sqrt(w.reduce((acc, x) => acc + x * x, 0));
      if (norm > 0.5) {
        for (let i = 0; i < m; i++) u[i * k + col] = w[i]! / norm;
        done.add(col);
        e++;
        break;
      }
    }
  }
}

export function svd(a: FloatArray, m: number, n: number): SvdResult {
  requireLength('svd', 'a', a, m * n);
  const k = Math.min(m, n);
  let u: Float64Array;
  let s: Float64Array;
  let vt: Float64Array;
  if (m >= n) {
    ({ u, s, vt } = svdTall(Float64Array.from(a.subarray(0, m * n)), m, n));
  } else {
    // A^T = U' S V'^T, so A = V' S U'^T: u = V' = vt'^T [m, m], vt = U'^T [m, n].
    const at = new Float64Array(n * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) at[j * m + i] = a[i * n + j]!;
    const t = svdTall(at, n, m);
    s = t.s;
    u = new Float64Array(m * k);
    for (let i = 0; i < m; i++) for (let r = 0; r < k; r++) u[i * k + r] = t.vt[r * m + i]!;
    vt = new Float64Array(k * n);
    for (let r = 0; r < k; r++) for (let j = 0; j < n; j++) vt[r * n + j] = t.u[j * k + r]!;
  }
  const out = { u: sameType(a, m * k), s: sameType(a, k), vt: sameType(a, k * n) };
  out.u.set(u);
  out.s.set(s);
  out.vt.set(vt);
  return out;
}
