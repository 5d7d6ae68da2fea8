/**
 * The report's tables, shaped like the paper's: per variant and scorer mode, task × number of
 * edits; the unedited model; the variants side by side at their last checkpoint; editing
 * performance (Rel / Gen / Loc / Port); the weight change; failures. Each table is data (strings)
 * rendered to Markdown or HTML; the tidy CSV is written from the result lines directly.
 */
import type { ResultLine } from '../study/types.js';
import {
  METRIC_COLUMNS,
  paperMetricValues,
  paperTaskValues,
  paperWeightValues,
  seriesPoints,
  taskLabel,
  weightColumns,
  type ReportData,
  type Series,
} from './data.js';
import { PAPER_BASELINES, PAPER_MODEL_LABELS, type PaperTaskValue } from './paper-values.js';

export interface TableRow {
  cells: string[];
  /** a row of the paper's reference numbers */
  paper?: boolean;
}

export interface Table {
  /** stable id (for anchors and tests) */
  id: string;
  title: string;
  note?: string;
  columns: string[];
  rows: TableRow[];
}

export interface ReportTables {
  baseline: Table[];
  /** per scorer mode: per series (and the paper's matching figure) */
  downstream: { mode: string; tables: Table[] }[];
  comparison: Table[];
  editing: Table[];
  weights: Table[];
  failures: Table[];
}

export const EMPTY = '—';

/** A score: 3 decimals; null (undefined by the scorer) as an em dash. */
export function fmtScore(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return EMPTY;
  return v.toFixed(3);
}

function fmtPpl(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? EMPTY : v.toFixed(1);
}

function fmtWeight(v: number | null | undefined, percent: boolean): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return EMPTY;
  if (percent) return (v * 100).toFixed(1);
  if (Math.abs(v) >= 100) return v.toFixed(1);
  return Number(v.toPrecision(4)).toString();
}

const fmtPaper = (p: PaperTaskValue | undefined): string => (p ? (p.approx && p.value === 0 ? '~0' : p.value.toFixed(3)) : '');

const xLabel = (x: number, partial: boolean): string => `${x}${partial ? '†' : ''}`;

const PARTIAL_NOTE = '† measured at a checkpoint that did not finish (the run stopped there).';

const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

function baselineTables(d: ReportData): Table[] {
  if (d.tasks.length === 0) return [];
  const rows: TableRow[] = [];
  for (const run of d.runs) {
    for (const mode of d.modes) {
      const vals = d.tasks.map((t) => run.baseline.find((l) => l.key.kind === 'task' && l.key.name === t && l.key.mode === mode));
      if (vals.every((v) => v === undefined)) continue;
      rows.push({ cells: [d.compare ? run.name : 'this run', mode, ...vals.map((v) => (v ? fmtScore(v.value) : ''))] });
    }
  }
  const models = new Set(d.runs.map((r) => r.paperModel).filter((m) => m !== null));
  for (const m of models) {
    const b = PAPER_BASELINES[m];
    rows.push({
      cells: [`paper, ${PAPER_MODEL_LABELS[m]} (§5.1)`, 'paper', ...d.tasks.map((t) => fmtScore(b[t as keyof typeof b]))],
      paper: true,
    });
  }
  if (rows.length === 0) return [];
  return [
    {
      id: 'baseline',
      title: 'Downstream scores of the unedited model',
      columns: ['', 'scorer', ...d.tasks.map(taskLabel)],
      rows,
    },
  ];
}

