/**
 * Weight-change analysis (the RECT paper's §3 measurements): Manhattan distance Σ|W_edited − W_0|,
 * percentiles of the relative change δ = |ΔW/W|, the fraction of entries above δ thresholds —
 * per edit and cumulative over sequential edits — and |ΔW| heat maps (PNG + CSV/JSON).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { encode as encodePng } from 'fast-png';
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { percentiles } from './select.js';
import { F64Reader, forEachRatio, ratioStream, type ChangePair } from './stream.js';
import { colorOf, type Colormap } from './colormap.js';

/** The δ thresholds of the paper's figures. */
export const DEFAULT_THRESHOLDS: readonly number[] = [0.077, 0.171];

export interface AnalysisOptions {
  /** count entries with δ strictly above each (default [0.077, 0.171]) */
  thresholds?: readonly number[];
}

/** The change of one parameter (or of all of them: `name` '*'). */
export interface ChangeStats {
  name: string;
  numel: number;
  /** Σ|ΔW| (Manhattan / L1 distance between the two weights), in float64 */
  manhattan: number;
  /** ‖ΔW‖_F */
  frobenius: number;
  /** entries with ΔW ≠ 0 */
  nonzero: number;
  /** percentiles of δ = |ΔW/W| over all entries (numpy linear interpolation; W = 0 → +∞ or 0) */
  ratio: { p50: number; p90: number; p99: number; max: number };
  /** entries with W = 0 and ΔW ≠ 0 */
  infCount: number;
  above: { threshold: number; count: number; fraction: number }[];
}

export interface WeightChange {
  params: ChangeStats[];
  /** sums over the parameters; ratio percentiles over the union of their entries */
  total: ChangeStats;
}

export type NamedChange = { name: string } & ChangePair;

function numelOf(p: ChangePair): number {
  return 'delta' in p ? p.delta.size : p.after.size;
}

/** Everything but the percentiles, in one pass. */
function scan(name: string, pairs: readonly ChangePair[], thresholds: readonly number[]): ChangeStats {
  let manhattan = 0;
  let sq = 0;
  let nonzero = 0;
  let max = 0;
  let infCount = 0;
  const counts = new Float64Array(thresholds.length);
  forEachRatio(
    pairs,
    (ratio, _w, delta, n) => {
      let l1 = 0;
      let l2 = 0;
      let nz = 0;
      let mx = max;
      let inf = 0;
      for (let j = 0; j < n; j++) {
        const d = Math.abs(delta[j]!);
        l1 += d;
        l2 += d * d;
        if (d !== 0) nz++;
        const r = ratio[j]!;
        if (r > mx) mx = r;
        if (r === Infinity) inf++;
      }
      for (let k = 0; k < thresholds.length; k++) {
        const thr = thresholds[k]!;
        let c = 0;
        for (let j = 0; j < n; j++) if (ratio[j]! > thr) c++;
        counts[k]! += c;
      }
      manhattan += l1;
      sq += l2;
      nonzero += nz;
      max = mx;
      infCount += inf;
    },
    'weightChange',
  );
  const numel = pairs.reduce((s, p) => s + numelOf(p), 0);
  return {
    name,
    numel,
    manhattan,
    frobenius: Math.sqrt(sq),
    nonzero,
    ratio: { p50: NaN, p90: NaN, p99: NaN, max: numel > 0 ? max : NaN },
    infCount,
    above: thresholds.map((threshold, k) => ({ threshold, count: counts[k]!, fraction: numel > 0 ? counts[k]! / numel : 0 })),
  };
}

function withPercentiles(s: ChangeStats, pairs: readonly ChangePair[]): ChangeStats {
  const [p50, p90, p99] = percentiles(ratioStream(pairs, 'weightChange'), s.numel, [50, 90, 99]);
  return { ...s, ratio: { p50: p50!, p90: p90!, p99: p99!, max: s.ratio.max } };
}

/**
 * Measure how much each parameter changed: give each as `{name, delta, base}` (ΔW and the
 * weight it is relative to) or `{name, after, before}` (two states of the weight).
 * Streams the matrices (no float64 copies): 3 passes per parameter, 2 more for the union.
 * @example
 * const wc = weightChange([{ name, delta: result.deltas.get(name)!, base: W0 }]);
 * wc.total.manhattan; wc.params[0].above[0].fraction; // share of entries with δ > 0.077
 */
export function weightChange(items: readonly NamedChange[], opts: AnalysisOptions = {}): WeightChange {
  const thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
  const params = items.map((it) => withPercentiles(scan(it.name, [it], thresholds), [it]));
  if (params.length === 1) return { params, total: { ...params[0]!, name: '*' } };
  const numel = params.reduce((s, p) => s + p.numel, 0);
  const sum = (f: (p: ChangeStats) => number): number => params.reduce((s, p) => s + f(p), 0);
  let total: ChangeStats = {
    name: '*',
    numel,
    manhattan: sum((p) => p.manhattan),
    frobenius: Math.sqrt(sum((p) => p.frobenius ** 2)),
    nonzero: sum((p) => p.nonzero),
    ratio: { p50: NaN, p90: NaN, p99: NaN, max: numel > 0 ? Math.max(...params.map((p) => p.ratio.max)) : NaN },
    infCount: sum((p) => p.infCount),
    above: thresholds.map((threshold, k) => {
      const count = sum((p) => p.above[k]!.count);
      return { threshold, count, fraction: numel > 0 ? count / numel : 0 };
    }),
  };
  if (numel > 0) total = withPercentiles(total, items);
  return { params, total };
}

