/**
 * PRUNE (Ma et al., ICLR 2025): restrain the spectrum of the accumulated update of a sequential
 * run, relative to the largest singular value σ̄ of the original weight (rivals.md §3):
 *   Δ = W_n − W₀ = U diag(σ) Vᵀ,   σ' = F(σ) where σ ≥ σ̄, σ elsewhere,   W̄ = W₀ + U diag(σ') Vᵀ
 *   F_log,α(σ) = σ̄ + log_α(σ / σ̄),   F_lin(σ) = (σ + σ̄) / 2
 * Applied at readout to the whole Δ (the editing trajectory itself stays unrestrained), for any
 * method; components below the reference's fp32 rank tolerance are dropped (`rankTruncate`).
 * Computed in float64 (the reference: float32), written in the weight's dtype by the caller.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';

export interface PruneOptions {
  restraint: 'log' | 'linear';
  /** α of F_log (e, 2, 1.5, 1.2 in the reference) */
  logBase: number;
  /** drop singular components below σ₁ · max(rows, cols) · ε₃₂, as the PRUNE code does */
  rankTruncate: boolean;
}

export const PRUNE_DEFAULTS: PruneOptions = { restraint: 'log', logBase: Math.E, rankTruncate: true };

/** The reference's named restraints (`--reduce_type`): log (base e), log2, log1.5, log1.2, linear. */
export const PRUNE_KINDS: Readonly<Record<string, PruneOptions>> = {
  log: PRUNE_DEFAULTS,
  log2: { ...PRUNE_DEFAULTS, logBase: 2 },
  'log1.5': { ...PRUNE_DEFAULTS, logBase: 1.5 },
  'log1.2': { ...PRUNE_DEFAULTS, logBase: 1.2 },
  linear: { ...PRUNE_DEFAULTS, restraint: 'linear' },
};

/** F: the restrained singular value (σ below σ̄ is returned unchanged). */
export function restrain(sigma: number, sbar: number, o: PruneOptions): number {
  if (!(sigma >= sbar)) return sigma;
  return o.restraint === 'linear' ? (sigma + sbar) / 2 : sbar + Math.log(sigma / sbar) / Math.log(o.logBase);
}

/** σ₁ of W by power iteration on WᵀW in float64 (to ~1e-12 relative; no full SVD of W). */
export function largestSingularValue(W: Tensor): number {
  return T.noGrad(() =>
    T.tidy(() => {
      const A = T.cast(W, 'float64');
      const n = A.shape[1]!;
      let v = T.tensor(
        Array.from({ length: n }, (_, i) => 1 + ((i * 7919) % 13) / 13),
        [n, 1],
        'float64',
      );
      let s = 0;
      for (let it = 0; it < 2000; it++) {
        const w = T.matmul(T.transpose(A), T.matmul(A, v));
        const norm = Math.sqrt(T.sum(T.mul(w, w)).toArray()[0]!);
        if (norm === 0) return 0;
        v = T.div(w, norm);
        const next = Math.sqrt(norm);
        if (Math.abs(next - s) <= 1e-13 * next) return next;
        s = next;
      }
      return s;
    }),
  );
}

export interface PruneResult {
  /** the restrained update, float64, the stored layout of Δ */
  delta: Tensor;
  /** σ₁ of W₀ */
  sbar: number;
  /** singular values of Δ before and after (the kept rank) */
  before: number[];
  after: number[];
}

const EPS32 = 1.1920928955078125e-7;

/** PRUNE's restraint of Δ (any layout: singular values do not depend on it) against W₀. */
export function pruneDelta(W0: Tensor, delta: Tensor, o: PruneOptions = PRUNE_DEFAULTS, warn?: (m: string) => void): PruneResult {
  if (W0.shape.join() !== delta.shape.join())
    throw new Error(`PRUNE: ΔW [${delta.shape.join(', ')}] and W₀ [${W0.shape.join(', ')}] differ in shape`);
  if (o.restraint === 'log' && !(o.logBase > 1)) throw new Error(`PRUNE: the log base must be > 1, got ${o.logBase}`);
  const sbar = largestSingularValue(W0);
  if (o.restraint === 'log' && sbar < 1 / Math.log(o.logBase))
    warn?.(
      `PRUNE: σ̄ = ${sbar.toPrecision(4)} < 1/ln α = ${(1 / Math.log(o.logBase)).toPrecision(4)}: F_log raises singular values just above σ̄`,
    );
  return T.noGrad(() => {
    const out = T.tidy(() => {
      const { u, s, vt } = T.svd(T.cast(delta, 'float64'));
      const sv = s.toArray();
      const [rows, cols] = delta.shape as [number, number];
      const tol = (sv[0] ?? 0) * Math.max(rows, cols) * EPS32;
      const rho = o.rankTruncate ? sv.filter((x) => x > tol).length : sv.length;
      const after = sv.slice(0, rho).map((x) => restrain(x, sbar, o));
      const U = T.narrow(u, 1, 0, rho);
      const Vt = T.narrow(vt, 0, 0, rho);
      const d = T.matmul(T.mul(U, T.tensor(after, [1, rho], 'float64')), Vt);
      return { d: T.contiguous(d), before: sv, after };
    });
    return { delta: out.d, sbar, before: out.before, after: out.after };
  });
}

/** What PRUNE did to one matrix at readout (`singular` is null for a non-matrix, left as edited). */
export interface RestrainedParam {
  /** the ΔW now in the model (float32, stored layout; owned by the caller) */
  delta: Tensor;
  singular: { sbar: number; before: number[]; after: number[] } | null;
}

/**
 * PRUNE at readout on a model that holds W₀ + ΔW for every `cumulative` entry: each matrix gets
 * `apply(name, F(ΔW) − ΔW)` (the caller adds it in place, or through a WeightEditor that undoes
 * it), so the model holds W₀ + F(ΔW). W₀ is W − ΔW up to float32 rounding: it only gives σ̄.
 */
export function restrainAccumulated(
  model: { param(name: string): Tensor },
  cumulative: ReadonlyMap<string, Tensor>,
  o: PruneOptions,
  apply: (name: string, change: Tensor) => void,
  warn?: (m: string) => void,
): Map<string, RestrainedParam> {
  const out = new Map<string, RestrainedParam>();
  try {
    for (const [name, dcum] of cumulative) {
      if (dcum.rank !== 2) {
        out.set(name, { delta: T.keep(T.clone(dcum)), singular: null }); // PRUNE restrains matrices
        continue;
      }
      const w = model.param(name);
      T.noGrad(() =>
        T.tidy(() => {
          const r = pruneDelta(T.sub(T.cast(w, 'float32'), dcum), dcum, o, warn);
          const delta = T.keep(T.cast(r.delta, 'float32'));
          out.set(name, { delta, singular: { sbar: r.sbar, before: r.before, after: r.after } });
          apply(name, T.cast(T.sub(delta, dcum), w.dtype));
        }),
      );
    }
    return out;
  } catch (e) {
    for (const p of out.values()) p.delta.dispose();
    throw e;
  }
}