function downstreamTables(d: ReportData, mode: string): Table[] {
  const out: Table[] = [];
  for (const s of d.series) {
    const byTask = new Map(d.tasks.map((t) => [t, seriesPoints(s, 'task', t, mode)]));
    const xs = [...new Set([...byTask.values()].flatMap((ps) => ps.map((p) => p.x)))].sort((a, b) => a - b);
    if (xs.length === 0) continue;
    let partial = false;
    const rows = xs.map((x) => {
      const pts = d.tasks.map((t) => byTask.get(t)!.find((p) => p.x === x));
      const part = pts.some((p) => p?.partial === true);
      partial ||= part;
      return { cells: [xLabel(x, part), ...pts.map((p) => (p ? fmtScore(p.value) : ''))] };
    });
    out.push({
      id: `downstream-${mode}-${slug(s.label)}`,
      title: `${s.label} — ${mode} scorer`,
      ...(partial ? { note: PARTIAL_NOTE } : {}),
      columns: [d.xTitle, ...d.tasks.map(taskLabel)],
      rows,
    });
    const paper = paperTaskValues(s, mode);
    if (paper.length) {
      const pxs = [...new Set(paper.map((p) => p.x))].sort((a, b) => a - b);
      const ptasks = d.tasks.filter((t) => paper.some((p) => p.task === t));
      out.push({
        id: `paper-${mode}-${slug(s.label)}`,
        title: `${s.label} — the paper (${PAPER_MODEL_LABELS[s.paper!.model]}, ${paper.at(-1)!.source})`,
        note: 'Read off the paper’s figures (±0.01–0.02); ~0 = a bar indistinguishable from zero.',
        columns: [d.xTitle, ...ptasks.map(taskLabel)],
        rows: pxs.map((x) => ({
          cells: [String(x), ...ptasks.map((t) => fmtPaper(paper.find((p) => p.x === x && p.task === t)))],
          paper: true,
        })),
      });
    }
  }
  return out;
}

/** The largest x of a series that has any task line in `mode`. */
function lastTaskX(d: ReportData, s: Series, mode: string): number | null {
  const xs = d.tasks.flatMap((t) => seriesPoints(s, 'task', t, mode).map((p) => p.x)).filter((x) => x > 0);
  return xs.length ? Math.max(...xs) : null;
}

function comparisonTables(d: ReportData): Table[] {
  if (d.series.length < 2 || d.tasks.length === 0) return [];
  const out: Table[] = [];
  for (const mode of d.modes) {
    const rows: TableRow[] = [];
    for (const run of d.runs) {
      const vals = d.tasks.map((t) => run.baseline.find((l) => l.key.kind === 'task' && l.key.name === t && l.key.mode === mode));
      if (vals.some((v) => v !== undefined))
        rows.push({
          cells: [d.compare ? `${run.name}: unedited` : 'unedited', '0', ...vals.map((v) => (v ? fmtScore(v.value) : ''))],
        });
    }
    const paperRows: TableRow[] = [];
    for (const s of d.series) {
      const x = lastTaskX(d, s, mode);
      if (x === null) continue;
      const pts = d.tasks.map((t) => seriesPoints(s, 'task', t, mode).find((p) => p.x === x));
      rows.push({ cells: [s.label, String(x), ...pts.map((p) => (p ? fmtScore(p.value) : ''))] });
      const paper = paperTaskValues(s, mode).filter((p) => p.x === x);
      if (paper.length)
        paperRows.push({
          cells: [`paper: ${s.label}`, String(x), ...d.tasks.map((t) => fmtPaper(paper.find((p) => p.task === t)))],
          paper: true,
        });
    }
    if (rows.length < 2) continue;
    out.push({
      id: `comparison-${mode}`,
      title: `Variants at their last checkpoint — ${mode} scorer`,
      columns: ['variant', d.xTitle, ...d.tasks.map(taskLabel)],
      rows: [...rows, ...paperRows],
    });
  }
  return out;
}

