/**
 * A |ΔW| heat map as a figure (Vega-Lite, rendered to SVG): the matrix pooled to at most 96 × 96
 * blocks (max |ΔW| per block), axes in matrix coordinates labelled with the parameter's name and
 * shape, a log colour scale with its legend, and the δ = |ΔW / W| percentiles in the caption.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Tensor } from '../tensor/index.js';
import { deltaHeatmap } from '../edit/rect/index.js';
import { renderSvg } from './charts.js';

/** Longest side of the figure's grid: enough to see structure, few enough rects for an SVG. */
const FIGURE_CELLS = 96;

export interface HeatmapFigureInput {
  /** parameter name (the title) */
  name: string;
  /** ΔW as stored */
  delta: Tensor;
  /** the weight-change figures of this ΔW (`changeOfDeltas`), for the caption */
  change?: { manhattan: number; ratio: { p50: number; p90: number; p99: number } };
}

/** The Vega-Lite spec of the figure. */
export function heatmapFigureSpec(input: HeatmapFigureInput): TopLevelSpec {
  const h = deltaHeatmap(input.delta, { maxSize: FIGURE_CELLS, scale: 'log' });
  const floor = h.vmax > 0 ? h.vmax * 10 ** -h.decades : 1e-12;
  const values: { row: number; row2: number; col: number; col2: number; v: number }[] = [];
  for (let y = 0; y < h.height; y++)
    for (let x = 0; x < h.width; x++)
      values.push({
        row: y * h.blockRows,
        row2: Math.min(h.rows, (y + 1) * h.blockRows),
        col: x * h.blockCols,
        col2: Math.min(h.cols, (x + 1) * h.blockCols),
        v: Math.max(h.grid[y * h.width + x]!, floor),
      });
  const caption = [
    `max |ΔW| per ${h.blockRows} × ${h.blockCols} block; log colour scale, ${h.decades} decades below the largest (${h.vmax.toExponential(2)})`,
  ];
  const wc = input.change;
  if (wc)
    caption.push(
      `δ = |ΔW/W|: p50 ${wc.ratio.p50.toExponential(2)}, p90 ${wc.ratio.p90.toExponential(2)}, p99 ${wc.ratio.p99.toExponential(2)}; Σ|ΔW| = ${wc.manhattan.toExponential(3)}`,
    );
  const cellW = Math.max(2, Math.round(480 / h.width));
  const cellH = Math.max(2, Math.round(Math.min(480, (480 * h.rows) / Math.max(1, h.cols)) / h.height));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `|ΔW| of ${input.name} [${h.rows} × ${h.cols}]`, subtitle: caption, subtitleFontSize: 10, anchor: 'start' },
    data: { values },
    width: cellW * h.width,
    height: cellH * h.height,
    mark: { type: 'rect' },
    encoding: {
      x: { field: 'col', type: 'quantitative', title: `column (0..${h.cols - 1})`, scale: { domain: [0, h.cols], nice: false } },
      x2: { field: 'col2' },
      y: {
        field: 'row',
        type: 'quantitative',
        title: `row (0..${h.rows - 1})`,
        scale: { domain: [0, h.rows], nice: false, reverse: true },
      },
      y2: { field: 'row2' },
      color: {
        field: 'v',
        type: 'quantitative',
        title: '|ΔW|',
        scale: { type: 'log', domain: [floor, h.vmax || 1], scheme: 'viridis' },
        legend: { format: '.0e' },
      },
    },
  };
}

/** The figure as a standalone SVG document. */
export function heatmapFigureSvg(input: HeatmapFigureInput): Promise<string> {
  return renderSvg(heatmapFigureSpec(input));
}
