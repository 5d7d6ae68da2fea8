/**
 * Scaled-dot-product attention (GQA, bottom-right-aligned causal mask, key padding mask) and
 * its backward from the saved log-sum-exp. One query row at a time, scores held in doubles.
 */
import type { AttentionGradParams, AttentionParams } from '../../backend.js';
import { requireLength } from './layout.js';

function checkShapes(kernel: string, p: AttentionParams): void {
  const { B, H, KVH, Tq, Tk, D } = p;
  if (KVH < 1 || H % KVH !== 0) throw new Error(`${kernel}: H = ${H} is not a multiple of KVH = ${KVH}`);
  requireLength(kernel, 'q', p.q, B * H * Tq * D);
  const cap = p.kvCapacity ?? Tk;
  if (!Number.isInteger(cap) || cap < Tk) throw new Error(`${kernel}: kvCapacity = ${cap} must be an integer >= Tk = ${Tk}`);
  requireLength(kernel, 'k', p.k, B * KVH * cap * D);
  requireLength(kernel, 'v', p.v, B * KVH * cap * D);
  requireLength(kernel, 'out', p.out, B * H * Tq * D);
  requireLength(kernel, 'lse', p.lse, B * H * Tq);
  if (p.keyMask) requireLength(kernel, 'keyMask', p.keyMask, B * Tk);
}

/** Whether query i of batch b may attend to key j (causal: query i sits at key position Tk - Tq + i). */
function visible(p: AttentionParams, b: number, i: number, j: number): boolean {
  if (p.causal && j > p.Tk - p.Tq + i) return false;
  return !p.keyMask || p.keyMask[b * p.Tk + j] !== 0;
}

/**
 * Scaled scores s[j] = scale * q_i . k_j of one query row (-Infinity for hidden keys).
 * Returns the row maximum (-Infinity when no key is visible).
 */
function rowScores(p: AttentionParams, b: number, h: number, i: number, s: Float64Array): number {
  const { H, KVH, Tq, Tk, D } = p;
  const kvh = Math.floor(h / (H / KVH));
  const qBase = ((b * H + h) * Tq + i) * D;
  let max = -Infinity;
  for (let j = 0; j < Tk; j++) {
    if (!visible(p, b, i, j)) {
      s[j] = -Infinity;
      continue;
    }
    const kBase = ((b * KVH + kvh) * (p.kvCapacity ?? Tk) + j) * D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += p.q[qBase + d]! * p.k[kBase + d]!;
    s[j] = p.scale * dot;
    max = Math.max(max, s[j]!);
  }
  return max;
}

export function attention(p: AttentionParams): void {
  checkShapes('attention', p);
  const { B, H, KVH, Tq, Tk, D, out, lse, v } = p;
  const cap = p.kvCapacity ?? Tk;
  const s = new Float64Array(Tk);
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KVH));
      for (let i = 0; i < Tq; i++) {
        const row = (b * H + h) * Tq + i;
        const max = rowScores(p, b, h, i, s);
        if (max === -Infinity) {
          // No visible key: zeros and lse = -Infinity, never NaN.
          for (let d = 0; d < D; d++) out[row * D + d] = 0;
          lse[row] = -Infinity;
          continue;
        }
        acc.fill(0);
        let sum = 0;
        for (let j = 0; j < Tk; j++) {
          if (s[j] === -Infinity) continue;
          const w = Math.exp(s[j]! - max);
          sum += w;
          const vBase = ((b * KVH + kvh) * cap + j) * D;
          for (let d = 0; d < D; d++) acc[d] = acc[d]! + w * v[vBase + d]!;
        }
        for (let d = 0; d < D; d++) out[row * D + d] = acc[d]! / sum;
        lse[row] = max + Math.log(sum);
      }
    }
  }
}

/**
 * With P = exp(S - lse) and dP_ij = gout_i . v_j:
 * gv_j = sum_i P_ij gout_i, dS_ij = P_ij (dP_ij - sum_l P_il dP_il),
 * gq_i = scale sum_j dS_ij k_j, gk_j = scale sum_i dS_ij q_i (summed over the heads sharing a kv head).
 */
export function attentionGrad(p: AttentionGradParams): void {
  checkShapes('attentionGrad', p);
  if (p.kvCapacity !== undefined && p.kvCapacity !== p.Tk)
    throw new Error('attentionGrad: kvCapacity is forward-only (k and v must be [B, KVH, Tk, D])');
  const { B, H, KVH, Tq, Tk, D, q, k, v, lse, gout, gq, gk, gv, scale } = p;
  requireLength('attentionGrad', 'gout', gout, B * H * Tq * D);
  requireLength('attentionGrad', 'gq', gq, B * H * Tq * D);
  requireLength('attentionGrad', 'gk', gk, B * KVH * Tk * D);
  requireLength('attentionGrad', 'gv', gv, B * KVH * Tk * D);
  // gk/gv sum over queries and heads: accumulate in doubles, store once at the end.
  const gkAcc = new Float64Array(B * KVH * Tk * D);
  const gvAcc = new Float64Array(B * KVH * Tk * D);
  const s = new Float64Array(Tk);
  const prob = new Float64Array(Tk);
  const dP = new Float64Array(Tk);
  const gqRow = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KVH));
      for (let i = 0; i < Tq; i++) {
        const row = (b * H + h) * Tq + i;
        const rowLse = lse[row]!;
        gqRow.fill(0);
        if (rowLse !== -Infinity) {
          rowScores(p, b, h, i, s);
          let rowDot = 0;
          for (let j = 0; j < Tk; j++) {
            const kvBase = ((b * KVH + kvh) * Tk + j) * D;
            prob[j] = s[j] === -Infinity ? 0 : Math.exp(s[j]! - rowLse);
            let dot = 0;
            for (let d = 0; d < D; d++) dot += gout[row * D + d]! * v[kvBase + d]!;
            dP[j] = dot;
            rowDot += prob[j]! * dot;
          }
          for (let j = 0; j < Tk; j++) {
            if (prob[j] === 0) continue;
            const kvBase = ((b * KVH + kvh) * Tk + j) * D;
            const dS = prob[j]! * (dP[j]! - rowDot);
            for (let d = 0; d < D; d++) {
              gvAcc[kvBase + d] = gvAcc[kvBase + d]! + prob[j]! * gout[row * D + d]!;
              gkAcc[kvBase + d] = gkAcc[kvBase + d]! + scale * dS * q[row * D + d]!;
              gqRow[d] = gqRow[d]! + scale * dS * k[kvBase + d]!;
            }
          }
        }
        for (let d = 0; d < D; d++) gq[row * D + d] = gqRow[d]!;
      }
    }
  }
  gk.set(gkAcc);
  gv.set(gvAcc);
}