function editingTables(d: ReportData): Table[] {
  const present = new Set(d.runs.flatMap((r) => r.data.lines.filter((l) => l.key.kind === 'metric').map((l) => l.key.name)));
  const cols = METRIC_COLUMNS.map((c) => ({ ...c, name: c.names.find((n) => present.has(n)) })).filter(
    (c): c is typeof c & { name: string } => c.name !== undefined,
  );
  if (cols.length === 0) return [];
  const rows: TableRow[] = [];
  const val = (l: ResultLine | undefined): string => (l ? fmtScore(l.value) : '');
  for (const run of d.runs) {
    const pre = cols.map((c) => run.baseline.find((l) => l.key.kind === 'metric' && l.key.name === c.name));
    if (pre.some((l) => l !== undefined))
      rows.push({
        cells: [
          d.compare ? `${run.name}: unedited (pre)` : 'unedited (pre)',
          '0',
          ...pre.map((l, i) => (cols[i]!.name === 'perplexity' ? fmtPpl(l?.value) : val(l))),
        ],
      });
  }
  const paperRows: TableRow[] = [];
  for (const s of d.series) {
    rows.push(...checkpointRows(s, 'metric', cols, (v, i) => (cols[i]!.name === 'perplexity' ? fmtPpl(v) : fmtScore(v))));
    const paper = paperMetricValues(s);
    if (paper.length)
      paperRows.push({
        cells: [
          `paper: ${s.label} (${PAPER_MODEL_LABELS[s.paper!.model]})`,
          '',
          ...cols.map((c) => {
            const p = paper.find((v) => v.metric === c.name);
            return p ? p.value.toFixed(3) : '';
          }),
        ],
        paper: true,
      });
  }
  if (rows.length === 0) return [];
  return [
    {
      id: 'editing',
      title: 'Editing performance',
      note: `Rel = rewrite accuracy, Gen = rephrase accuracy (generalisation), Loc = locality, Port = portability; token accuracy, mean over the requests edited so far.${cols.some((c) => c.name === 'unrelated_recall' || c.name === 'perplexity') ? ' Unrel. recall = greedy recall of facts no edit touches; PPL = perplexity on held-out text (the model as it is at the checkpoint).' : ''}${paperRows.length ? ' The paper’s values (§5.4) are from its RECT experiments.' : ''}`,
      columns: ['variant', d.xTitle, ...cols.map((c) => c.label)],
      rows: [...rows, ...paperRows],
    },
  ];
}

/** One row per checkpoint (x > 0) of a series: its label, x, and one formatted cell per column. */
function checkpointRows(
  s: Series,
  kind: 'metric' | 'weights',
  cols: readonly { name: string }[],
  fmt: (value: number | null, column: number) => string,
): TableRow[] {
  const pts = cols.map((c) => seriesPoints(s, kind, c.name).filter((p) => p.x > 0));
  const xs = [...new Set(pts.flatMap((ps) => ps.map((p) => p.x)))].sort((a, b) => a - b);
  return xs.map((x) => {
    const at = pts.map((ps) => ps.find((p) => p.x === x));
    const partial = at.some((p) => p?.partial === true);
    return { cells: [s.label, xLabel(x, partial), ...at.map((p, i) => (p ? fmt(p.value, i) : ''))] };
  });
}

function weightTables(d: ReportData): Table[] {
  const names = new Set(d.runs.flatMap((r) => r.data.lines.filter((l) => l.key.kind === 'weights').map((l) => l.key.name)));
  if (names.size === 0) return [];
  const cols = weightColumns(names);
  const rows: TableRow[] = [];
  const paperRows: TableRow[] = [];
  for (const s of d.series) {
    rows.push(...checkpointRows(s, 'weights', cols, (v, i) => fmtWeight(v, cols[i]!.percent)));
    const paper = paperWeightValues(s);
    for (const x of [...new Set(paper.map((p) => p.x))].sort((a, b) => a - b)) {
      paperRows.push({
        cells: [
          `paper: ${s.label}`,
          String(x),
          ...cols.map((c) => {
            const p = paper.find((v) => v.x === x && v.name === c.name);
            return p ? fmtWeight(p.value, c.percent) : '';
          }),
        ],
        paper: true,
      });
    }
  }
  if (rows.length === 0) return [];
  return [
    {
      id: 'weights',
      title: 'Weight change (cumulative, all edited weights)',
      note: `Σ|ΔW| = Manhattan distance to the unedited weights; δ = |ΔW/W|; % δ > t = share of entries whose relative change exceeds t (0.077 and 0.171 are the paper’s 80th/90th percentiles of δ after one ROME edit on GPT-2 XL).${paperRows.length ? ' The paper’s values (§5.6) are for one layer (most likely layer 17’s c_proj).' : ''}`,
      columns: ['variant', d.xTitle, ...cols.map((c) => c.label)],
      rows: [...rows, ...paperRows],
    },
  ];
}

function failureTables(d: ReportData): Table[] {
  const rows = d.runs.flatMap((r) =>
    r.failures.map((l) => ({
      cells: [
        ...(d.compare ? [r.name] : []),
        l.key.cell,
        l.variant,
        String(l.key.checkpoint),
        typeof l.values['error'] === 'string' ? l.values['error'] : JSON.stringify(l.values['error'] ?? null),
      ],
    })),
  );
  if (rows.length === 0) return [];
  return [
    {
      id: 'failures',
      title: 'Cells that failed (no later checkpoints)',
      columns: [...(d.compare ? ['run'] : []), 'cell', 'variant', 'checkpoint', 'error'],
      rows,
    },
  ];
}

