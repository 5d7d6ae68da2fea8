/**
 * The report's view of one or more runs: series (a method variant at one batch size for
 * sequential studies, a variant over its batch sizes for Batch-Single), their points (x = edit
 * operations or batch size; the unedited baseline is every series' x = 0) and the paper values
 * that match them.
 */
import type { RegulariserModeName, ResultKind, ResultLine, StudyMethod } from '../study/types.js';
import type { HeatmapFile, RunData } from './load.js';
import {
  paperDownstream,
  paperEditing,
  paperModelOf,
  paperVariantOf,
  paperWeights,
  PAPER_TASK_ORDER,
  TASK_ABBREVIATIONS,
  type PaperKey,
  type PaperMetricValue,
  type PaperModel,
  type PaperTaskValue,
  type PaperWeightValue,
} from './paper-values.js';

/** The pseudo-cell of the unedited model. */
export const BASELINE_CELL = 'baseline';

export interface Series {
  /** unique over the report */
  id: string;
  /** legend and table label ("ROME+RECT-40%", "run-a: ROME b10") */
  label: string;
  run: RunView;
  variant: string;
  /** registry name (rome, memit, …) */
  method: string;
  /** cells whose lines make the series (one for sequential, one per batch size for single) */
  cells: string[];
  batchSizes: number[];
  rect: { keep: number; mode: RegulariserModeName } | null;
  /** the paper's figure for this series (model, method, setting, variant), when there is one */
  paper: PaperKey | null;
}

export interface Point {
  x: number;
  value: number | null;
  line: ResultLine;
  /** the checkpoint has no 'checkpoint' line (measured by a run that stopped before finishing it) */
  partial: boolean;
}

/** One run as the report sees it. */
export interface RunView {
  data: RunData;
  /** label used in compare mode (the directory name, made unique) */
  name: string;
  sequential: boolean;
  modelPath: string | null;
  paperModel: PaperModel | null;
  baseline: ResultLine[];
  series: Series[];
  failures: ResultLine[];
  /** keys "cell\0checkpoint" with a checkpoint line */
  finished: Set<string>;
}

export interface ReportData {
  runs: RunView[];
  /** every series of every run, this run's first */
  series: Series[];
  /** scorer modes present in task lines, paper first */
  modes: string[];
  /** task names present, in the paper's order (unknown names after) */
  tasks: string[];
  /** whether series are labelled with their run's name */
  compare: boolean;
  /** what x means: "edits" or "batch size" (of the first run) */
  xTitle: string;
  sequential: boolean;
}

const byNumber = (a: number, b: number): number => a - b;

/** Sequential or single: the manifest says; without it, a run whose every cell has one checkpoint equal to its batch size is single. */
function isSequential(data: RunData): boolean {
  const s = data.manifest?.study?.mode?.sequential;
  if (typeof s === 'boolean') return s;
  const cps = new Map<string, Set<number>>();
  const batch = new Map<string, number>();
  for (const l of data.lines) {
    if (l.key.cell === BASELINE_CELL) continue;
    if (!cps.has(l.key.cell)) cps.set(l.key.cell, new Set());
    cps.get(l.key.cell)!.add(l.key.checkpoint);
    batch.set(l.key.cell, l.batch_size);
  }
  if (cps.size === 0) return true;
  const single = [...cps].every(([c, s]) => s.size === 1 && [...s][0] === batch.get(c));
  const variants = new Set(data.lines.filter((l) => l.key.cell !== BASELINE_CELL).map((l) => l.variant));
  return !(single && cps.size > variants.size);
}

/** The variant's regularisation: the study file's, else guessed from its name ("ROME+RECT-40%", "random 40%", "PCA-40%"). */
function rectOf(variant: string, methods: StudyMethod[] | undefined): Series['rect'] {
  const m = methods?.find((x) => x.name === variant);
  if (m) return m.rect ?? null;
  const pct = /(\d+(?:\.\d+)?)\s*%/.exec(variant);
  const keep = pct ? Number(pct[1]) / 100 : NaN;
  if (/random/i.test(variant) && keep > 0) return { keep, mode: 'random' };
  if (/pca/i.test(variant) && keep > 0) return { keep, mode: 'pca' };
  if (/rect/i.test(variant) && keep > 0) return { keep, mode: 'rect' };
  return null;
}

