/**
 * The report's charts as Vega-Lite specs, compiled with vega-lite and rendered to SVG in Node by
 * vega (no browser, no canvas): downstream scores against edits (one panel per task, one line per
 * variant), the variants side by side at their last checkpoint, the weight change, and the
 * editing metrics. The paper's values are drawn beside a run's own (dashed lines with hollow
 * points, or black ticks on bars) when the series has a matching figure.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import {
  METRIC_COLUMNS,
  paperMetricValues,
  paperTaskValues,
  paperWeightValues,
  seriesPoints,
  taskLabel,
  weightColumns,
  type ReportData,
} from './data.js';
import { PAPER_BASELINES, PAPER_MODEL_LABELS, PAPER_TASK_ORDER } from './paper-values.js';

export interface Chart {
  /** stable id: downstream-paper, comparison-paper, weights, editing */
  id: string;
  title: string;
  /** what is drawn, for the figure caption */
  caption: string;
  spec: TopLevelSpec;
}

export interface RenderedChart extends Chart {
  /** a standalone SVG document */
  svg: string;
}

/**
 * Specs are built as plain objects (Vega-Lite's own types are too deep to write literals against
 * comfortably); vega-lite checks them when it compiles.
 */
const asSpec = (o: Record<string, unknown>): TopLevelSpec => o as unknown as TopLevelSpec;

const OURS = 'measured';
const PAPER = 'paper';
const UNEDITED = 'unedited';
const GRAY = '#8c8c8c';

/** Tableau 10, then its lighter partners: distinct series colours. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#17becf',
  '#a0cbe8',
  '#ffbe7d',
  '#ff9d9a',
  '#8cd17d',
  '#b6992d',
  '#d4a6c8',
];

const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  background: 'white',
  padding: 8,
  view: { stroke: '#d0d0d0' },
  axis: {
    labelFontSize: 11,
    titleFontSize: 11,
    titleFontWeight: 'normal',
    gridColor: '#ececec',
    labelColor: '#333',
    titleColor: '#333',
  },
  legend: {
    labelFontSize: 11,
    titleFontSize: 11,
    labelLimit: 320,
    symbolSize: 90,
    orient: 'bottom',
    direction: 'horizontal',
    columnPadding: 18,
  },
  header: { labelFontSize: 12, labelFontWeight: 'bold', labelColor: '#222', labelPadding: 4 },
  title: { fontSize: 14, anchor: 'start', subtitleFontSize: 11, subtitleColor: '#555', offset: 10 },
  point: { size: 36 },
} as const;

/** One colour per series label, the unedited model in grey; the same in every chart of a report. */
export function colorScale(d: ReportData): { domain: string[]; range: string[] } {
  const domain: string[] = [];
  const range: string[] = [];
  const uneditedLabels = d.compare ? d.runs.map((r) => `${r.name}: ${UNEDITED}`) : [UNEDITED];
  const grays = [GRAY, '#5f5f5f', '#b5b5b5', '#3d3d3d'];
  uneditedLabels.forEach((l, i) => {
    domain.push(l);
    range.push(grays[i % grays.length]!);
  });
  d.series.forEach((s, i) => {
    domain.push(s.label);
    range.push(PALETTE[i % PALETTE.length]!);
  });
  return { domain, range };
}

const uneditedLabel = (d: ReportData, runName: string): string => (d.compare ? `${runName}: ${UNEDITED}` : UNEDITED);

/** Only the labels that occur in the data, so legends list what is drawn. */
function colorFor(d: ReportData, used: Set<string>): { domain: string[]; range: string[] } {
  const all = colorScale(d);
  const keep = all.domain.map((l, i) => [l, all.range[i]!] as const).filter(([l]) => used.has(l));
  return { domain: keep.map(([l]) => l), range: keep.map(([, c]) => c) };
}

interface LineRow {
  panel: string;
  series: string;
  x: number;
  value: number;
  source: string;
}

function xEncoding(d: ReportData, xs: number[]): Record<string, unknown> {
  if (d.sequential)
    return {
      field: 'x',
      type: 'quantitative',
      title: d.xTitle,
      // the axis starts at 0 (the unedited model) even where a chart has no point there
      axis: { format: 'd', tickMinStep: 1, values: xTicks([...new Set([0, ...xs])].sort((a, b) => a - b)) },
      scale: { nice: false, domainMin: 0 },
    };
  return { field: 'x', type: 'ordinal', title: d.xTitle, sort: 'ascending', axis: { labelAngle: 0 } };
}

