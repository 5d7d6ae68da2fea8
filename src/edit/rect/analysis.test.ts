/** Weight-change analysis on hand-computed examples; heat-map pooling; the heat-map PNG's pixels. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'fast-png';
import * as T from '../../tensor/index.js';
import {
  WeightChangeTracker,
  deltaHeatmap,
  heatmapCsv,
  heatmapLevel,
  heatmapPng,
  weightChange,
  writeHeatmap,
} from './analysis.js';
import { colorOf } from './colormap.js';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe('weightChange', () => {
  test('hand-computed example, per parameter and summed', () => {
    const W = T.tensor(
      [
        [1, -2],
        [0, 4],
      ],
      undefined,
      'float64',
    );
    const dW = T.tensor(
      [
        [0.1, 0.5],
        [0, -2],
      ],
      undefined,
      'float64',
    );
    // δ = [0.1, 0.25, 0 (0/0), 0.5]; sorted [0, 0.1, 0.25, 0.5]
    const W2 = T.tensor([0, 1], undefined, 'float64');
    const dW2 = T.tensor([3, 0], undefined, 'float64');
    // δ = [∞, 0]
    const wc = weightChange([
      { name: 'a', delta: dW, base: W },
      { name: 'b', delta: dW2, base: W2 },
    ]);
    const a = wc.params[0]!;
    assert.equal(a.name, 'a');
    assert.equal(a.numel, 4);
    close(a.manhattan, 2.6);
    close(a.frobenius, Math.sqrt(4.26));
    assert.equal(a.nonzero, 3);
    close(a.ratio.p50, 0.175); // position 1.5
    close(a.ratio.p90, 0.425); // position 2.7
    close(a.ratio.p99, 0.4925); // position 2.97
    assert.equal(a.ratio.max, 0.5);
    assert.equal(a.infCount, 0);
    assert.deepEqual(a.above, [
      { threshold: 0.077, count: 3, fraction: 0.75 },
      { threshold: 0.171, count: 2, fraction: 0.5 },
    ]);
    const t = wc.total;
    assert.equal(t.name, '*');
    assert.equal(t.numel, 6);
    close(t.manhattan, 5.6);
    assert.equal(t.nonzero, 4);
    assert.equal(t.infCount, 1);
    // union sorted [0, 0, 0.1, 0.25, 0.5, ∞]: p50 at position 2.5
    close(t.ratio.p50, 0.175);
    assert.equal(t.ratio.p90, Infinity);
    assert.equal(t.ratio.max, Infinity);
    assert.deepEqual(
      t.above.map((x) => x.count),
      [4, 3],
    );
    close(t.above[0]!.fraction, 4 / 6);
  });

  test('after/before pairs and custom thresholds', () => {
    const before = T.tensor([1, 2, 4, 8]);
    const after = T.tensor([1.5, 2, 3, 8]);
    const wc = weightChange([{ name: 'w', after, before }], { thresholds: [0.2] });
    close(wc.total.manhattan, 1.5);
    assert.deepEqual(wc.total.above, [{ threshold: 0.2, count: 2, fraction: 0.5 }]);
    assert.equal(wc.params[0]!.ratio.max, 0.5);
  });

  test('tracker: per edit and cumulative over sequential edits', () => {
    const W = T.tensor([1, 2, 4, 8]);
    const tr = new WeightChangeTracker();
    tr.track('w', W);
    T.addInPlace(W, T.tensor([0.5, 0, 0, 0]));
    const s1 = tr.step(() => W);
    close(s1.perEdit.total.manhattan, 0.5);
    close(s1.cumulative.total.manhattan, 0.5);
    T.addInPlace(W, T.tensor([0, 1, 0, 0]));
    const s2 = tr.step(() => W, 'second');
    close(s2.perEdit.total.manhattan, 1);
    assert.equal(s2.perEdit.total.ratio.max, 0.5); // 1 / 2
    close(s2.cumulative.total.manhattan, 1.5);
    assert.deepEqual(
      s2.cumulative.total.above.map((x) => x.count),
      [2, 2],
    ); // δ = [0.5, 0.5, 0, 0]
    assert.deepEqual(
      tr.history.map((h) => h.label),
      ['edit 1', 'second'],
    );
    tr.dispose();
  });
});

describe('heat maps', () => {
  test('max pooling of |ΔW| into blocks', () => {
    const rng = new T.Rng(1);
    const d = rng.normal([5, 7]);
    const h = deltaHeatmap(d, { maxSize: 3 });
    assert.deepEqual([h.blockRows, h.blockCols, h.height, h.width], [2, 3, 3, 3]);
    const v = d.toArray();
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 3; x++) {
        let m = 0;
        for (let r = y * 2; r < Math.min(5, y * 2 + 2); r++)
          for (let c = x * 3; c < Math.min(7, x * 3 + 3); c++) m = Math.max(m, Math.abs(v[r * 7 + c]!));
        assert.equal(h.grid[y * 3 + x], m);
      }
    }
    assert.equal(h.vmax, Math.max(...v.map(Math.abs)));
    assert.equal(heatmapCsv(h).trim().split('\n').length, 3);
    // after/before gives the same map as their difference
    const before = rng.normal([5, 7]);
    const after = T.add(before, d);
    const h2 = deltaHeatmap({ after, before }, { maxSize: 3 });
    h2.grid.forEach((g, i) => close(g, h.grid[i]!, 1e-6));
    // log scale: vmax → 1, vmax·10^-decades and below → 0
    assert.equal(heatmapLevel(h, h.vmax), 1);
    close(heatmapLevel(h, h.vmax * 1e-3), 0.5);
    assert.equal(heatmapLevel(h, h.vmax * 1e-7), 0);
    assert.equal(heatmapLevel(h, 0), 0);
  });

  test('heatmapPng: a valid PNG (CRCs checked) holding the colormapped grid', () => {
    const d = T.tensor([
      [0, 0.5, 1],
      [0.25, 0.75, 1],
    ]);
    const gray = decode(heatmapPng(deltaHeatmap(d, { colormap: 'gray', scale: 'linear' })), { checkCrc: true });
    assert.deepEqual([gray.width, gray.height, gray.channels, gray.depth], [3, 2, 1, 8]);
    assert.deepEqual(Array.from(gray.data), [0, 128, 255, 64, 191, 255]);
    const rgb = decode(heatmapPng(deltaHeatmap(d, { colormap: 'viridis', scale: 'linear' })), { checkCrc: true });
    assert.deepEqual([rgb.width, rgb.height, rgb.channels, rgb.depth], [3, 2, 3, 8]);
    assert.deepEqual(
      Array.from(rgb.data),
      [0, 0.5, 1, 0.25, 0.75, 1].flatMap((t) => colorOf(t, 'viridis')),
    );
  });

  test('writeHeatmap writes PNG, CSV and JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmedit-heat-'));
    try {
      const d = T.matmul(new T.Rng(2).normal([64, 1]), new T.Rng(3).normal([1, 40]));
      const h = deltaHeatmap(d, { maxSize: 16, colormap: 'gray', scale: 'linear' });
      const paths = writeHeatmap(join(dir, 'sub', 'map'), h);
      assert.deepEqual(Array.from(readFileSync(paths.png).subarray(1, 4)), [80, 78, 71]);
      assert.equal(heatmapPng(h)[25], 0); // grayscale colour type
      const j = JSON.parse(readFileSync(paths.json, 'utf8')) as { height: number; width: number; grid: number[][] };
      assert.deepEqual([j.height, j.width, j.grid.length, j.grid[0]!.length], [16, 14, 16, 14]);
      assert.equal(readFileSync(paths.csv, 'utf8').trim().split('\n').length, 16);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