function viewRun(data: RunData, name: string, prefix: string | null): RunView {
  const sequential = isSequential(data);
  const m = data.manifest?.model;
  const modelPath = data.manifest?.study?.model?.path ?? m?.dir ?? m?.path ?? null;
  // the study's model id, else the directory it resolved to (a hub cache path names the repo too)
  const paperModel = [data.manifest?.study?.model?.path, m?.dir, m?.path].reduce<PaperModel | null>(
    (found, p) => found ?? (p ? paperModelOf(p) : null),
    null,
  );
  const methods = data.manifest?.study?.methods;
  const baseline = data.lines.filter((l) => l.key.cell === BASELINE_CELL);
  const failures = data.lines.filter((l) => l.key.kind === 'failure');
  const finished = new Set(
    data.lines.filter((l) => l.key.kind === 'checkpoint').map((l) => `${l.key.cell}\0${l.key.checkpoint}`),
  );

  // cells in order: the study's variant order, then first appearance; batch sizes ascending
  const cellInfo = new Map<string, { variant: string; method: string; batch: number; first: number }>();
  data.lines.forEach((l, i) => {
    if (l.key.cell === BASELINE_CELL || cellInfo.has(l.key.cell)) return;
    cellInfo.set(l.key.cell, { variant: l.variant, method: l.method, batch: l.batch_size, first: i });
  });
  const variantOrder = new Map<string, number>();
  methods?.forEach((m, i) => variantOrder.set(m.name, i));
  const rank = (v: string, first: number): number => variantOrder.get(v) ?? (methods?.length ?? 0) + first;
  const cells = [...cellInfo].sort(
    ([, a], [, b]) =>
      rank(a.variant, a.first) - rank(b.variant, b.first) || a.variant.localeCompare(b.variant) || a.batch - b.batch,
  );

  const view: RunView = { data, name, sequential, modelPath, paperModel, baseline, series: [], failures, finished };
  const groups = new Map<string, [string, { variant: string; method: string; batch: number }][]>();
  for (const c of cells) {
    const key = sequential ? c[0] : c[1].variant;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(c);
  }
  const batchesOf = new Map<string, Set<number>>();
  for (const [, c] of cells) {
    if (!batchesOf.has(c.variant)) batchesOf.set(c.variant, new Set());
    batchesOf.get(c.variant)!.add(c.batch);
  }
  for (const [key, group] of groups) {
    const first = group[0]![1];
    const batchSizes = group.map(([, c]) => c.batch).sort(byNumber);
    let label = first.variant;
    if (sequential && (batchesOf.get(first.variant)?.size ?? 0) > 1) label += ` b${first.batch}`;
    if (prefix) label = `${prefix}: ${label}`;
    const rect = rectOf(first.variant, methods);
    const pv = paperVariantOf(rect);
    const paper: PaperKey | null =
      paperModel && pv && (!sequential || batchSizes.every((b) => b === 1))
        ? { model: paperModel, method: first.method, setting: sequential ? 'sequential' : 'single', variant: pv }
        : null;
    view.series.push({
      id: `${name}\0${key}`,
      label,
      run: view,
      variant: first.variant,
      method: first.method,
      cells: group.map(([id]) => id),
      batchSizes,
      rect,
      paper,
    });
  }
  return view;
}

/** Build the report's data from this run and the runs it is compared with. */
export function reportData(runs: RunData[]): ReportData {
  const compare = runs.length > 1;
  const used = new Set<string>();
  const views = runs.map((r) => {
    let name = r.name;
    for (let k = 2; used.has(name); k++) name = `${r.name} (${k})`;
    used.add(name);
    return viewRun(r, name, compare ? name : null);
  });
  const all = views.flatMap((v) => v.data.lines);
  const modes = [...new Set(all.filter((l) => l.key.kind === 'task').map((l) => l.key.mode))].sort(
    (a, b) => modeRank(a) - modeRank(b) || a.localeCompare(b),
  );
  const taskSet = new Set(all.filter((l) => l.key.kind === 'task').map((l) => l.key.name));
  const tasks = [
    ...PAPER_TASK_ORDER.filter((t) => taskSet.has(t)),
    ...[...taskSet].filter((t) => !(PAPER_TASK_ORDER as readonly string[]).includes(t)).sort(),
  ];
  const sequential = views[0]?.sequential ?? true;
  for (const v of views.slice(1))
    if (v.sequential !== sequential)
      v.data.warnings.push(
        `${v.name} is a ${v.sequential ? 'sequential' : 'Batch-Single'} study and ${views[0]!.name} is not: x means different things`,
      );
  return {
    runs: views,
    series: views.flatMap((v) => v.series),
    modes,
    tasks,
    compare,
    xTitle: sequential ? 'edits' : 'batch size',
    sequential,
  };
}

