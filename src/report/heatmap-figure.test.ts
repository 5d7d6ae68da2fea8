/**
 * The --heatmap figure: a grid pooled to at most 96 blocks a side with block extents in matrix
 * coordinates, a title naming the parameter and its shape, the δ percentiles in the caption, a log
 * colour scale; rendered to an SVG with both axes and a legend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../tensor/index.js';
import { heatmapFigureSpec, heatmapFigureSvg } from './heatmap-figure.js';

test('the heat map figure: pooled cells in matrix coordinates, title, caption, log colour scale, SVG with axes', async () => {
  const rng = new T.Rng(7);
  const delta = rng.normal([130, 37], 0.1);
  const change = { manhattan: 12.5, ratio: { p50: 0.01, p90: 0.2, p99: 3 } };
  const spec = heatmapFigureSpec({ name: 'model.layers.1.mlp.down_proj.weight', delta, change }) as unknown as {
    title: { text: string; subtitle: string[] };
    data: { values: { row: number; row2: number; col: number; col2: number; v: number }[] };
    encoding: { color: { scale: { type: string; domain: number[] } } };
  };
  assert.equal(spec.title.text, '|ΔW| of model.layers.1.mlp.down_proj.weight [130 × 37]');
  assert.match(spec.title.subtitle.join('\n'), /p50 1\.00e-2, p90 2\.00e-1, p99 3\.00e\+0; Σ\|ΔW\| = 1\.250e\+1/);
  const v = spec.data.values;
  // 130 rows pool in blocks of 2 (65 cells), 37 columns stay single (37 cells)
  assert.equal(v.length, 65 * 37);
  assert.equal(Math.max(...v.map((c) => c.row2)), 130);
  assert.equal(Math.max(...v.map((c) => c.col2)), 37);
  const a = delta.toArray();
  // a block's value is the max |ΔW| of its entries
  const cell = v.find((c) => c.row === 4 && c.col === 5)!;
  assert.equal(cell.v, Math.max(Math.abs(a[4 * 37 + 5]!), Math.abs(a[5 * 37 + 5]!)));
  assert.equal(spec.encoding.color.scale.type, 'log');
  const svg = await heatmapFigureSvg({ name: 'w', delta });
  assert.match(svg, /^<svg/);
  for (const s of ['row (0..129)', 'column (0..36)', '|ΔW|']) assert.ok(svg.includes(s), s);
  delta.dispose();
});