/**
 * The change that `deltas` (ΔW per parameter, stored layout) made to weights that now hold them:
 * each is measured against `current(name) − ΔW`, the weight before.
 * @example const wc = changeOfDeltas(result.deltas, (n) => model.param(n));
 */
export function changeOfDeltas(
  deltas: Iterable<[string, Tensor]>,
  current: (name: string) => Tensor,
  opts: AnalysisOptions = {},
): WeightChange {
  return T.tidy(() =>
    weightChange(
      [...deltas].map(([name, delta]) => {
        const after = current(name);
        return { name, after, before: T.sub(T.cast(after, 'float32'), delta) };
      }),
      opts,
    ),
  );
}

/**
 * Follows a set of weights over sequential edits: after each edit, `step()` reports the change
 * made by that edit (relative to the weight just before it) and the cumulative change
 * (relative to W_0). Holds two copies of each tracked weight (W_0 and the previous state).
 * @example
 * const tr = new WeightChangeTracker();
 * tr.track(name, model.param(name));
 * for (const req of requests) { rome.apply(model, [req], hp, ctx); tr.step((n) => model.param(n)); }
 * tr.history.map((h) => h.cumulative.total.manhattan);
 */
export class WeightChangeTracker {
  readonly history: { label: string; perEdit: WeightChange; cumulative: WeightChange }[] = [];
  private readonly w0 = new Map<string, Tensor>();
  private readonly prev = new Map<string, Tensor>();

  constructor(private readonly opts: AnalysisOptions = {}) {}

  /** Remember W_0 of a parameter (a copy; later calls for the same name are ignored). */
  track(name: string, W: Tensor): void {
    if (this.w0.has(name)) return;
    const c = T.keep(T.noGrad(() => T.clone(W)));
    this.w0.set(name, c);
    this.prev.set(name, c);
  }

  /** Measure after an edit; `current(name)` gives the weight now. */
  step(
    current: (name: string) => Tensor,
    label = `edit ${this.history.length + 1}`,
  ): { perEdit: WeightChange; cumulative: WeightChange } {
    const names = [...this.w0.keys()];
    const now = names.map((n) => current(n));
    const perEdit = weightChange(
      names.map((name, i) => ({ name, after: now[i]!, before: this.prev.get(name)! })),
      this.opts,
    );
    const cumulative = weightChange(
      names.map((name, i) => ({ name, after: now[i]!, before: this.w0.get(name)! })),
      this.opts,
    );
    names.forEach((name, i) => {
      const old = this.prev.get(name)!;
      if (old !== this.w0.get(name)) old.dispose();
      this.prev.set(name, T.keep(T.noGrad(() => T.clone(now[i]!))));
    });
    const entry = { label, perEdit, cumulative };
    this.history.push(entry);
    return { perEdit, cumulative };
  }

  /** Free the copies. */
  dispose(): void {
    for (const [name, t] of this.prev) if (t !== this.w0.get(name)) t.dispose();
    for (const t of this.w0.values()) t.dispose();
    this.prev.clear();
    this.w0.clear();
  }
}

// ---- heat maps -----------------------------------------------------------------------------

export interface HeatmapOptions {
  /** longest side of the pooled grid (default 1024); blocks are max-pooled */
  maxSize?: number;
  /** colour scale (default 'log') */
  scale?: 'log' | 'linear';
  /** log scale: decades below vmax shown (default 6); smaller values draw as 0 */
  decades?: number;
  /** default 'viridis' */
  colormap?: Colormap;
  /** top of the scale (default the grid's max); fix it to compare maps */
  vmax?: number;
}

/** A max-pooled |ΔW| map of a matrix in its stored layout (rows × cols as passed). */
export interface Heatmap {
  rows: number;
  cols: number;
  /** each cell pools blockRows × blockCols entries (fewer at the bottom/right edges) */
  blockRows: number;
  blockCols: number;
  height: number;
  width: number;
  /** [height, width] row-major: max |ΔW| per block */
  grid: Float64Array;
  scale: 'log' | 'linear';
  decades: number;
  colormap: Colormap;
  vmax: number;
}

/**
 * Max-pool |ΔW| of a matrix (rank-1 tensors are one row; higher ranks fold leading dims) into
 * at most maxSize × maxSize cells.
 * @example const h = deltaHeatmap(result.deltas.get(name)!); writeHeatmap('out/rome_l17', h);
 */
