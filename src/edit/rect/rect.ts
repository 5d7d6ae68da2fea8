/**
 * RECT (Gu et al., EMNLP 2024; README.md, "The rule"): keep only the entries of an update ΔW with the
 * largest relative change δ_ij = |ΔW_ij| / |W_ij|, zero the rest, no rescaling.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { orderStatistics } from './select.js';
import { F64Reader, forEachRatio, ratioStream } from './stream.js';

/** Diagnostics of one RECT call (the rect goldens' `stats` plus counts). */
export interface RectStats {
  /** fraction kept as given, and as an integer percent when it is one (the exact count rule applies) */
  keep: number;
  keepPct: number | null;
  numel: number;
  keepCount: number;
  zeroCount: number;
  /** smallest kept δ (the k-th largest); null when nothing is kept */
  kthRatio: number | null;
  /** largest dropped δ; null when everything is kept */
  nextRatio: number | null;
  /** (kth − next) / kth: how far the cut is from float noise; null when either side is empty */
  relativeGap: number | null;
  /** entries with δ equal to the k-th ratio, and how many of them were kept (lowest flat index first) */
  tiedAtCut: number;
  tiedKept: number;
  /** entries with W = 0 and ΔW ≠ 0 (δ = +∞) */
  infCount: number;
}

export interface RectResult {
  /** the sparsified update, same dtype and shape as ΔW */
  deltaW: Tensor;
  /** uint8, 1 = kept */
  mask: Tensor;
  stats: RectStats;
}

/**
 * Number of entries to keep out of `numel`: zero_count = ⌊N·(100 − k)/100⌋ with integer
 * arithmetic when keep = k/100 for an integer percent k (the reference's int(N·0.6)
 * without its float error), ⌊N·(1 − keep)⌋ otherwise; keep_count = N − zero_count.
 * @example rectCounts(11008, 0.4) // { keepCount: 4404, zeroCount: 6604, keepPct: 40 }
 */
export function rectCounts(numel: number, keep: number): { keepCount: number; zeroCount: number; keepPct: number | null } {
  if (!(keep >= 0 && keep <= 1)) throw new Error(`rect: keep must be a fraction in [0, 1], got ${keep}`);
  if (!Number.isSafeInteger(numel) || numel < 0) throw new Error(`rect: bad element count ${numel}`);
  const pct = Math.round(keep * 100);
  const isPct = Math.abs(keep * 100 - pct) < 1e-9;
  let zeroCount: number;
  if (isPct) {
    const a = numel * (100 - pct); // exact: < 2^53 for any real matrix
    zeroCount = (a - (a % 100)) / 100;
  } else {
    zeroCount = Math.floor(numel * (1 - keep));
  }
  return { keepCount: numel - zeroCount, zeroCount, keepPct: isPct ? pct : null };
}

function relGap(kth: number | null, next: number | null): number | null {
  if (kth === null || next === null) return null;
  if (kth === next) return 0;
  if (kth === Infinity) return 1;
  return (kth - next) / kth;
}

/**
 * Sparsify ΔW by relative change: keep the keep_count entries with the largest
 * δ = |ΔW/W| (float64; W = 0 → +∞ if ΔW ≠ 0 else 0), ties broken by the lower row-major flat
 * index of the tensors as passed (the stored HF layout for a parameter's ΔW); zero the rest;
 * kept values are copied bit for bit. W may be float32/bf16/f16 (the current weight).
 * No full sort: a radix select on δ's bits streams the matrices 3 times.
 * @example
 * const { deltaW: sparse, mask, stats } = rect(deltaW, model.param(name), 0.4);
 */
export function rect(deltaW: Tensor, W: Tensor, keep = 0.4): RectResult {
  if (!T.isFloatDtype(deltaW.dtype)) throw new Error(`rect: ΔW must be a float tensor, got ${deltaW.dtype}`);
  const numel = deltaW.size;
  const { keepCount, zeroCount, keepPct } = rectCounts(numel, keep);
  const pairs = [{ delta: deltaW, base: W }];

  // threshold t = the keepCount-th largest δ (ascending rank numel − keepCount)
  let t = -1; // keep everything
  let ties = 0;
  let tiedAtCut = 0;
  if (keepCount === 0) {
    t = Infinity; // x > t never holds and no ties are allowed: everything is dropped
  } else if (keepCount < numel) {
    const r = orderStatistics(ratioStream(pairs), [numel - keepCount]).results[0]!;
    t = r.value;
    const countGreater = numel - r.countLess - r.countEqual;
    ties = keepCount - countGreater;
    tiedAtCut = r.countEqual;
  }
  const tiedKept = ties;

  const out = T.zeros(deltaW.shape, deltaW.dtype);
  const mask = T.zeros(deltaW.shape, 'uint8');
  const outData = out.storage;
  const maskData = mask.storage as Uint8Array;
  const src = new F64Reader(deltaW); // raw storage of ΔW, for bit-exact copies
  let minKept = Infinity;
  let maxDropped = -1;
  let infs = 0;
  try {
    const sd = src.data;
    const so = src.offset;
    forEachRatio(pairs, (ratio, _w, _d, n, start) => {
      // locals, not closure variables, in the hot loop
      let tiesLeft = ties;
      let lo = minKept;
      let hi = maxDropped;
      let inf = 0;
      const base = so + start;
      for (let j = 0; j < n; j++) {
        const x = ratio[j]!;
        if (x > t || (x === t && tiesLeft > 0 && tiesLeft-- > 0)) {
          outData[start + j] = sd[base + j]!;
          maskData[start + j] = 1;
          if (x < lo) lo = x;
        } else if (x > hi) hi = x;
        if (x === Infinity) inf++;
      }
      ties = tiesLeft;
      minKept = lo;
      maxDropped = hi;
      infs += inf;
    });
  } finally {
    src.dispose();
  }
  const kthRatio = keepCount > 0 ? minKept : null;
  const nextRatio = zeroCount > 0 ? maxDropped : null;
  return {
    deltaW: out,
    mask,
    stats: {
      keep,
      keepPct,
      numel,
      keepCount,
      zeroCount,
      kthRatio,
      nextRatio,
      relativeGap: relGap(kthRatio, nextRatio),
      tiedAtCut,
      tiedKept,
      infCount: infs,
    },
  };
}
