/**
 * Run a study into a run directory, resumably. The work is ordered and deterministic: the
 * unedited baseline, then each cell's checkpoints in turn. Every measurement is one line of
 * results.jsonl; a checkpoint's last line is a 'checkpoint' line. Resuming skips what is
 * recorded, re-applies a sequential cell's edits up to where it stopped (same seeds, same
 * weights) and measures only what is missing — so a killed-and-resumed run ends with the same
 * lines as an uninterrupted one.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as T from '../tensor/index.js';
import type { CausalLM } from '../models/types.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { getMethod, resolveHParams, type AnyEditMethod } from '../edit/registry.js';
import { readRequestsFile } from '../edit/request.js';
import { EditSession, type EditContext, type EditRequest, type EditResult, type StatsProvider } from '../edit/types.js';
import { changeOfDeltas, deltaHeatmap, makeDeltaTransform, writeHeatmap } from '../edit/rect/index.js';
import { restrainAccumulated } from '../edit/prune/index.js';
import { WeightEditor } from '../edit/apply.js';
import { computeMetrics, summarize, type RecordMetrics } from '../eval/editing/evaluate.js';
import { dataDir } from '../eval/data.js';
import { evaluateTasks, type TaskEvalOptions, type TaskResult } from '../eval/run.js';
import { getTask } from '../eval/tasks/index.js';
import type { Task } from '../eval/tasks/types.js';
import { WORLD_TASK_NAMES, editRequests, worldEvalInputs, type World, type WorldTaskName } from '../world/index.js';
import { StudyProbeSet } from './probes.js';
import { cellFileName, editPlan, editSlice, editsNeeded, expandCells } from './cells.js';
import { ResultsFile } from './results.js';
import { WORLD_DATA, type Cell, type ResultKey, type ResultLine, type StudyMethod, type StudySpec } from './types.js';

/** Where a run can be interrupted (tests kill the process at these points). */
export type RunPoint = 'edit' | 'eval' | 'write';

export interface RunStudyOptions {
  /** the run directory (created, or resumed when it holds this study) */
  out: string;
  model: CausalLM;
  tokenizer: Tokenizer;
  /** layer statistics for methods that need C (built once per model and layer, cached on disk) */
  stats?: StatsProvider;
  /** the model's world, for a world model (its edit requests, tasks and probes) */
  world?: World;
  /** called with every line of a checkpoint once it is complete (a progress table) */
  onCheckpoint?: (lines: ResultLine[]) => void;
  /** stop cleanly at the next checkpoint (Ctrl-C) */
  signal?: AbortSignal;
  onProgress?: (p: StudyProgress) => void;
  log?: (msg: string) => void;
  /** called at every interruption point; `text` is the line about to be written */
  point?: (kind: RunPoint, text?: string) => void;
  /**
   * Run only these units: BASELINE and/or cell ids (a study worker runs one job's unit). Default:
   * the whole study.
   */
  units?: readonly string[];
  /** where result lines go and what is already done (default: `out`/results.jsonl) */
  results?: ResultSink;
}

/** What the runner needs of results.jsonl: the lines so far (to skip them) and appending one. */
export interface ResultSink {
  has(key: ResultKey): boolean;
  lines(): ResultLine[];
  append(line: ResultLine, beforeWrite?: (text: string) => void): boolean;
}

export interface StudyProgress {
  /** checkpoints (the baseline counts as one) done and in total */
  done: number;
  total: number;
  /** seconds left, from the measured time per checkpoint; null before the first measurement */
  eta: number | null;
  current: string;
}

export interface StudyOutcome {
  completed: boolean;
  lines: number;
  failures: { cell: string; error: string }[];
}

/** The baseline's pseudo-cell: the unedited model, every cell's 0-edit point. */
export const BASELINE = 'baseline';

export async function runStudy(spec: StudySpec, opts: RunStudyOptions): Promise<StudyOutcome> {
  mkdirSync(opts.out, { recursive: true });
  let results = opts.results;
  if (!results) {
    const file = ResultsFile.open(join(opts.out, 'results.jsonl'));
    if (file.droppedTail !== null) opts.log?.(`results.jsonl: dropped a partial last line (${file.droppedTail.length} bytes)`);
    results = file;
  }
  const run = new StudyRun(spec, opts, results);
  await run.prepare();
  return run.execute();
}

