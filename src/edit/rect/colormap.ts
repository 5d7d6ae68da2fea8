/**
 * Colormaps for the weight-change heat maps. Viridis is the default because its lightness rises
 * monotonically, so small and large |ΔW| stay distinguishable in grayscale print too.
 */
export type Colormap = 'gray' | 'viridis';

// matplotlib viridis sampled at 0, 0.1, ..., 1
const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [0x44, 0x01, 0x54],
  [0x48, 0x24, 0x75],
  [0x41, 0x44, 0x87],
  [0x35, 0x5f, 0x8d],
  [0x2a, 0x78, 0x8e],
  [0x21, 0x91, 0x8c],
  [0x22, 0xa8, 0x84],
  [0x44, 0xbf, 0x70],
  [0x7a, 0xd1, 0x51],
  [0xbd, 0xdf, 0x26],
  [0xfd, 0xe7, 0x25],
];

/** RGB of t ∈ [0, 1] under a colormap (linear interpolation between the samples). */
export function colorOf(t: number, map: Colormap): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isNaN(t) ? 0 : t));
  if (map === 'gray') {
    const g = Math.round(x * 255);
    return [g, g, g];
  }
  const pos = x * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [0, 1, 2].map((c) => Math.round(a[c]! + (b[c]! - a[c]!) * f)) as [number, number, number];
}