/**
 * Legend columns that fit the chart's width: entries as wide as the longest label (vega measures
 * text only roughly without a canvas; about 7 px a character at 11 px is on the safe side).
 */
function legendColumns(labels: readonly string[], width: number): number {
  const longest = Math.max(0, ...labels.map((l) => l.length));
  const entry = 20 + 7 * longest + 18;
  return Math.max(1, Math.min(labels.length, Math.floor((width - 20) / entry)));
}

/** Explicit x ticks at the checkpoints when they are few and far enough apart to read. */
function xTicks(xs: number[]): number[] | undefined {
  if (xs.length < 2 || xs.length > 12) return undefined;
  const range = xs[xs.length - 1]! - xs[0]!;
  const gap = Math.min(...xs.slice(1).map((x, i) => x - xs[i]!));
  return gap / range >= 0.07 ? xs : undefined;
}

/** The note drawn in a panel (or bar group) with no score of its own. */
export const NO_SCORE = 'no score';
const NOTE_MARK = { type: 'text', color: '#777', fontSize: 12, fontStyle: 'italic' } as const;

/**
 * Panels of lines, one per entry of `panels` in that order (a concat rather than a facet: a facet
 * draws only the panels that have rows and leaves empty x axes under the missing ones). Ours solid
 * with filled points, the paper's dashed with hollow points; a panel with no measured value of
 * its own shows {@link NO_SCORE} (and no axes when it has nothing at all to draw).
 */
function linePanels(
  d: ReportData,
  rows: LineRow[],
  panels: string[],
  yTitle: string | null,
  opts: { columns: number; width: number; height: number; yDomain?: [number, number] },
): Record<string, unknown> {
  const hasPaper = rows.some((r) => r.source === PAPER);
  const used = new Set(rows.map((r) => r.series));
  const xs = [...new Set(rows.map((r) => r.x))].sort((a, b) => a - b);
  const x = xEncoding(d, xs);
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: colorFor(d, used),
    sort: null,
    legend: { columns: legendColumns([...used], opts.columns * (opts.width + 40)) },
  };
  const only = (src: string): { filter: string }[] => [{ filter: `datum.source === '${src}'` }];
  const strokeDash = {
    field: 'source',
    type: 'nominal',
    title: null,
    scale: {
      domain: [OURS, PAPER],
      range: [
        [1, 0],
        [5, 3],
      ],
    },
    legend: {
      orient: 'top',
      symbolType: 'stroke',
      symbolStrokeColor: '#444',
      symbolStrokeWidth: 1.5,
      symbolSize: 300,
      labelExpr: "datum.label === 'paper' ? 'the paper (Gu et al. 2024)' : datum.label",
    },
  };
  const n = panels.length;
  const has = (i: number, src?: string): boolean =>
    i < n && rows.some((r) => r.panel === panels[i] && (src === undefined || r.source === src));
  const note = {
    data: { values: [{ note: NO_SCORE }] },
    mark: NOTE_MARK,
    encoding: { text: { field: 'note', type: 'nominal' } },
  };
  const title = (panel: string): Record<string, unknown> => ({
    text: panel,
    fontSize: 12,
    fontWeight: 'bold',
    color: '#222',
    anchor: 'middle',
    offset: 4,
  });
  const views = panels.map((panel, i) => {
    if (!has(i))
      return {
        title: title(panel),
        width: opts.width,
        height: opts.height,
        view: { stroke: '#d0d0d0', strokeDash: [4, 3] },
        ...note,
      };
    const mine = rows.filter((r) => r.panel === panel);
    // the x title under the lowest drawn panel of each column; the y title on the first column
    const xp = { ...x, title: has(i + opts.columns) ? null : x['title'] };
    const y = {
      field: 'value',
      type: 'quantitative',
      title: i % opts.columns === 0 ? yTitle : null,
      // all zero: [0, 1] rather than an empty domain
      scale: opts.yDomain
        ? { domain: opts.yDomain, padding: 6 }
        : mine.every((r) => r.value <= 0)
          ? { domain: [0, 1], padding: 6 }
          : { zero: true, nice: true, padding: 6 },
      axis: { tickCount: 5, labelFlush: true },
    };
    const layer: Record<string, unknown>[] = [
      { transform: only(OURS), mark: { type: 'line', strokeWidth: 2, clip: true }, encoding: { x: xp, y, color } },
      { transform: only(OURS), mark: { type: 'point', filled: true, size: 36, opacity: 1 }, encoding: { x: xp, y, color } },
    ];
    if (hasPaper)
      layer.push(
        {
          transform: only(PAPER),
          mark: { type: 'line', strokeWidth: 1.5, opacity: 0.85, clip: true },
          encoding: { x: xp, y, color, strokeDash },
        },
        {
          transform: only(PAPER),
          mark: { type: 'point', filled: false, size: 46, strokeWidth: 1.5, fill: 'white', opacity: 1 },
          encoding: { x: xp, y, color },
        },
      );
    // the paper's values but none of ours
    if (!has(i, OURS)) layer.push(note);
    return {
      title: title(panel),
      width: opts.width,
      height: opts.height,
      transform: [{ filter: { field: 'panel', equal: panel } }],
      layer,
    };
  });
  return {
    data: { values: rows },
    concat: views,
    columns: opts.columns,
    spacing: { row: 20, column: 18 },
    resolve: {
      scale: { x: 'shared', y: 'independent', color: 'shared', strokeDash: 'shared' },
      axis: { x: 'independent', y: 'independent' },
      legend: { color: 'shared', strokeDash: 'shared' },
    },
  };
}