const modeRank = (m: string): number => (m === 'paper' ? 0 : m === 'clean' ? 1 : 2);

/**
 * The points of a series for one kind/name/mode, x ascending: the baseline at x = 0, then each
 * checkpoint of its cells.
 */
export function seriesPoints(s: Series, kind: ResultKind, name: string, mode = ''): Point[] {
  const match = (l: ResultLine): boolean => l.key.kind === kind && l.key.name === name && l.key.mode === mode;
  const out: Point[] = [];
  const base = s.run.baseline.find(match);
  if (base) out.push({ x: 0, value: base.value, line: base, partial: !s.run.finished.has(`${BASELINE_CELL}\0${0}`) });
  const cells = new Set(s.cells);
  for (const l of s.run.data.lines)
    if (cells.has(l.key.cell) && match(l))
      out.push({
        x: l.key.checkpoint,
        value: l.value,
        line: l,
        partial: !s.run.finished.has(`${l.key.cell}\0${l.key.checkpoint}`),
      });
  return out.sort((a, b) => a.x - b.x);
}

/** The paper's downstream values for a series in a scorer mode (paper mode only). */
export function paperTaskValues(s: Series, mode: string): PaperTaskValue[] {
  return s.paper && mode === 'paper' ? paperDownstream(s.paper) : [];
}

export function paperMetricValues(s: Series): PaperMetricValue[] {
  return s.paper ? paperEditing(s.paper) : [];
}

export function paperWeightValues(s: Series): PaperWeightValue[] {
  return s.paper ? paperWeights(s.paper) : [];
}

/** Task name → column label with the paper's abbreviation ("Reas (gsm8k)"); unknown names as they are. */
export function taskLabel(t: string): string {
  const ab = (TASK_ABBREVIATIONS as Record<string, string>)[t];
  return ab ? `${ab} (${t})` : t;
}

/** Editing metrics in table order, with the paper's column names. */
export const METRIC_COLUMNS: readonly { names: readonly string[]; label: string }[] = [
  { names: ['rewrite_acc', 'rewrite'], label: 'Rel' },
  { names: ['rephrase_acc', 'rephrase'], label: 'Gen' },
  { names: ['locality_acc', 'locality'], label: 'Loc' },
  { names: ['portability_acc', 'portability'], label: 'Port' },
  { names: ['rewrite_exact'], label: 'Rel EM' },
  { names: ['rephrase_exact'], label: 'Gen EM' },
  { names: ['ngram_entropy'], label: 'Fluency' },
  // a study's probes (src/study/probes.ts)
  { names: ['unrelated_recall'], label: 'Unrel. recall' },
  { names: ['perplexity'], label: 'PPL' },
];

/** Weight figures in table order. */
export function weightColumns(names: Iterable<string>): { name: string; label: string; percent: boolean }[] {
  const set = new Set(names);
  const fixed: { name: string; label: string; percent: boolean }[] = [
    { name: 'manhattan', label: 'Σ|ΔW|', percent: false },
    { name: 'frobenius', label: '‖ΔW‖F', percent: false },
    { name: 'ratio_p50', label: 'δ p50', percent: false },
    { name: 'ratio_p90', label: 'δ p90', percent: false },
    { name: 'ratio_p99', label: 'δ p99', percent: false },
  ];
  const above = [...set]
    .filter((n) => n.startsWith('above_'))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((name) => ({ name, label: `% δ > ${name.slice(6)}`, percent: true }));
  const known = new Set([...fixed.map((f) => f.name), ...above.map((a) => a.name)]);
  const other = [...set]
    .filter((n) => !known.has(n))
    .sort()
    .map((name) => ({ name, label: name, percent: false }));
  return [...fixed.filter((f) => set.has(f.name)), ...above, ...other];
}

/** Heat maps of every run, in series order (the unknown cells last), labelled with their run in compare mode. */
export function orderedHeatmaps(d: ReportData): { h: HeatmapFile; run: string | null }[] {
  return d.runs.flatMap((r) => {
    const order = new Map<string, number>();
    r.series.forEach((s, i) => s.cells.forEach((c, j) => order.set(c, i * 1000 + j)));
    return [...r.data.heatmaps]
      .sort((a, b) => (order.get(a.cell) ?? Infinity) - (order.get(b.cell) ?? Infinity) || a.cell.localeCompare(b.cell))
      .map((h) => ({ h, run: d.compare ? r.name : null }));
  });
}