class StudyRun {
  private readonly cells: Cell[];
  private readonly records: EditRequest[];
  private readonly methods = new Map<string, { method: AnyEditMethod; hp: unknown }>();
  private readonly timings: number[] = [];
  private pre: RecordMetrics[] | null = null;
  private probes: StudyProbeSet | null = null;
  /** the tasks and their data, resolved once in prepare() */
  private taskSet: { tasks: Task[]; extra: Pick<TaskEvalOptions, 'dataContent'> } = { tasks: [], extra: {} };
  private done = 0;
  private readonly total: number;
  private readonly withBaseline: boolean;
  /** every cell of the study, also when this run does some of them: the slice and probes depend on all */
  private readonly allCells: Cell[];

  constructor(
    private readonly spec: StudySpec,
    private readonly opts: RunStudyOptions,
    private readonly results: ResultSink,
  ) {
    const units = opts.units;
    this.allCells = expandCells(spec);
    for (const u of units ?? [])
      if (u !== BASELINE && !this.allCells.some((c) => c.id === u)) throw new Error(`study "${spec.name}" has no cell "${u}"`);
    this.cells = this.allCells.filter((c) => !units || units.includes(c.id));
    this.withBaseline = !units || units.includes(BASELINE);
    this.records = this.readRecords();
    this.total = (this.withBaseline ? 1 : 0) + this.cells.reduce((s, c) => s + c.checkpoints.length, 0);
  }

  /** The study's edit records: a records file, or the world model's own requests. */
  private readRecords(): EditRequest[] {
    if (this.spec.data.file === WORLD_DATA) {
      const world = this.opts.world;
      if (!world) throw new Error(`data.file "${WORLD_DATA}" needs a world model (a model directory with world.json)`);
      return editRequests(world, 'all', this.spec.seeds.edit);
    }
    const file = existsSync(this.spec.data.file) ? this.spec.data.file : join(dataDir(), this.spec.data.file);
    return readRequestsFile(resolve(file));
  }

  async prepare(): Promise<void> {
    this.taskSet = this.taskInputs(); // a world task without a world model fails here, before any work
    const p = this.spec.probes;
    if (p.unrelated_recall || p.perplexity)
      this.probes = new StudyProbeSet(
        p,
        this.opts.tokenizer,
        this.opts.world ?? null,
        this.slice(this.maxRequests()),
        this.spec.seeds.tasks,
      );
    for (const m of this.spec.methods) {
      const method = await getMethod(m.method);
      const { hp } = resolveHParams(method, this.opts.model, {
        ...(m.hparams ? { hparams: m.hparams } : {}),
        ...(m.preset ? { preset: m.preset } : {}),
        world: this.opts.world !== undefined,
      });
      this.methods.set(m.name, { method, hp });
    }
  }

  execute(): StudyOutcome {
    const failures: StudyOutcome['failures'] = [];
    if (this.withBaseline) this.baseline();
    for (const cell of this.cells) {
      if (this.opts.signal?.aborted) break;
      const failed = this.results.lines().find((l) => l.key.cell === cell.id && l.key.kind === 'failure');
      if (failed) {
        failures.push({ cell: cell.id, error: String(failed.values['error']) });
        this.done += cell.checkpoints.length;
        continue;
      }
      if (cell.checkpoints.every((c) => this.results.has(checkpointKey(cell.id, c)))) {
        this.done += cell.checkpoints.length;
        continue;
      }
      const error = this.runCell(cell);
      if (error) failures.push({ cell: cell.id, error });
    }
    const completed = !this.opts.signal?.aborted;
    return { completed, lines: this.results.lines().length, failures };
  }

  /** The unedited model: tasks and pre metrics, once per run. */
  private baseline(): void {
    const cp = 0;
    if (this.results.has(checkpointKey(BASELINE, cp))) {
      this.done++;
      return;
    }
    const t0 = Date.now();
    const line = { cell: BASELINE, variant: 'unedited', method: '', batchSize: 0, edits: 0 };
    this.tasks(line, `baseline`);
    if (this.spec.metrics.enabled) {
      const pre = this.preRecords();
      this.metricLines(line, summarize(pre).means, pre.length);
    }
    this.probeLines(line);
    this.finishCheckpoint(line, t0);
  }