/** The x values of a series' own points (the paper's are drawn only within them). */
function keepPaperX(d: ReportData, own: number[]): (x: number) => boolean {
  if (own.length === 0) return () => false;
  const max = Math.max(...own);
  const set = new Set(own);
  return d.sequential ? (x) => x <= max : (x) => set.has(x);
}

/**
 * The tasks a chart shows, in the paper's order (unknown names after): every task with a line in
 * any mode, and every task the runs' studies name, so that a task without a score in one mode
 * still gets its panel (or bar group) with a note.
 */
export function chartTasks(d: ReportData): string[] {
  const names = new Set(d.tasks);
  for (const r of d.runs) {
    const listed: unknown = r.data.manifest?.study?.tasks?.names;
    if (Array.isArray(listed)) for (const t of listed) if (typeof t === 'string') names.add(t);
  }
  const order = PAPER_TASK_ORDER as readonly string[];
  return [...order.filter((t) => names.has(t)), ...[...names].filter((t) => !order.includes(t)).sort()];
}

/** Task scores against edits (or batch size) in one scorer mode: one panel per task, all of them always. */
export function downstreamChart(d: ReportData, mode: string): Chart | null {
  const tasks = chartTasks(d);
  if (tasks.length === 0) return null;
  const rows: LineRow[] = [];
  const panelOf = (t: string): string => taskLabel(t);
  const paperSources = new Set<string>();
  for (const s of d.series) {
    const own: number[] = [];
    for (const t of tasks)
      for (const p of seriesPoints(s, 'task', t, mode))
        if (p.value !== null && Number.isFinite(p.value)) {
          rows.push({ panel: panelOf(t), series: s.label, x: p.x, value: p.value, source: OURS });
          own.push(p.x);
        }
    const keep = keepPaperX(d, own);
    for (const p of paperTaskValues(s, mode))
      if (keep(p.x) && tasks.includes(p.task)) {
        rows.push({ panel: panelOf(p.task), series: s.label, x: p.x, value: p.value, source: PAPER });
        paperSources.add(p.source);
      }
  }
  // runs with no edited series yet: the unedited model alone
  for (const run of d.runs)
    if (run.series.length === 0)
      for (const l of run.baseline)
        if (l.key.kind === 'task' && l.key.mode === mode && l.value !== null)
          rows.push({ panel: panelOf(l.key.name), series: uneditedLabel(d, run.name), x: 0, value: l.value, source: OURS });
  // the paper's unedited model (§5.1) at x = 0, for series without a figure of their own
  if (mode === 'paper')
    for (const run of d.runs)
      if (run.paperModel && run.series.every((s) => paperTaskValues(s, mode).length === 0)) {
        const b = PAPER_BASELINES[run.paperModel];
        for (const t of tasks)
          if (t in b)
            rows.push({
              panel: panelOf(t),
              series: uneditedLabel(d, run.name),
              x: 0,
              value: b[t as keyof typeof b],
              source: PAPER,
            });
        paperSources.add('§5.1');
      }
  if (!rows.some((r) => r.source === OURS)) return null;
  const panels = tasks.map(panelOf);
  const paperNote = paperSources.size
    ? ` Dashed lines with hollow points: the paper’s values (${[...paperSources].join('; ')}).`
    : '';
  const missing = tasks.filter((t) => !rows.some((r) => r.source === OURS && r.panel === panelOf(t)));
  const missingNote = missing.length
    ? ` “${NO_SCORE}”: the ${mode} scorer gave no value for ${missing.join(', ')} (null in results.jsonl).`
    : '';
  return {
    id: `downstream-${mode}`,
    title: `Downstream tasks vs ${d.xTitle} — ${mode} scorer`,
    caption: `Each task’s score after each checkpoint, one line per variant; ${d.xTitle} 0 is the unedited model.${paperNote}${missingNote}`,
    spec: asSpec({
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CONFIG,
      title: { text: `Downstream tasks vs ${d.xTitle} (${mode} scorer)` },
      ...linePanels(d, rows, panels, 'score', { columns: Math.min(4, panels.length), width: 190, height: 130 }),
    }),
  };
}