export function buildTables(d: ReportData): ReportTables {
  return {
    baseline: baselineTables(d),
    downstream: d.modes.map((mode) => ({ mode, tables: downstreamTables(d, mode) })).filter((x) => x.tables.length > 0),
    comparison: comparisonTables(d),
    editing: editingTables(d),
    weights: weightTables(d),
    failures: failureTables(d),
  };
}

// ---- rendering ----------------------------------------------------------------------------

const mdCell = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function tableToMarkdown(t: Table): string {
  const num = numericColumns(t);
  const lines = [`### ${t.title}`, ''];
  if (t.note) lines.push(t.note, '');
  lines.push(`| ${t.columns.map(mdCell).join(' | ')} |`);
  lines.push(`|${t.columns.map((_, i) => (i > 0 && num[i] ? ' ---: ' : ' --- ')).join('|')}|`);
  for (const r of t.rows) lines.push(`| ${r.cells.map(mdCell).join(' | ')} |`);
  return lines.join('\n') + '\n';
}

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Columns whose cells are all numbers (or empty / em dash / ~0), right-aligned. */
function numericColumns(t: Table): boolean[] {
  return t.columns.map((_, i) =>
    t.rows.every((r) => {
      const c = r.cells[i] ?? '';
      return c === '' || c === EMPTY || /^[-+~]?\d[\d.,e+-]*†?$/i.test(c);
    }),
  );
}

export function tableToHtml(t: Table): string {
  const num = numericColumns(t);
  const cls = (i: number): string => (num[i] && i > 0 ? ' class="num"' : '');
  const head = t.columns.map((c, i) => `<th${cls(i)}>${escapeHtml(c)}</th>`).join('');
  const body = t.rows
    .map(
      (r) =>
        `<tr${r.paper ? ' class="paper"' : ''}>${r.cells.map((c, i) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td${cls(i)}>${escapeHtml(c)}</td>`)).join('')}</tr>`,
    )
    .join('\n');
  const note = t.note ? `<p class="note">${escapeHtml(t.note)}</p>` : '';
  return `<div class="table" id="${escapeHtml(t.id)}"><table><caption>${escapeHtml(t.title)}</caption><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>${note}</div>`;
}

// ---- CSV ----------------------------------------------------------------------------------

export const CSV_COLUMNS = ['variant', 'method', 'batch_size', 'edits', 'kind', 'name', 'mode', 'value'] as const;

const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * One tidy CSV of every measurement (task, metric, weights, failure lines; checkpoint markers
 * left out): variant,method,batch_size,edits,kind,name,mode,value — with a leading `run` column
 * when several runs are compared. A failure's value is empty.
 */
export function toCsv(d: ReportData): string {
  const header = [...(d.compare ? ['run'] : []), ...CSV_COLUMNS];
  const out = [header.join(',')];
  for (const run of d.runs)
    for (const l of run.data.lines) {
      if (l.key.kind === 'checkpoint') continue;
      const row = [
        ...(d.compare ? [run.name] : []),
        l.variant,
        l.method,
        String(l.batch_size),
        String(l.edits),
        l.key.kind,
        l.key.name,
        l.key.mode,
        l.value === null || !Number.isFinite(l.value) ? '' : String(l.value),
      ];
      out.push(row.map(csvField).join(','));
    }
  return out.join('\n') + '\n';
}

/** Tables in document order with their section headings. */
export function tableSections(t: ReportTables): { title: string; id: string; tables: Table[] }[] {
  return [
    { title: 'Unedited model', id: 'sec-baseline', tables: t.baseline },
    ...t.downstream.map((x) => ({
      title: `Downstream tasks — ${x.mode} scorer`,
      id: `sec-downstream-${x.mode}`,
      tables: x.tables,
    })),
    { title: 'Variants compared', id: 'sec-comparison', tables: t.comparison },
    { title: 'Editing performance', id: 'sec-editing', tables: t.editing },
    { title: 'Weight change', id: 'sec-weights', tables: t.weights },
    { title: 'Failures', id: 'sec-failures', tables: t.failures },
  ].filter((s) => s.tables.length > 0);
}