  /** A cell from the unedited model: edits up to each checkpoint, measured there; the model is restored at the end. */
  private runCell(cell: Cell): string | null {
    const { method, hp } = this.methods.get(cell.method.name)!;
    const requests = this.slice(editsNeeded(this.spec, cell));
    const ops = editPlan(this.spec, cell, requests);
    using session = new EditSession(); // the cell's sequential state; the model is restored at the end
    const ctx = { ...this.context(cell), session };
    const applied: EditResult[] = [];
    const cumulative = new Map<string, T.Tensor>();
    const post: RecordMetrics[] = [];
    const pre = this.spec.metrics.enabled ? this.preRecords().slice(0, requests.length) : [];
    const edited = new Set<number>(); // positions in `requests` edited so far
    let next = 0; // the next operation to apply
    let lastCp = 0;
    try {
      for (const cp of cell.checkpoints) {
        const t0 = Date.now();
        lastCp = cp;
        // sequential: operations up to cp; single: its one operation
        for (const upto = this.spec.mode.sequential ? cp : ops.length; next < upto && next < ops.length; next++) {
          const op = ops[next]!;
          for (const call of op.calls) {
            this.opts.point?.('edit');
            const result = method.apply(this.opts.model, call, hp, ctx);
            applied.push(result);
            accumulate(cumulative, result);
          }
          const idx = op.requests.map((r) => requests.indexOf(r));
          if (this.spec.metrics.enabled && this.spec.metrics.order === 'post-each')
            post.push(...computeMetrics(this.opts.model, this.opts.tokenizer, op.requests, idx, {}, pre));
          idx.forEach((i) => edited.add(i));
        }
        if (this.results.has(checkpointKey(cell.id, cp))) {
          this.done++;
          continue;
        }
        const line = { cell: cell.id, variant: cell.method.name, method: method.name, batchSize: cell.batchSize, edits: cp };
        // PRUNE: measured on W₀ + F(ΔW) (the served weights); the edits go on from the unrestrained ones
        using served = cell.method.prune ? this.pruned(cumulative, cell.method.prune) : null;
        this.tasks(line, `${cell.id} @ ${cp}`);
        if (this.spec.metrics.enabled) {
          const idx = [...edited].sort((a, b) => a - b);
          const recs =
            this.spec.metrics.order === 'post-each' && this.spec.mode.sequential && !served
              ? post
              : computeMetrics(
                  this.opts.model,
                  this.opts.tokenizer,
                  idx.map((i) => requests[i]!),
                  idx,
                  {},
                  pre,
                );
          this.metricLines(line, summarize(recs).means, idx.length);
        }
        this.probeLines(line);
        this.weightLines(
          line,
          served?.deltas ?? cumulative,
          cp === cell.checkpoints[cell.checkpoints.length - 1] ? applied[applied.length - 1] : undefined,
        );
        this.finishCheckpoint(line, t0);
        if (this.opts.signal?.aborted) break;
      }
      return null;
    } catch (e) {
      const error = (e as Error).message;
      this.opts.log?.(`cell ${cell.id} failed at checkpoint ${lastCp}: ${error}`);
      const line = { cell: cell.id, variant: cell.method.name, method: method.name, batchSize: cell.batchSize, edits: lastCp };
      this.write(line, { cell: cell.id, checkpoint: lastCp, kind: 'failure', name: '', mode: '' }, null, { error });
      return error;
    } finally {
      for (const r of [...applied].reverse()) if (r.applied) r.restore();
      for (const r of applied) r[Symbol.dispose]();
      for (const t of cumulative.values()) t.dispose();
    }
  }