export function deltaHeatmap(delta: Tensor | { after: Tensor; before: Tensor }, opts: HeatmapOptions = {}): Heatmap {
  const a = delta instanceof T.Tensor ? delta : delta.after;
  const b = delta instanceof T.Tensor ? null : delta.before;
  if (b && (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])))
    throw new Error('deltaHeatmap: after/before shapes differ');
  const cols = a.rank === 0 ? 1 : a.shape[a.rank - 1]!;
  const rows = cols === 0 ? 0 : a.size / cols;
  const maxSize = opts.maxSize ?? 1024;
  if (!(Number.isInteger(maxSize) && maxSize >= 1))
    throw new Error(`deltaHeatmap: maxSize must be a positive integer, got ${maxSize}`);
  const blockRows = Math.max(1, Math.ceil(rows / maxSize));
  const blockCols = Math.max(1, Math.ceil(cols / maxSize));
  const height = Math.ceil(rows / blockRows);
  const width = Math.ceil(cols / blockCols);
  const grid = new Float64Array(height * width);
  const colBlock = new Int32Array(cols);
  for (let c = 0; c < cols; c++) colBlock[c] = Math.floor(c / blockCols);
  const ra = new F64Reader(a);
  const rb = b ? new F64Reader(b) : null;
  const row = new Float64Array(cols);
  const rowB = new Float64Array(cols);
  try {
    for (let r = 0; r < rows; r++) {
      ra.read(r * cols, cols, row);
      if (rb) {
        rb.read(r * cols, cols, rowB);
        for (let c = 0; c < cols; c++) row[c] = row[c]! - rowB[c]!;
      }
      const base = Math.floor(r / blockRows) * width;
      for (let c = 0; c < cols; c++) {
        const v = Math.abs(row[c]!);
        const k = base + colBlock[c]!;
        if (v > grid[k]!) grid[k] = v;
        else if (v !== v) grid[k] = NaN;
      }
    }
  } finally {
    ra.dispose();
    rb?.dispose();
  }
  let vmax = opts.vmax ?? 0;
  if (opts.vmax === undefined) for (const v of grid) if (v > vmax) vmax = v;
  return {
    rows,
    cols,
    blockRows,
    blockCols,
    height,
    width,
    grid,
    scale: opts.scale ?? 'log',
    decades: opts.decades ?? 6,
    colormap: opts.colormap ?? 'viridis',
    vmax,
  };
}

/** Position of v on the map's colour scale, in [0, 1]. */
export function heatmapLevel(h: Heatmap, v: number): number {
  if (!(v > 0) || !(h.vmax > 0)) return 0;
  if (h.scale === 'linear') return Math.min(1, v / h.vmax);
  const t = (Math.log10(v) - (Math.log10(h.vmax) - h.decades)) / h.decades;
  return Math.min(1, Math.max(0, t));
}

/**
 * The map as PNG bytes (grayscale for 'gray', RGB otherwise). zlib level 6 (fast-png defaults to
 * 3) keeps the files byte-identical to those lmedit wrote before it used fast-png.
 */
export function heatmapPng(h: Heatmap): Uint8Array {
  const n = h.width * h.height;
  const png = (data: Uint8Array, channels: 1 | 3): Uint8Array =>
    encodePng({ width: h.width, height: h.height, data, channels, depth: 8 }, { zlib: { level: 6 } });
  if (h.colormap === 'gray') {
    const px = new Uint8Array(n);
    for (let i = 0; i < n; i++) px[i] = colorOf(heatmapLevel(h, h.grid[i]!), 'gray')[0];
    return png(px, 1);
  }
  const px = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) px.set(colorOf(heatmapLevel(h, h.grid[i]!), h.colormap), i * 3);
  return png(px, 3);
}

/** The pooled grid as CSV: `height` lines of `width` comma-separated max |ΔW| values. */
export function heatmapCsv(h: Heatmap): string {
  const lines: string[] = [];
  for (let y = 0; y < h.height; y++) {
    const cells: string[] = [];
    for (let x = 0; x < h.width; x++) cells.push(h.grid[y * h.width + x]!.toPrecision(7));
    lines.push(cells.join(','));
  }
  return lines.join('\n') + '\n';
}

/**
 * Write `<base>.png`, `<base>.csv` (the pooled grid) and `<base>.json` (geometry, scale and the
 * grid as nested arrays); returns the paths.
 * @example writeHeatmap('runs/rome/c_proj_17', deltaHeatmap(dW, { scale: 'log' }));
 */
export function writeHeatmap(base: string, h: Heatmap): { png: string; csv: string; json: string } {
  mkdirSync(dirname(base), { recursive: true });
  const paths = { png: `${base}.png`, csv: `${base}.csv`, json: `${base}.json` };
  writeFileSync(paths.png, heatmapPng(h));
  writeFileSync(paths.csv, heatmapCsv(h));
  const grid: number[][] = [];
  for (let y = 0; y < h.height; y++) grid.push(Array.from(h.grid.subarray(y * h.width, (y + 1) * h.width)));
  const meta = { ...h, grid: undefined };
  writeFileSync(
    paths.json,
    JSON.stringify({ ...meta, pooled: 'max |ΔW| per block', layout: 'stored (rows × cols as passed)', grid }),
  );
  return paths;
}
