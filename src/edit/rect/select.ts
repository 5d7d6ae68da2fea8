/**
 * Exact order statistics of a stream of non-negative float64 values without storing it: a
 * radix select on the IEEE-754 bit pattern (monotone in the value for x ≥ 0), 20 bits at a
 * time, then a sort of the one small bucket that holds the wanted rank.
 */
import type { Float64Stream } from './stream.js';

/** The value at one ascending rank and how many stream values are below / equal to it. */
export interface RankValue {
  rank: number;
  value: number;
  countLess: number;
  countEqual: number;
}

export interface OrderStatistics {
  /** number of values in the stream */
  n: number;
  /** exact zeros and +∞ (kept out of the histogram) */
  zeros: number;
  infs: number;
  /** one entry per requested rank, in request order */
  results: RankValue[];
}

/** A bucket this big or smaller is collected and sorted; larger ones get another radix pass. */
const CANDIDATE_LIMIT = 1 << 20;
const H1 = 1 << 19; // level-1 keys: hi >>> 12 of a non-negative double is < 2^19

/** Digit `level` (1..4) of the 64-bit pattern: bits 63..44, 43..24, 23..4, 3..0. */
function digit(level: number, hi: number, lo: number): number {
  switch (level) {
    case 1:
      return hi >>> 12;
    case 2:
      return ((hi & 0xfff) << 8) | (lo >>> 24);
    case 3:
      return (lo >>> 4) & 0xfffff;
    default:
      return lo & 0xf;
  }
}
/** Masks (hi, lo) of the bits fixed once digits 1..level are known. */
const MASKS: readonly (readonly [number, number])[] = [
  [0, 0],
  [0xfffff000 | 0, 0],
  [0xffffffff | 0, 0xff000000 | 0],
  [0xffffffff | 0, 0xfffffff0 | 0],
  [0xffffffff | 0, 0xffffffff | 0],
];