  /**
   * The model with PRUNE's restraint applied to the cell's accumulated ΔW, until disposed (then
   * the unrestrained weights are back, bit for bit). `deltas` are the restrained ΔW (float32).
   */
  private pruned(
    cumulative: Map<string, T.Tensor>,
    o: NonNullable<StudyMethod['prune']>,
  ): Disposable & { deltas: Map<string, T.Tensor> } {
    const editor = new WeightEditor(this.opts.model);
    const opts = { restraint: o.restraint, logBase: o.base, rankTruncate: o.rank_truncate };
    let restrained: Map<string, { delta: T.Tensor }>;
    try {
      restrained = restrainAccumulated(
        this.opts.model,
        cumulative,
        opts,
        (name, change) => editor.add(name, change),
        this.opts.log,
      );
    } catch (e) {
      editor[Symbol.dispose]();
      throw e;
    }
    const deltas = new Map([...restrained].map(([name, p]) => [name, p.delta]));
    return {
      deltas,
      [Symbol.dispose]: () => {
        editor[Symbol.dispose]();
        for (const t of deltas.values()) t.dispose();
      },
    };
  }

  private context(cell: Cell): EditContext {
    const rect = cell.method.rect;
    return {
      tokenizer: this.opts.tokenizer,
      seed: this.spec.seeds.edit,
      ...(this.opts.stats ? { stats: this.opts.stats } : {}),
      ...(rect ? { transformDelta: makeDeltaTransform({ mode: rect.mode, keep: rect.keep, seed: this.spec.seeds.edit }) } : {}),
    };
  }

  /** The edit requests D[begin : end : step] (cyclic), the first n of them. */
  private slice(n: number): EditRequest[] {
    // copies: a cyclic slice repeats records, and each position is its own request
    return editSlice(this.records, this.spec.data, n).map((r) => ({ ...r }));
  }

  /**
   * Pre-edit metrics of the whole slice, on the unedited model, computed once: the baseline
   * reports them and every cell (a prefix of the slice) measures locality against them. First
   * called before any edit (by the baseline, or by the first cell of a resumed run).
   */
  private preRecords(): RecordMetrics[] {
    if (!this.pre) {
      const requests = this.slice(this.maxRequests());
      this.pre = computeMetrics(this.opts.model, this.opts.tokenizer, requests, [...requests.keys()], {});
    }
    return this.pre;
  }

  private maxRequests(): number {
    return Math.max(0, ...this.allCells.map((c) => editsNeeded(this.spec, c)));
  }

  /** Downstream tasks on the model as it is now: one line per (task, scorer mode); predictions per checkpoint. */
  private tasks(line: LineInfo, label: string): void {
    const names = this.spec.tasks.names;
    if (names.length === 0) return;
    const want = (r: TaskResult): ResultKey => ({
      cell: line.cell,
      checkpoint: line.edits,
      kind: 'task',
      name: r.task,
      mode: r.mode,
    });
    const { tasks, extra } = this.taskSet;
    const { results, predictions } = evaluateTasks(this.opts.model, this.opts.tokenizer, tasks, {
      ...extra,
      ...(this.spec.tasks.limit !== undefined ? { limit: this.spec.tasks.limit } : {}),
      seed: this.spec.seeds.tasks,
      scorer: this.spec.tasks.scorer,
      variant: line.cell === BASELINE ? 'before' : 'after',
      batchSize: this.spec.tasks.batch_size,
      onProgress: () => this.opts.point?.('eval'),
    });
    this.opts.log?.(`${label}: ${names.length} task(s) evaluated`);
    const dir = join(this.opts.out, 'predictions', cellFileName(line.cell));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `checkpoint-${line.edits}.jsonl`);
    writeFileSync(`${file}.tmp`, predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
    renameSync(`${file}.tmp`, file);
    for (const r of results) {
      // everything but the wall time: a rerun must write the same line
      const values: Record<string, unknown> = { ...r };
      delete values['seconds'];
      this.write(line, want(r), r.primaryOnSubset, values);
    }
  }

  private probeLines(line: LineInfo): void {
    if (!this.probes) return;
    this.opts.point?.('eval');
    for (const p of this.probes.measure(this.opts.model))
      this.write(line, { cell: line.cell, checkpoint: line.edits, kind: 'metric', name: p.name, mode: '' }, p.value, p.values);
  }

