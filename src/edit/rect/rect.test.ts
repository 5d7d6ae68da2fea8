/** RECT rule: counts, ties, zeros, edge cases, dtypes, agreement with a sort-based oracle, a big-matrix timing. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { rect, rectCounts } from './rect.js';

/** The rule by brute force: full stable sort of (−δ, index). */
function oracle(dw: number[], w: number[], keepCount: number): Uint8Array {
  const r = dw.map((d, i) => {
    const a = Math.abs(d);
    const b = Math.abs(w[i]!);
    return b !== 0 ? a / b : a !== 0 ? Infinity : 0;
  });
  const idx = r.map((_, i) => i).sort((i, j) => r[j]! - r[i]! || i - j || 0);
  // Infinity − Infinity is NaN: order those by index
  idx.sort((i, j) => (r[i] === r[j] ? i - j : r[j]! > r[i]! ? 1 : -1));
  const m = new Uint8Array(dw.length);
  for (let k = 0; k < keepCount; k++) m[idx[k]!] = 1;
  return m;
}

function maskOf(t: T.Tensor): number[] {
  return Array.from(t.storage as Uint8Array);
}

describe('rectCounts', () => {
  test('integer percents use exact integer arithmetic', () => {
    assert.deepEqual(rectCounts(11008, 0.4), { keepCount: 4404, zeroCount: 6604, keepPct: 40 });
    assert.deepEqual(rectCounts(11008, 0.2), { keepCount: 2202, zeroCount: 8806, keepPct: 20 });
    assert.deepEqual(rectCounts(16384, 0.4), { keepCount: 6554, zeroCount: 9830, keepPct: 40 });
    // N·(1 − keep) in floating point is 0.9999999999999998 for N = 5, keep 0.8; the rule says ⌊5·20/100⌋ = 1
    assert.equal(5 * (1 - 0.8), 0.9999999999999998);
    assert.deepEqual(rectCounts(5, 0.8), { keepCount: 4, zeroCount: 1, keepPct: 80 });
    assert.deepEqual(rectCounts(90, 0.3), { keepCount: 27, zeroCount: 63, keepPct: 30 });
    // 0.07 * 100 = 7.000000000000001 is still recognised as 7 %
    assert.deepEqual(rectCounts(100, 0.07), { keepCount: 7, zeroCount: 93, keepPct: 7 });
    for (const n of [1, 3, 7, 10, 99, 101, 1001, 6400 * 1600, 4096 * 11008]) {
      for (const k of [0, 1, 20, 33, 40, 60, 80, 99, 100]) {
        const { keepCount, zeroCount } = rectCounts(n, k / 100);
        assert.equal(zeroCount, Math.floor((n * (100 - k)) / 100), `n=${n} k=${k}`);
        assert.equal(keepCount + zeroCount, n);
      }
    }
  });
  test('non-percent fractions and bad input', () => {
    assert.deepEqual(rectCounts(1000, 0.1234), { keepCount: 124, zeroCount: 876, keepPct: null });
    assert.throws(() => rectCounts(10, 1.5), /keep must be/);
    assert.throws(() => rectCounts(10, -0.1), /keep must be/);
    assert.throws(() => rectCounts(10, NaN), /keep must be/);
  });
});

