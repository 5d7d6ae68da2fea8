/**
 * Fused row kernels on x [rows, cols]: (log-)softmax, layerNorm and rmsNorm, each with its
 * backward. Statistics are computed in doubles (two-pass mean/variance).
 */
import type { FloatArray } from '../../backend.js';
import { requireLength } from './layout.js';

export function softmax(x: FloatArray, out: FloatArray, rows: number, cols: number, log: boolean): void {
  requireLength('softmax', 'x', x, rows * cols);
  requireLength('softmax', 'out', out, rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, x[base + j]!);
    // A row of all -Infinity gives max = -Infinity and (x - max) = NaN: NaN outputs like PyTorch.
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(x[base + j]! - max);
    const logSum = Math.log(sum);
    for (let j = 0; j < cols; j++) {
      const shifted = x[base + j]! - max;
      out[base + j] = log ? shifted - logSum : Math.exp(shifted) / sum;
    }
  }
}

export function softmaxGrad(y: FloatArray, gy: FloatArray, gx: FloatArray, rows: number, cols: number, log: boolean): void {
  requireLength('softmaxGrad', 'y', y, rows * cols);
  requireLength('softmaxGrad', 'gy', gy, rows * cols);
  requireLength('softmaxGrad', 'gx', gx, rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    if (log) {
      // gx = gy - exp(y) * sum(gy)
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += gy[base + j]!;
      for (let j = 0; j < cols; j++) gx[base + j] = gy[base + j]! - Math.exp(y[base + j]!) * sum;
    } else {
      // gx = y * (gy - sum(gy * y))
      let dot = 0;
      for (let j = 0; j < cols; j++) dot += gy[base + j]! * y[base + j]!;
      for (let j = 0; j < cols; j++) gx[base + j] = y[base + j]! * (gy[base + j]! - dot);
    }
  }
}

export function layerNorm(
  x: FloatArray,
  w: FloatArray | null,
  b: FloatArray | null,
  out: FloatArray,
  mean: FloatArray,
  rstd: FloatArray,
  rows: number,
  cols: number,
  eps: number,
): void {
  requireLength('layerNorm', 'x', x, rows * cols);
  requireLength('layerNorm', 'out', out, rows * cols);
  requireLength('layerNorm', 'mean', mean, rows);
  requireLength('layerNorm', 'rstd', rstd, rows);
  if (w) requireLength('layerNorm', 'w', w, cols);
  if (b) requireLength('layerNorm', 'b', b, cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += x[base + j]!;
    const mu = sum / cols;
    let sq = 0;
    for (let j = 0; j < cols; j++) sq += (x[base + j]! - mu) ** 2;
    const rs = 1 / Math.sqrt(sq / cols + eps); // biased variance
    for (let j = 0; j < cols; j++) {
      const xhat = (x[base + j]! - mu) * rs;
      out[base + j] = xhat * (w ? w[j]! : 1) + (b ? b[j]! : 0);
    }
    mean[r] = mu;
    rstd[r] = rs;
  }
}

export function layerNormGrad(
  x: FloatArray,
  w: FloatArray | null,
  mean: FloatArray,
  rstd: FloatArray,
  gy: FloatArray,
  gx: FloatArray,
  gw: FloatArray | null,
  gb: FloatArray | null,
  rows: number,
  cols: number,
): void {
  requireLength('layerNormGrad', 'x', x, rows * cols);
  requireLength('layerNormGrad', 'gy', gy, rows * cols);
  requireLength('layerNormGrad', 'gx', gx, rows * cols);
  requireLength('layerNormGrad', 'mean', mean, rows);
  requireLength('layerNormGrad', 'rstd', rstd, rows);
  if (w) requireLength('layerNormGrad', 'w', w, cols);
  if (gw) requireLength('layerNormGrad', 'gw', gw, cols);
  if (gb) requireLength('layerNormGrad', 'gb', gb, cols);
  const gwSum = new Float64Array(cols);
  const gbSum = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const mu = mean[r]!;
    const rs = rstd[r]!;
    // With xhat = (x - mean) rstd and g = gy w: gx = rstd (g - mean(g) - xhat mean(g xhat)).
    let gMean = 0;
    let gxhatMean = 0;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[base + j]! - mu) * rs;
      const g = gy[base + j]! * (w ? w[j]! : 1);
      gMean += g;
      gxhatMean += g * xhat;
      gwSum[j]! += gy[base + j]! * xhat;
      gbSum[j]! += gy[base + j]!;
    }
    gMean /= cols;
    gxhatMean /= cols;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[base + j]! - mu) * rs;
      const g = gy[base + j]! * (w ? w[j]! : 1);
      gx[base + j] = rs * (g - gMean - xhat * gxhatMean);
    }
  }
  for (let j = 0; j < cols; j++) {
    if (gw) gw[j] = gw[j]! + gwSum[j]!;
    if (gb) gb[j] = gb[j]! + gbSum[j]!;
  }
}

export function rmsNorm(
  x: FloatArray,
  w: FloatArray | null,
  out: FloatArray,
  rstd: FloatArray,
  rows: number,
  cols: number,
  eps: number,
): void {
  requireLength('rmsNorm', 'x', x, rows * cols);
  requireLength('rmsNorm', 'out', out, rows * cols);
  requireLength('rmsNorm', 'rstd', rstd, rows);
  if (w) requireLength('rmsNorm', 'w', w, cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let sq = 0;
    for (let j = 0; j < cols; j++) sq += x[base + j]! ** 2;
    const rs = 1 / Math.sqrt(sq / cols + eps);
    for (let j = 0; j < cols; j++) out[base + j] = x[base + j]! * rs * (w ? w[j]! : 1);
    rstd[r] = rs;
  }
}

export function rmsNormGrad(
  x: FloatArray,
  w: FloatArray | null,
  rstd: FloatArray,
  gy: FloatArray,
  gx: FloatArray,
  gw: FloatArray | null,
  rows: number,
  cols: number,
): void {
  requireLength('rmsNormGrad', 'x', x, rows * cols);
  requireLength('rmsNormGrad', 'gy', gy, rows * cols);
  requireLength('rmsNormGrad', 'gx', gx, rows * cols);
  requireLength('rmsNormGrad', 'rstd', rstd, rows);
  if (w) requireLength('rmsNormGrad', 'w', w, cols);
  if (gw) requireLength('rmsNormGrad', 'gw', gw, cols);
  const gwSum = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const rs = rstd[r]!;
    // y = x rstd w with rstd = (mean(x^2) + eps)^-1/2, g = gy w:
    // gx = rstd g - x rstd^3 mean(g x).
    let gxMean = 0;
    for (let j = 0; j < cols; j++) {
      const xj = x[base + j]!;
      gxMean += gy[base + j]! * (w ? w[j]! : 1) * xj;
      gwSum[j]! += gy[base + j]! * xj * rs;
    }
    gxMean /= cols;
    for (let j = 0; j < cols; j++) {
      const g = gy[base + j]! * (w ? w[j]! : 1);
      gx[base + j] = rs * g - x[base + j]! * rs * rs * rs * gxMean;
    }
  }
  if (gw) for (let j = 0; j < cols; j++) gw[j] = gw[j]! + gwSum[j]!;
}