interface BarRow {
  group: string;
  series: string;
  value: number;
  source: string;
}

/**
 * Grouped bars (group × series) with the paper's values as black ticks. Every group in `groups`
 * gets its place on the x axis; one without a bar of ours says {@link NO_SCORE}. A bar at 0 is
 * drawn as a line in its colour (a zero-height bar is otherwise invisible, like a missing one).
 */
function groupedBars(
  d: ReportData,
  rows: BarRow[],
  groups: string[],
  yTitle: string,
  opts: { yDomain?: [number, number]; title: string; subtitle?: string },
): Record<string, unknown> {
  const used = new Set(rows.map((r) => r.series));
  const order = colorScale(d).domain.filter((l) => used.has(l));
  const step = Math.max(10, Math.min(22, Math.floor(150 / Math.max(1, order.length))));
  const groupWidth = step * order.length + 16;
  const width = Math.max(420, Math.min(1100, groupWidth * groups.length));
  const height = 220;
  const x = {
    field: 'group',
    type: 'nominal',
    title: null,
    sort: groups,
    axis: { labelAngle: 0, labelLimit: 140 },
    scale: { domain: groups, paddingInner: 0.15 },
  };
  const enc = {
    x,
    xOffset: { field: 'series', type: 'nominal', sort: order, scale: { domain: order, paddingInner: 0.08 } },
    y: {
      field: 'value',
      type: 'quantitative',
      title: yTitle,
      // all zero: keep [0, 1] rather than an empty domain
      scale: opts.yDomain ? { domain: opts.yDomain } : rows.every((r) => r.value <= 0) ? { domain: [0, 1] } : { zero: true },
    },
  };
  const colors = colorFor(d, used);
  const empty = groups.filter((g) => !rows.some((r) => r.group === g && r.source === OURS));
  const layer: Record<string, unknown>[] = [
    {
      transform: [{ filter: `datum.source === '${OURS}'` }],
      mark: { type: 'bar' },
      encoding: {
        ...enc,
        color: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: colors,
          sort: order,
          legend: { columns: legendColumns(order, Math.max(width, 760)) },
        },
      },
    },
  ];
  if (rows.some((r) => r.source === OURS && r.value === 0))
    layer.push({
      transform: [{ filter: `datum.source === '${OURS}' && datum.value === 0` }],
      mark: { type: 'bar', filled: false, strokeWidth: 2 },
      encoding: { ...enc, color: { field: 'series', type: 'nominal', title: null, scale: colors, sort: order } },
    });
  layer.push({
    transform: [{ filter: `datum.source === '${PAPER}'` }],
    mark: { type: 'tick', color: '#111', thickness: 2.5 },
    encoding: enc,
  });
  if (empty.length)
    layer.push({
      data: { values: empty.map((group) => ({ group, note: NO_SCORE })) },
      mark: { ...NOTE_MARK, baseline: 'bottom', dy: -6 },
      encoding: { x, y: { value: height }, text: { field: 'note', type: 'nominal' } },
    });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CONFIG,
    title: { text: opts.title, ...(opts.subtitle ? { subtitle: opts.subtitle } : {}) },
    width,
    height,
    data: { values: rows },
    layer,
  };
}