describe('rect', () => {
  test('ties are broken by the lower flat index', () => {
    // all δ equal to 1: keep the first keep_count entries
    const w = T.tensor([
      [1, -2, 3],
      [4, 5, -6],
    ]);
    const dw = T.tensor([
      [-1, 2, 3],
      [-4, 5, 6],
    ]);
    const r = rect(dw, w, 0.5);
    assert.deepEqual(maskOf(r.mask), [1, 1, 1, 0, 0, 0]);
    assert.deepEqual(r.deltaW.toArray(), [-1, 2, 3, 0, 0, 0]);
    assert.equal(r.stats.tiedAtCut, 6);
    assert.equal(r.stats.tiedKept, 3);
    assert.equal(r.stats.kthRatio, 1);
    assert.equal(r.stats.nextRatio, 1);
    assert.equal(r.stats.relativeGap, 0);
    // a tie straddling the cut after a strictly larger entry
    const w2 = T.tensor([1, 1, 1, 1, 1]);
    const dw2 = T.tensor([0.5, 0.5, 0.9, 0.5, 0.1]);
    const r2 = rect(dw2, w2, 0.6); // keep 5 − ⌊5·40/100⌋ = 3
    assert.deepEqual(maskOf(r2.mask), [1, 1, 1, 0, 0]);
    assert.equal(r2.stats.tiedAtCut, 3);
    assert.equal(r2.stats.tiedKept, 2);
  });

  test('W = 0 gives +∞ when ΔW ≠ 0 (kept first) and 0 when ΔW = 0; never NaN', () => {
    const w = T.tensor([0, 0, 1, 2, 0, 4]);
    const dw = T.tensor([0, 1e-9, 0.5, 0.1, -3, 0]);
    // δ = [0, ∞, 0.5, 0.05, ∞, 0]
    const r = rect(dw, w, 0.5);
    assert.deepEqual(maskOf(r.mask), [0, 1, 1, 0, 1, 0]);
    assert.deepEqual(
      r.deltaW.toArray(),
      [0, 1e-9, 0.5, 0, -3, 0].map((x) => Math.fround(x)),
    );
    assert.equal(r.stats.infCount, 2);
    assert.equal(r.stats.kthRatio, 0.5);
    assert.equal(r.stats.nextRatio, Math.fround(0.1) / 2);
    // keep only 2: the two infinite ratios, lower index first among the rest
    const r2 = rect(dw, w, 0.3); // 6 − ⌊6·70/100⌋ = 2
    assert.deepEqual(maskOf(r2.mask), [0, 1, 0, 0, 1, 0]);
    assert.equal(r2.stats.kthRatio, Infinity);
    assert.equal(r2.stats.relativeGap, 1);
    // keep 1 of two infinite ratios: the lower index
    const r0 = rect(dw, w, 0.1); // 6 − ⌊6·90/100⌋ = 1
    assert.deepEqual(maskOf(r0.mask), [0, 1, 0, 0, 0, 0]);
    assert.equal(r0.stats.nextRatio, Infinity);
    assert.equal(r0.stats.relativeGap, 0);
  });

  test('ΔW = 0 entries have δ = 0 and are the last kept', () => {
    const w = T.tensor([1, 1, 1, 1]);
    const dw = T.tensor([0, 0.2, 0, 0.1]);
    const r = rect(dw, w, 0.75); // keep 3: both non-zeros, then the first zero
    assert.deepEqual(maskOf(r.mask), [1, 1, 0, 1]);
    assert.deepEqual(
      r.deltaW.toArray(),
      [0, 0.2, 0, 0.1].map((x) => Math.fround(x)),
    );
    assert.equal(r.stats.kthRatio, 0);
    assert.equal(r.stats.nextRatio, 0);
  });

  test('keep 1.0 keeps everything, keep 0.0 nothing', () => {
    const rng = new T.Rng(3);
    const w = rng.normal([7, 9]);
    const dw = rng.normal([7, 9], 0.01);
    const all = rect(dw, w, 1);
    assert.deepEqual(all.deltaW.toArray(), dw.toArray());
    assert.ok(maskOf(all.mask).every((m) => m === 1));
    assert.equal(all.stats.nextRatio, null);
    assert.equal(all.stats.relativeGap, null);
    assert.ok(all.stats.kthRatio! > 0);
    const none = rect(dw, w, 0);
    assert.ok(none.deltaW.toArray().every((x) => x === 0));
    assert.ok(maskOf(none.mask).every((m) => m === 0));
    assert.equal(none.stats.kthRatio, null);
    assert.equal(none.stats.keepCount, 0);
    assert.ok(none.stats.nextRatio! > 0);
    const empty = rect(T.zeros([0, 4]), T.zeros([0, 4]), 0.4);
    assert.equal(empty.stats.numel, 0);
    assert.equal(empty.stats.keepCount, 0);
  });

  test('exact keep_count for awkward sizes', () => {
    const rng = new T.Rng(11);
    for (const [m, n] of [
      [1, 1],
      [1, 3],
      [3, 7],
      [13, 17],
      [101, 3],
    ] as const) {
      const w = rng.normal([m, n]);
      const dw = rng.normal([m, n]);
      for (const k of [1, 20, 33, 40, 60, 99]) {
        const r = rect(dw, w, k / 100);
        const kept = maskOf(r.mask).reduce((s, x) => s + x, 0);
        assert.equal(kept, m * n - Math.floor((m * n * (100 - k)) / 100), `[${m}, ${n}] k=${k}`);
      }
    }
  });

  test('matches a sort-based oracle, with heavy ties and zeros', () => {
    const rng = new T.Rng(5);
    for (let trial = 0; trial < 20; trial++) {
      const n = 1 + rng.nextInt(400);
      // values from a tiny set so ties are everywhere; some W and ΔW exactly 0
      const wv = Array.from({ length: n }, () => [0, 1, -1, 2, 0.5][rng.nextInt(5)]!);
      const dv = Array.from({ length: n }, () => [0, 0.25, -0.5, 1, 3][rng.nextInt(5)]!);
      const w = T.tensor(wv);
      const dw = T.tensor(dv);
      for (const keep of [0.1, 0.2, 0.4, 0.6, 0.8]) {
        const r = rect(dw, w, keep);
        assert.deepEqual(maskOf(r.mask), Array.from(oracle(dv, wv, r.stats.keepCount)), `trial ${trial} keep ${keep}`);
      }
    }
  });

  test('bf16 / f16 W and a non-contiguous ΔW', () => {
    const rng = new T.Rng(9);
    const w32 = rng.normal([16, 24]);
    const dw = rng.normal([24, 16], 0.01);
    const dwT = T.transpose(dw); // [16, 24] view, not contiguous
    for (const dt of ['bfloat16', 'float16'] as const) {
      const w = T.cast(w32, dt);
      const wDec = T.cast(w, 'float32'); // the same values in f32
      const a = rect(dwT, w, 0.4);
      const b = rect(T.contiguous(dwT), wDec, 0.4);
      assert.deepEqual(maskOf(a.mask), maskOf(b.mask), dt);
      assert.deepEqual(a.deltaW.toArray(), b.deltaW.toArray(), dt);
      assert.deepEqual(maskOf(a.mask), Array.from(oracle(T.contiguous(dwT).toArray(), wDec.toArray(), a.stats.keepCount)));
    }
  });

  test('NaN inputs and shape mismatches are refused', () => {
    assert.throws(() => rect(T.tensor([NaN, 1]), T.tensor([1, 1]), 0.5), /NaN/);
    assert.throws(() => rect(T.tensor([Infinity, 1]), T.tensor([Infinity, 1]), 0.5), /NaN/);
    assert.throws(() => rect(T.tensor([1, 1]), T.tensor([1, 1, 1]), 0.5), /shapes/);
  });

  test('large matrix (4096 × 11008, LLaMA-7B down_proj) completes', () => {
    const rng = new T.Rng(1);
    const [m, n] = [4096, 11008];
    T.tidy(() => {
      const W = rng.normal([m, n], 0.02);
      const dW = T.matmul(rng.normal([m, 1]), rng.normal([1, n], 1e-3)); // rank one, like ROME
      const t0 = performance.now();
      const r = rect(dW, W, 0.4);
      const s = (performance.now() - t0) / 1000;
      console.log(`# rect 4096x11008 keep 0.4: ${s.toFixed(2)} s; kth ${r.stats.kthRatio} next ${r.stats.nextRatio}`);
      assert.equal(r.stats.keepCount, m * n - Math.floor((m * n * 60) / 100));
      let kept = 0;
      const mk = r.mask.storage as Uint8Array;
      for (let i = 0; i < mk.length; i++) kept += mk[i]!;
      assert.equal(kept, r.stats.keepCount);
    });
  });
});
