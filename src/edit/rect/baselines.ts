/**
 * The two baselines RECT is compared with (README.md, "Baselines"): Random-k (keep each entry with
 * probability k) and PCA-k, in the reference code's `paper` form (PCA scores written into
 * the first r columns) or as an honest rank-r reconstruction (`lowrank`).
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { F64Reader } from './stream.js';

export interface RandomKResult {
  deltaW: Tensor;
  /** uint8, 1 = kept */
  mask: Tensor;
  keptCount: number;
}

/**
 * Random-k: draw u ~ U(0, 1) per entry in row-major order from `rng` and zero the entries with
 * u < 1 − keep (the reference's `tensor[torch.rand(shape) < prob] = 0`, prob = 1 − keep), so
 * each entry survives with probability keep. Kept values are copied unchanged.
 * @example const { deltaW: sparse } = randomK(deltaW, 0.4, new T.Rng(0));
 */
export function randomK(deltaW: Tensor, keep: number, rng: T.Rng): RandomKResult {
  if (!(keep >= 0 && keep <= 1)) throw new Error(`randomK: keep must be a fraction in [0, 1], got ${keep}`);
  const prob = 1 - keep;
  const src = new F64Reader(deltaW);
  const out = T.zeros(deltaW.shape, deltaW.dtype);
  const mask = T.zeros(deltaW.shape, 'uint8');
  const od = out.storage;
  const md = mask.storage as Uint8Array;
  let kept = 0;
  try {
    const sd = src.data;
    const so = src.offset;
    for (let i = 0; i < deltaW.size; i++) {
      if (rng.next() < prob) continue;
      od[i] = sd[so + i]!;
      md[i] = 1;
      kept++;
    }
  } finally {
    src.dispose();
  }
  return { deltaW: out, mask, keptCount: kept };
}

export type PcaMode = 'paper' | 'lowrank';
/** `svd`: LAPACK SVD of the matrix; `gram`: eigh of the smaller Gram matrix; `auto`: svd when min(rows, cols) ≤ 512. */
export type PcaSolver = 'auto' | 'svd' | 'gram';

export interface PcaKResult {
  deltaW: Tensor;
  /** components used (paper: clamped to min(rows, cols)) */
  r: number;
  /** r before clamping (paper mode: round(keep · cols)) */
  requested: number;
  solver: 'svd' | 'gram';
  /** singular values of the (centred, in paper mode) matrix for the r components */
  singularValues: Float64Array;
}

/** The matrix as float64 [rows, cols] (a new tensor). */
function asF64(deltaW: Tensor): Tensor {
  if (deltaW.rank !== 2) throw new Error(`pcaK: ΔW must be a matrix, got shape [${deltaW.shape.join(', ')}]`);
  return T.cast(deltaW, 'float64');
}

/**
 * Top-r singular triplets of X [m, n] (float64), r ≤ min(m, n), descending.
 * `side` says which singular vectors come back: 'right' gives V_r [n, r], 'left' U_r [m, r].
 * With the Gram route the vectors of the smaller side come from eigh(XᵀX) or eigh(XXᵀ).
 */
function topSingular(X: Tensor, r: number, solver: 'svd' | 'gram'): { s: Float64Array; u: Tensor | null; v: Tensor | null } {
  const [m, n] = X.shape as [number, number];
  const s = new Float64Array(r);
  if (solver === 'svd') {
    const { u, s: sv, vt } = T.svd(X); // u [m, k], vt [k, n]
    const sd = sv.storage as Float64Array;
    for (let i = 0; i < r; i++) s[i] = sd[i]!;
    const ur = T.contiguous(T.narrow(u, 1, 0, r)); // [m, r]
    const vr = T.contiguous(T.transpose(T.narrow(vt, 0, 0, r))); // [n, r]
    return { s, u: ur, v: vr };
  }
  // eigh of the smaller Gram matrix: ascending eigenvalues, so take the last r columns reversed
  const right = n <= m;
  const G = right ? T.matmul(T.transpose(X), X) : T.matmul(X, T.transpose(X)); // [k, k]
  const k = right ? n : m;
  const { values, vectors } = T.eigh(G);
  const ev = values.storage as Float64Array;
  const vec = vectors.storage as Float64Array; // [k, k], eigenvectors in columns
  const top = new Float64Array(k * r);
  // eigenvalues at rounding level of the largest are zero singular values (not sqrt(noise))
  const tol = Math.max(m, n) * 2.220446049250313e-16 * Math.max(0, ev[k - 1] ?? 0);
  for (let c = 0; c < r; c++) {
    const src = k - 1 - c;
    s[c] = ev[src]! > tol ? Math.sqrt(ev[src]!) : 0;
    for (let i = 0; i < k; i++) top[i * r + c] = vec[i * k + src]!;
  }
  const Q = T.Tensor.fromStorage(top, 'float64', [k, r]);
  return right ? { s, u: null, v: Q } : { s, u: Q, v: null };
}