/** The variants side by side per task at their last checkpoint, the unedited model first. */
export function comparisonChart(d: ReportData, mode: string): Chart | null {
  const tasks = chartTasks(d);
  if (tasks.length === 0 || d.series.length < 2) return null;
  const rows: BarRow[] = [];
  const groupOf = (t: string): string => taskLabel(t).split(' ')[0]!;
  const lastXs: { label: string; x: number }[] = [];
  for (const run of d.runs)
    for (const l of run.baseline)
      if (l.key.kind === 'task' && l.key.mode === mode && l.value !== null && tasks.includes(l.key.name))
        rows.push({ group: groupOf(l.key.name), series: uneditedLabel(d, run.name), value: l.value, source: OURS });
  let anyPaper = false;
  for (const s of d.series) {
    const pts = tasks.flatMap((t) => seriesPoints(s, 'task', t, mode).map((p) => ({ t, p })));
    const xs = pts.map(({ p }) => p.x).filter((x) => x > 0);
    if (xs.length === 0) continue;
    const x = Math.max(...xs);
    lastXs.push({ label: s.label, x });
    for (const { t, p } of pts)
      if (p.x === x && p.value !== null) rows.push({ group: groupOf(t), series: s.label, value: p.value, source: OURS });
    for (const p of paperTaskValues(s, mode))
      if (p.x === x && tasks.includes(p.task)) {
        rows.push({ group: groupOf(p.task), series: s.label, value: p.value, source: PAPER });
        anyPaper = true;
      }
  }
  if (lastXs.length < 2) return null;
  const maxX = Math.max(...lastXs.map((l) => l.x));
  const short = lastXs.filter((l) => l.x !== maxX);
  const xText = (x: number): string => (d.sequential ? `after ${x} edit${x === 1 ? '' : 's'}` : `at batch size ${x}`);
  const at = short.length === 0 ? xText(maxX) : 'at each variant’s last checkpoint';
  const subtitle = [
    short.length ? `${xText(maxX)}, except ${short.map((l) => `${l.label} (${l.x})`).join(', ')}` : '',
    anyPaper ? 'black ticks: the paper’s values' : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const zero = rows.some((r) => r.source === OURS && r.value === 0) ? ' A score of 0 is drawn as a line on the axis.' : '';
  const missing = tasks.filter((t) => !rows.some((r) => r.source === OURS && r.group === groupOf(t)));
  const missingNote = missing.length ? ` “${NO_SCORE}”: no ${mode}-scorer value for ${missing.join(', ')}.` : '';
  return {
    id: `comparison-${mode}`,
    title: `Variants compared ${at} — ${mode} scorer`,
    caption: `Each task’s score for every variant ${at}, beside the unedited model.${anyPaper ? ' Black ticks: the paper’s values at the same point.' : ''}${zero}${missingNote}`,
    spec: asSpec(
      groupedBars(d, rows, tasks.map(groupOf), 'score', {
        title: `Variants compared ${at} (${mode} scorer)`,
        ...(subtitle ? { subtitle } : {}),
      }),
    ),
  };
}

/** Σ|ΔW| and the shares of entries above the δ thresholds against edits. */
export function weightsChart(d: ReportData): Chart | null {
  const names = new Set(d.runs.flatMap((r) => r.data.lines.filter((l) => l.key.kind === 'weights').map((l) => l.key.name)));
  const cols = weightColumns(names).filter((c) => c.name === 'manhattan' || c.percent);
  if (cols.length === 0) return null;
  const rows: LineRow[] = [];
  let anyPaper = false;
  for (const s of d.series) {
    const own: number[] = [];
    for (const c of cols)
      for (const p of seriesPoints(s, 'weights', c.name))
        if (p.x > 0 && p.value !== null && Number.isFinite(p.value)) {
          rows.push({ panel: c.label, series: s.label, x: p.x, value: c.percent ? p.value * 100 : p.value, source: OURS });
          own.push(p.x);
        }
    const keep = keepPaperX(d, own);
    for (const p of paperWeightValues(s)) {
      const c = cols.find((x) => x.name === p.name);
      if (c && keep(p.x)) {
        rows.push({ panel: c.label, series: s.label, x: p.x, value: c.percent ? p.value * 100 : p.value, source: PAPER });
        anyPaper = true;
      }
    }
  }
  if (!rows.some((r) => r.source === OURS)) return null;
  return {
    id: 'weights',
    title: `Weight change vs ${d.xTitle}`,
    caption: `Cumulative change of the edited weights: Σ|ΔW| and the share (%) of entries whose relative change δ = |ΔW/W| exceeds each threshold.${anyPaper ? ' Dashed: the paper’s values (§5.6, GPT-2 XL layer 17).' : ''}`,
    spec: asSpec({
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      config: CONFIG,
      title: { text: `Weight change vs ${d.xTitle}` },
      ...linePanels(
        d,
        rows,
        cols.map((c) => c.label),
        null,
        { columns: cols.length, width: 230, height: 150 },
      ),
    }),
  };
}

/** Rel / Gen / Loc / Port per variant at its last checkpoint, with the unedited model's pre values. */
export function editingChart(d: ReportData): Chart | null {
  const present = new Set(d.runs.flatMap((r) => r.data.lines.filter((l) => l.key.kind === 'metric').map((l) => l.key.name)));
  const cols = METRIC_COLUMNS.slice(0, 4)
    .map((c) => ({ label: c.label, name: c.names.find((n) => present.has(n)) }))
    .filter((c): c is { label: string; name: string } => c.name !== undefined);
  if (cols.length === 0) return null;
  const rows: BarRow[] = [];
  for (const run of d.runs)
    for (const c of cols) {
      const l = run.baseline.find((x) => x.key.kind === 'metric' && x.key.name === c.name);
      if (l && l.value !== null) rows.push({ group: c.label, series: uneditedLabel(d, run.name), value: l.value, source: OURS });
    }
  let anyPaper = false;
  const models = new Set<string>();
  for (const s of d.series) {
    const byCol = cols.map((c) => ({ c, pts: seriesPoints(s, 'metric', c.name).filter((p) => p.x > 0) }));
    const xs = byCol.flatMap((b) => b.pts.map((p) => p.x));
    if (xs.length === 0) continue;
    const x = Math.max(...xs);
    for (const { c, pts } of byCol) {
      const p = pts.find((q) => q.x === x);
      if (p && p.value !== null) rows.push({ group: c.label, series: s.label, value: p.value, source: OURS });
    }
    for (const p of paperMetricValues(s)) {
      const c = cols.find((q) => q.name === p.metric);
      if (c) {
        rows.push({ group: c.label, series: s.label, value: p.value, source: PAPER });
        anyPaper = true;
        models.add(PAPER_MODEL_LABELS[p.model]);
      }
    }
  }
  if (!rows.some((r) => r.source === OURS)) return null;
  return {
    id: 'editing',
    title: 'Editing performance',
    caption: `Rel (rewrite), Gen (rephrase), Loc (locality), Port (portability) accuracy of each variant at its last checkpoint; the unedited model’s values are before editing.${anyPaper ? ' Black ticks: the paper’s values (§5.4).' : ''}`,
    spec: asSpec(
      groupedBars(
        d,
        rows,
        cols.map((c) => c.label),
        'accuracy',
        {
          yDomain: [0, 1],
          title: 'Editing performance at the last checkpoint',
          ...(anyPaper ? { subtitle: `black ticks: the paper’s values (${[...models].join(', ')}, §5.4)` } : {}),
        },
      ),
    ),
  };
}

/** Every chart the data supports, in report order. `modes`: the scorer modes to draw (default paper, else the first present). */
export function buildCharts(d: ReportData, modes?: readonly string[]): Chart[] {
  // default: the paper scorer, or the first mode with any score when paper mode has none (a tiny model)
  const scored = d.modes.filter((m) =>
    d.runs.some((r) =>
      r.data.lines.some((l) => l.key.kind === 'task' && l.key.mode === m && l.value !== null && Number.isFinite(l.value)),
    ),
  );
  const want = modes ?? (scored.includes('paper') ? ['paper'] : scored.length ? scored.slice(0, 1) : d.modes.slice(0, 1));
  const charts: (Chart | null)[] = [
    ...want.filter((m) => d.modes.includes(m)).map((m) => downstreamChart(d, m)),
    ...want.filter((m) => d.modes.includes(m)).map((m) => comparisonChart(d, m)),
    editingChart(d),
    weightsChart(d),
  ];
  return charts.filter((c): c is Chart => c !== null);
}

/** Compile a Vega-Lite spec and render it to a standalone SVG document in Node. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function renderCharts(charts: readonly Chart[]): Promise<RenderedChart[]> {
  const out: RenderedChart[] = [];
  for (const c of charts) out.push({ ...c, svg: await renderSvg(c.spec) });
  return out;
}
