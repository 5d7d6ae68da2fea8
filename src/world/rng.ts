/**
 * Seeded randomness for the world: a 32-bit generator (mulberry32) and independent streams named by
 * label, so that changing one part of the generator (say, a task) leaves the draws of the others alone.
 */

/** FNV-1a of a string, 32 bits. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A small deterministic generator; `stream(seed, label)` gives an independent one per label. */
export class WorldRng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator of `label` under `seed`. */
  static stream(seed: number, label: string): WorldRng {
    return new WorldRng((fnv1a(label) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1) throw new Error(`WorldRng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** One element of a non-empty list. */
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('WorldRng.pick: empty list');
    return xs[this.int(xs.length)]!;
  }

  /** One element of `xs` other than `not` (by ===). */
  pickOther<T>(xs: readonly T[], not: T): T {
    const rest = xs.filter((x) => x !== not);
    return this.pick(rest);
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}