function chooseSolver(solver: PcaSolver, m: number, n: number): 'svd' | 'gram' {
  if (solver !== 'auto') return solver;
  return Math.min(m, n) <= 512 ? 'svd' : 'gram';
}

/**
 * PCA-k as the reference code runs it (`pcaMode: paper`): the stored ΔW [rows, cols] is read as
 * `rows` samples of `cols` features, columns are centred, and the r = round(keep · cols)
 * principal-component SCORES (Xc V_r = U_r S_r, [rows, r]) are written into the first r
 * columns of a zero matrix. Not a reconstruction of ΔW. r is clamped to min(rows, cols)
 * (sklearn would refuse). Signs follow sklearn's svd_flip: the largest-|·| entry of each score
 * column is positive (first one on ties). Computed in float64, returned in ΔW's dtype.
 * @example pcaPaper(deltaW, 0.2).deltaW // GPT-2 XL [6400, 1600]: 320 score columns, zeros after
 */
export function pcaPaper(deltaW: Tensor, keep: number, solver: PcaSolver = 'auto'): PcaKResult {
  if (!(keep >= 0 && keep <= 1)) throw new Error(`pcaK: keep must be a fraction in [0, 1], got ${keep}`);
  return T.noGrad(() => {
    const [m, n] = deltaW.shape as [number, number];
    const requested = Math.round(keep * n);
    const r = Math.min(requested, m, n);
    const how = chooseSolver(solver, m, n);
    const out = T.zeros([m, n], deltaW.dtype);
    let singularValues: Float64Array<ArrayBufferLike> = new Float64Array(0);
    if (r > 0) {
      const scores = T.tidy(() => {
        const X = asF64(deltaW);
        const Xc = T.sub(X, T.mean(X, 0, true)); // [m, n] centred columns
        const { s, u, v } = topSingular(Xc, r, how);
        singularValues = s;
        // scores = Xc V_r when V is known (exact for the big components), else U_r S_r
        return v ? T.matmul(Xc, v) : T.mul(u!, T.Tensor.fromStorage(s, 'float64', [1, r])); // [m, r]
      });
      const sd = scores.storage as Float64Array;
      // svd_flip (u-based): make the largest-|·| entry of each column positive
      for (let c = 0; c < r; c++) {
        let best = 0;
        let arg = 0;
        for (let i = 0; i < m; i++) {
          const a = Math.abs(sd[i * r + c]!);
          if (a > best) {
            best = a;
            arg = i;
          }
        }
        const sign = sd[arg * r + c]! < 0 ? -1 : 1;
        if (sign < 0) for (let i = 0; i < m; i++) sd[i * r + c] = -sd[i * r + c]!;
      }
      const head = T.narrowView(out, 1, 0, r); // [m, r] view of the first r columns
      T.copyInto(head, scores, false);
      head.dispose();
      scores.dispose();
    }
    return { deltaW: out, r, requested, solver: how, singularValues };
  });
}

/**
 * PCA-k as a low-rank reconstruction (`pcaMode: lowrank`): ΔW ≈ U_r S_r V_rᵀ with
 * r = max(1, round(keep · min(rows, cols))), no centring. With the Gram route this is the
 * projection X V_r V_rᵀ (or U_r U_rᵀ X) onto the top-r singular subspace of the smaller side.
 * For a rank-1 ΔW it returns ΔW (to rounding).
 * @example pcaLowRank(u ⊗ v, 0.4).deltaW // ≈ u ⊗ v
 */
export function pcaLowRank(deltaW: Tensor, keep: number, solver: PcaSolver = 'auto'): PcaKResult {
  if (!(keep >= 0 && keep <= 1)) throw new Error(`pcaK: keep must be a fraction in [0, 1], got ${keep}`);
  return T.noGrad(() => {
    const [m, n] = deltaW.shape as [number, number];
    const requested = Math.max(1, Math.round(keep * Math.min(m, n)));
    const r = Math.min(requested, m, n);
    const how = chooseSolver(solver, m, n);
    let singularValues: Float64Array<ArrayBufferLike> = new Float64Array(0);
    const out = T.tidy(() => {
      const X = asF64(deltaW);
      const { s, u, v } = topSingular(X, r, how);
      singularValues = s;
      let rec: Tensor;
      if (v)
        rec = T.matmul(T.matmul(X, v), T.transpose(v)); // [m, r] [r, n]
      else rec = T.matmul(u!, T.matmul(T.transpose(u!), X)); // [m, r] [r, n]
      return T.cast(rec, deltaW.dtype);
    });
    return { deltaW: out, r, requested, solver: how, singularValues };
  });
}