/** A set of stream values sharing their top bits: (hi & mask) === prefix. */
interface Bucket {
  level: number;
  prefHi: number;
  prefLo: number;
  /** values below the bucket, values in it */
  below: number;
  size: number;
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! <= x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** The ascending-rank value and tie counts from a sorted bucket. */
function fromSorted(rank: number, b: Bucket, sorted: Float64Array): RankValue {
  const value = sorted[rank - b.below]!;
  const lb = lowerBound(sorted, value);
  return { rank, value, countLess: b.below + lb, countEqual: upperBound(sorted, value) - lb };
}

/**
 * Values at the given ascending ranks (0 = smallest) of a stream of non-negative doubles,
 * exactly, with the counts of values below and equal to each (ties). The stream is replayed:
 * once for a histogram, once to collect the buckets holding the ranks (plus a rare extra pass
 * per 20 bits when a bucket exceeds 2^20 values). Memory: 4 MiB of tables and the buckets.
 * Negative values and NaN throw.
 * @example
 * const { results: [med] } = orderStatistics(stream, [Math.floor((n - 1) / 2)]);
 */
export function orderStatistics(stream: Float64Stream, ranks: readonly number[]): OrderStatistics {
  const hist = new Uint32Array(H1);
  let n = 0;
  let zeros = 0;
  let infs = 0;
  stream((v, words, len) => {
    let z = 0;
    let inf = 0;
    for (let j = 0; j < len; j++) {
      const x = v[j]!;
      if (x > 0 && x !== Infinity) hist[words[2 * j + 1]! >>> 12]!++;
      else if (x === 0) z++;
      else if (x === Infinity) inf++;
      else throw new Error(`orderStatistics: values must be non-negative and not NaN, got ${x}`);
    }
    zeros += z;
    infs += inf;
    n += len;
  });
  const results = new Array<RankValue | null>(ranks.length).fill(null);
  // level-1 bucket of each pending rank
  const pending: { i: number; rank: number; b: Bucket }[] = [];
  ranks.forEach((rank, i) => {
    if (!Number.isInteger(rank) || rank < 0 || rank >= n) throw new Error(`orderStatistics: rank ${rank} out of [0, ${n})`);
    if (rank < zeros) results[i] = { rank, value: 0, countLess: 0, countEqual: zeros };
    else if (rank >= n - infs) results[i] = { rank, value: Infinity, countLess: n - infs, countEqual: infs };
    else {
      let cum = zeros;
      let key = 0;
      while (cum + hist[key]! <= rank) cum += hist[key++]!;
      pending.push({ i, rank, b: { level: 1, prefHi: (key << 12) | 0, prefLo: 0, below: cum, size: hist[key]! } });
    }
  });

  // one pass collects every small level-1 bucket; oversized ones are refined one by one
  const small = pending.filter((p) => p.b.size <= CANDIDATE_LIMIT);
  if (small.length > 0) {
    const slot = new Int32Array(H1).fill(-1);
    const bufs: Float64Array[] = [];
    const fill: number[] = [];
    for (const p of small) {
      const key = p.b.prefHi >>> 12;
      if (slot[key] === -1) {
        slot[key] = bufs.length;
        bufs.push(new Float64Array(p.b.size));
        fill.push(0);
      }
    }
    stream((v, words, len) => {
      for (let j = 0; j < len; j++) {
        const x = v[j]!;
        if (x === 0 || x === Infinity) continue;
        const s = slot[words[2 * j + 1]! >>> 12]!;
        if (s >= 0) bufs[s]![fill[s]!++] = x;
      }
    });
    for (const b of bufs) b.sort();
    for (const p of small) results[p.i] = fromSorted(p.rank, p.b, bufs[slot[p.b.prefHi >>> 12]!]!);
  }
  for (const p of pending) if (p.b.size > CANDIDATE_LIMIT) results[p.i] = refine(stream, p.rank, p.b);
  return { n, zeros, infs, results: results.map((r) => r!) };
}

/** Narrow an oversized bucket by further 20-bit digits until it is small or fully determined. */
function refine(stream: Float64Stream, rank: number, start: Bucket): RankValue {
  let b = start;
  while (b.size > CANDIDATE_LIMIT && b.level < 4) {
    const level = b.level + 1;
    const [mh, ml] = MASKS[b.level]!;
    const width = level === 4 ? 16 : 1 << 20;
    const hist = new Float64Array(width);
    const cur = b;
    stream((v, words, len) => {
      for (let j = 0; j < len; j++) {
        const lo = words[2 * j]!;
        const hi = words[2 * j + 1]!;
        if ((hi & mh) !== cur.prefHi || (lo & ml) !== cur.prefLo || v[j] === 0 || v[j] === Infinity) continue;
        hist[digit(level, hi, lo)]!++;
      }
    });
    let cum = b.below;
    let d = 0;
    while (cum + hist[d]! <= rank) cum += hist[d++]!;
    // write digit d into the prefix
    let prefHi = b.prefHi;
    let prefLo = b.prefLo;
    if (level === 2) {
      prefHi |= d >>> 8;
      prefLo |= (d & 0xff) << 24;
    } else if (level === 3) prefLo |= d << 4;
    else prefLo |= d;
    b = { level, prefHi: prefHi | 0, prefLo: prefLo | 0, below: cum, size: hist[d]! };
  }
  if (b.level === 4) {
    // every bit is known: the bucket is one value
    const buf = new Float64Array(1);
    const w = new Uint32Array(buf.buffer);
    w[0] = b.prefLo >>> 0;
    w[1] = b.prefHi >>> 0;
    return { rank, value: buf[0]!, countLess: b.below, countEqual: b.size };
  }
  const sorted = new Float64Array(b.size);
  let k = 0;
  const [mh, ml] = MASKS[b.level]!;
  stream((v, words, len) => {
    for (let j = 0; j < len; j++) {
      if ((words[2 * j + 1]! & mh) !== b.prefHi || (words[2 * j]! & ml) !== b.prefLo || v[j] === 0 || v[j] === Infinity) continue;
      sorted[k++] = v[j]!;
    }
  });
  sorted.sort();
  return fromSorted(rank, b, sorted);
}

/** numpy-style linear-interpolated percentiles (p in [0, 100]) from order statistics. */
export function percentileRanks(n: number, ps: readonly number[]): { lo: number; hi: number; frac: number }[] {
  return ps.map((p) => {
    const pos = ((n - 1) * p) / 100;
    const lo = Math.floor(pos);
    return { lo, hi: Math.min(n - 1, lo + 1), frac: pos - lo };
  });
}

/**
 * Exact percentiles (numpy `percentile`, linear) of a stream of n non-negative values.
 * @example percentiles(stream, n, [50, 90, 99]) // [p50, p90, p99]
 */
export function percentiles(stream: Float64Stream, n: number, ps: readonly number[]): number[] {
  if (n === 0) return ps.map(() => NaN);
  const pr = percentileRanks(n, ps);
  const ranks = [...new Set(pr.flatMap((r) => [r.lo, r.hi]))];
  const { results } = orderStatistics(stream, ranks);
  const at = new Map(results.map((r) => [r.rank, r.value]));
  return pr.map(({ lo, hi, frac }) => {
    const a = at.get(lo)!;
    const b = at.get(hi)!;
    return frac === 0 || a === b ? a : a + (b - a) * frac;
  });
}
