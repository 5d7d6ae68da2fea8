/**
 * Rotary position embedding on x [B, H, T, D] with caller-prepared cos/sin tables
 * [P, rotaryDim / 2]; 'half' (LLaMA rotate_half) or 'interleaved' (GPT-J) pairing.
 */
import type { RopeParams } from '../../backend.js';
import { requireLength } from './layout.js';

export function rope(p: RopeParams): void {
  const { x, out, B, H, T, D, rotaryDim, positions, cos, sin, layout, inverse } = p;
  if (rotaryDim % 2 !== 0 || rotaryDim < 0 || rotaryDim > D) {
    throw new Error(`rope: rotaryDim ${rotaryDim} must be even and in [0, ${D}]`);
  }
  const half = rotaryDim / 2;
  requireLength('rope', 'x', x, B * H * T * D);
  requireLength('rope', 'out', out, B * H * T * D);
  requireLength('rope', 'positions', positions, B * T);
  const P = half > 0 ? Math.floor(Math.min(cos.length, sin.length) / half) : Infinity;
  for (let i = 0; i < B * T; i++) {
    const pos = positions[i]!;
    if (pos < 0 || pos >= P) throw new Error(`rope: position ${pos} at index ${i} out of range [0, ${P})`);
  }
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const base = ((b * H + h) * T + t) * D;
        const row = positions[b * T + t]! * half;
        for (let i = 0; i < half; i++) {
          const i1 = layout === 'half' ? i : 2 * i;
          const i2 = layout === 'half' ? i + half : 2 * i + 1;
          const c = cos[row + i]!;
          const s = inverse ? -sin[row + i]! : sin[row + i]!;
          const x1 = x[base + i1]!; // read both before writing: out may alias x
          const x2 = x[base + i2]!;
          out[base + i1] = x1 * c - x2 * s;
          out[base + i2] = x2 * c + x1 * s;
        }
        for (let d = rotaryDim; d < D; d++) out[base + d] = x[base + d]!;
      }
    }
  }
}
