/**
 * Running per-feature mean and standard deviation of the MEND inputs x and δ (Welford's
 * algorithm, as MEND's `update_counter`), updated while training and frozen afterwards.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';

/** MEND's epsilon in (v − μ) / (σ + ε). */
export const NORM_EPS = 1e-7;

/**
 * Welford statistics of `dim`-vectors: mean μ, sum of squared deviations s (M2) and count k;
 * σ = √(s / (k − 1)), the unbiased estimate as in MEND.
 * @example
 * const st = new RunningStats(4);
 * st.update(rows, 10); // rows: Float32Array of 10 × 4
 * const sigma = st.std();
 */
export class RunningStats {
  mean: Float64Array;
  m2: Float64Array;
  count = 0;
  /** σ fixed from a checkpoint (EasyEdit stores u_std without relying on s) */
  private fixedStd: Float64Array | null = null;

  constructor(readonly dim: number) {
    this.mean = new Float64Array(dim).fill(NaN);
    this.m2 = new Float64Array(dim).fill(NaN);
  }

  /**
   * Add n rows (row-major n × dim). Equal to feeding them one at a time to MEND's
   * `update_counter` (m ← m + (x − m)/k; s ← s + (x − m_old)(x − m_new)); merged per batch
   * with Chan's formula so large batches cost one pass.
   */
  update(rows: ArrayLike<number>, n: number): void {
    const D = this.dim;
    if (rows.length !== n * D) throw new Error(`RunningStats.update: ${rows.length} values are not ${n} rows of ${D}`);
    if (n === 0) return;
    this.fixedStd = null;
    const bMean = new Float64Array(D);
    const bM2 = new Float64Array(D);
    // the batch's own mean and M2 (two passes, exact enough in float64)
    for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) bMean[j]! += rows[r * D + j]!;
    for (let j = 0; j < D; j++) bMean[j]! /= n;
    for (let r = 0; r < n; r++)
      for (let j = 0; j < D; j++) {
        const d = rows[r * D + j]! - bMean[j]!;
        bM2[j]! += d * d;
      }
    if (this.count === 0) {
      this.mean = bMean;
      this.m2 = bM2;
      this.count = n;
      return;
    }
    const k = this.count + n;
    for (let j = 0; j < D; j++) {
      const delta = bMean[j]! - this.mean[j]!;
      this.mean[j] = this.mean[j]! + (delta * n) / k;
      this.m2[j] = this.m2[j]! + bM2[j]! + (delta * delta * this.count * n) / k;
    }
    this.count = k;
  }

  /** σ per feature; throws with fewer than two samples (as MEND). */
  std(): Float64Array {
    if (this.fixedStd) return this.fixedStd;
    if (this.count < 2)
      throw new Error(`MEND normalisation needs at least 2 samples, have ${this.count} (an untrained editor has none)`);
    return this.m2.map((s) => Math.sqrt(s / (this.count - 1)));
  }

  /** Restore from stored values; `std` (when given) is used as is instead of √(s/(k−1)). */
  load(mean: ArrayLike<number>, m2: ArrayLike<number>, count: number, std?: ArrayLike<number>): void {
    if (mean.length !== this.dim || m2.length !== this.dim) throw new Error(`RunningStats.load: expected ${this.dim} values`);
    this.mean = Float64Array.from(mean);
    this.m2 = Float64Array.from(m2);
    this.count = count;
    this.fixedStd = std ? Float64Array.from(std) : null;
    if (this.fixedStd && this.fixedStd.length !== this.dim)
      throw new Error(`RunningStats.load: std has ${this.fixedStd.length} values, expected ${this.dim}`);
  }

  /**
   * (v − μ) / (σ + ε) for v [N, dim]; μ and σ are constants (no gradient flows into them).
   * After a single sample σ is taken as 1 (MEND raises instead; a one-token target in the
   * last edited layer yields exactly one row, and that row normalises to 0 either way).
   */
  normalize(v: Tensor): Tensor {
    const dt = v.dtype === 'float64' ? 'float64' : 'float32';
    if (this.count === 0) throw new Error('MEND normalisation has no statistics (an untrained editor)');
    const sigma = this.count === 1 && !this.fixedStd ? new Float64Array(this.dim).fill(1) : this.std();
    for (let j = 0; j < this.dim; j++) {
      if (!Number.isFinite(this.mean[j]!) || !Number.isFinite(sigma[j]!)) {
        throw new Error(`MEND normalisation statistics are not finite at feature ${j} (an untrained or corrupt editor)`);
      }
    }
    const mu = T.tensor(this.mean, [this.dim], dt);
    const denom = T.tensor(
      sigma.map((s) => s + NORM_EPS),
      [this.dim],
      dt,
    );
    return T.div(T.sub(v, mu), denom); // [N, dim]
  }
}