  /** The study's tasks and what evaluateTasks needs to read them (world tasks carry their data). */
  private taskInputs(): { tasks: Task[]; extra: Pick<TaskEvalOptions, 'dataContent'> } {
    const names = this.spec.tasks.names;
    if (!names.some((n) => (WORLD_TASK_NAMES as readonly string[]).includes(n)))
      return { tasks: names.map((n) => getTask(n as Task['name'])), extra: {} };
    if (!this.opts.world)
      throw new Error(`the world tasks (${names.join(', ')}) need a world model (a model directory with world.json)`);
    const { tasks, options } = worldEvalInputs(this.opts.world, { tasks: names as WorldTaskName[] });
    return { tasks, extra: options.dataContent ? { dataContent: options.dataContent } : {} };
  }

  private metricLines(line: LineInfo, means: Record<string, number | null>, n: number): void {
    for (const [name, value] of Object.entries(means))
      this.write(line, { cell: line.cell, checkpoint: line.edits, kind: 'metric', name, mode: '' }, value, { requests: n });
  }

  /** Cumulative change of every edited weight against the unedited one; heat maps of the last edit. */
  private weightLines(line: LineInfo, cumulative: Map<string, T.Tensor>, last: EditResult | undefined): void {
    if (cumulative.size === 0) return;
    const model = this.opts.model;
    const wc = changeOfDeltas(cumulative, (n) => model.param(n)).total;
    const figures: Record<string, number> = {
      manhattan: wc.manhattan,
      frobenius: wc.frobenius,
      ratio_p50: wc.ratio.p50,
      ratio_p90: wc.ratio.p90,
      ratio_p99: wc.ratio.p99,
      ...Object.fromEntries(wc.above.map((a) => [`above_${a.threshold}`, a.fraction])),
    };
    for (const [name, value] of Object.entries(figures))
      this.write(
        line,
        { cell: line.cell, checkpoint: line.edits, kind: 'weights', name, mode: '' },
        Number.isFinite(value) ? value : null,
        {},
      );
    if (last) {
      const dir = join(this.opts.out, 'weights', cellFileName(line.cell));
      mkdirSync(dir, { recursive: true });
      for (const [name, d] of last.deltas) writeHeatmap(join(dir, `heatmap-${name}`), deltaHeatmap(d));
    }
  }

  private finishCheckpoint(line: LineInfo, t0: number): void {
    this.write(line, checkpointKey(line.cell, line.edits), null, {});
    this.opts.onCheckpoint?.(this.results.lines().filter((l) => l.key.cell === line.cell && l.key.checkpoint === line.edits));
    const secs = (Date.now() - t0) / 1000;
    this.timings.push(secs);
    appendFileSync(
      join(this.opts.out, 'timings.jsonl'),
      JSON.stringify({ cell: line.cell, checkpoint: line.edits, seconds: secs }) + '\n',
    );
    this.done++;
    const mean = this.timings.reduce((s, x) => s + x, 0) / this.timings.length;
    this.opts.onProgress?.({
      done: this.done,
      total: this.total,
      eta: mean * (this.total - this.done),
      current: `${line.cell} @ ${line.edits}`,
    });
  }

  private write(line: LineInfo, key: ResultKey, value: number | null, values: Record<string, unknown>): void {
    const rl: ResultLine = {
      key,
      variant: line.variant,
      method: line.method,
      batch_size: line.batchSize,
      edits: line.edits,
      value,
      values,
    };
    this.results.append(rl, (text) => this.opts.point?.('write', text));
  }
}

interface LineInfo {
  cell: string;
  variant: string;
  method: string;
  batchSize: number;
  edits: number;
}

function checkpointKey(cell: string, checkpoint: number): ResultKey {
  return { cell, checkpoint, kind: 'checkpoint', name: '', mode: '' };
}

/** Σ of the applied ΔW per parameter (float32, stored layout). */
function accumulate(sum: Map<string, T.Tensor>, result: EditResult): void {
  for (const [name, d] of result.deltas) {
    const prev = sum.get(name);
    sum.set(name, T.keep(T.noGrad(() => (prev ? T.add(prev, T.cast(d, 'float32')) : T.clone(T.cast(d, 'float32'))))));
    prev?.dispose();
  }
}
