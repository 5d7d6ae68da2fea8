/**
 * A study: the paper's protocol as data. A study file (YAML) names a model, methods with their
 * variants (RECT and its baselines), the editing mode with its batch sizes and checkpoints, the
 * edit data slice, the downstream tasks, the editing metrics and the seeds. It expands into
 * cells (method variant × batch size); each cell is evaluated at each of its checkpoints.
 *
 * Field names in study files are snake_case, like the hparams files.
 */
import type { ScorerChoice } from '../eval/run.js';
import type { TaskName } from '../eval/tasks/types.js';
import type { WorldTaskName } from '../world/types.js';
import type { EvalOrder } from '../eval/editing/evaluate.js';

export type RegulariserModeName = 'rect' | 'random' | 'pca';

/** One method variant of a study: a method with its hparams, optionally regularised. */
export interface StudyMethod {
  /** the variant's name in results and reports ("ROME", "ROME+RECT-40%") */
  name: string;
  /** registry name: rome, r-rome, memit, emmet, alphaedit, ft-l, ft-m, kn, mend */
  method: string;
  /** hparams file (YAML/JSON, EasyEdit fields) or preset key; neither = the preset for the model */
  hparams?: string;
  preset?: string;
  /** RECT or a baseline: keep this fraction (0, 1] of ΔW's entries */
  rect?: { keep: number; mode: RegulariserModeName };
  /**
   * PRUNE: each checkpoint is measured on W₀ + F(ΔW), the accumulated update's singular values
   * above σ₁(W₀) restrained (log base `base`, or linear); the edits go on unrestrained.
   */
  prune?: { restraint: 'log' | 'linear'; base: number; rank_truncate: boolean };
  /** this method's batch sizes instead of mode.batch_sizes (a study of ROME edits and MEMIT batches) */
  batch_sizes?: number[];
}

export interface StudyMode {
  /** sequential: edits accumulate (Instance/Batch-Sequential); single: each batch size edits the unedited model once (Batch-Single) */
  sequential: boolean;
  /** requests per edit; Batch-Single: one cell per batch size */
  batch_sizes: number[];
  /**
   * Sequential: numbers of edit operations after which everything is evaluated (0 = unedited,
   * evaluated once per study as the baseline). Single: ignored (the checkpoint is the batch).
   */
  checkpoints: number[];
}

/** A task of a study: one of the paper's eight, or one of a world model's skills (src/world). */
export type StudyTaskName = TaskName | WorldTaskName;

/** `data.file` naming the edit requests of the model's own world (a world model, src/world). */
export const WORLD_DATA = 'world';

export interface StudyData {
  /**
   * ZsRE / CounterFact / EasyEdit records (JSON or JSONL); relative paths resolve against the data
   * dir. `world`: requests generated from the world model's world (`editRequests`, seeded by seeds.edit).
   */
  file: string;
  /** the paper's cyclic slice: D[i] = records[i mod N], edits use D[begin:end:step] */
  begin: number;
  /** exclusive; default: begin + the edits the largest checkpoint needs */
  end?: number;
  step: number;
}

export interface StudyTasks {
  /** the paper's tasks, or a world model's tasks (never both: they are scored differently) */
  names: StudyTaskName[];
  /** examples per task (a seeded subset); absent = the whole file */
  limit?: number;
  scorer: ScorerChoice;
  /** generation batch size */
  batch_size: number;
}

export interface StudyMetrics {
  enabled: boolean;
  /** post-each (default) or post-all; single studies always measure the single-edit model */
  order: Extract<EvalOrder, 'post-each' | 'post-all'>;
}

/**
 * Extra measurements at every checkpoint. Each is a 'metric' line. `unrelated_recall` needs a
 * world model: greedy recall of its base facts whose subjects no request of the study edits.
 * `perplexity`: on the world's held-out text for a world model, else on WikiText-2's test split.
 */
export interface StudyProbes {
  unrelated_recall: boolean;
  perplexity: boolean;
}

export interface StudyQuirks {
  /** the paper repository's broken sequential edit(): only request 0 is applied (KN: twice) */
  legacy_sequential_bug: boolean;
  /** the paper repository's batch_edit: a "batch" of B runs B single edits */
  legacy_batch_chunking: boolean;
  /** drop an incomplete last chunk of a batch-sequential slice, as the paper's code does */
  drop_incomplete_chunk: boolean;
}

export interface StudySpec {
  name: string;
  /** model directory or hub id, and the dtype its weights are held in */
  model: { path: string; dtype: 'float32' | 'float16' | 'bfloat16' };
  methods: StudyMethod[];
  mode: StudyMode;
  data: StudyData;
  tasks: StudyTasks;
  metrics: StudyMetrics;
  probes: StudyProbes;
  seeds: { edit: number; tasks: number };
  quirks: StudyQuirks;
}

/** One cell: a method variant at one batch size; evaluated at each checkpoint. */
export interface Cell {
  /** stable id, used in file names and result keys: "<variant>/b<B>" */
  id: string;
  method: StudyMethod;
  batchSize: number;
  /** checkpoints (numbers of edit operations) this cell evaluates, ascending, > 0 */
  checkpoints: number[];
}

/** What a results line measures. */
export type ResultKind = 'task' | 'metric' | 'weights' | 'checkpoint' | 'failure';

/**
 * The key of a results line; unique within a run. The baseline (unedited model) has cell
 * "baseline" and checkpoint 0.
 */
export interface ResultKey {
  cell: string;
  /** edit operations applied (sequential), or the batch size (single) */
  checkpoint: number;
  kind: ResultKind;
  /** task name, metric name, weight figure name; "" for checkpoint/failure lines */
  name: string;
  /** scorer mode for tasks (paper | clean), "" otherwise */
  mode: string;
}

/** One line of results.jsonl: deterministic (no timings), so a rerun writes identical lines. */
export interface ResultLine {
  key: ResultKey;
  /** variant, method, batch size and edits, repeated on every line for plain readers */
  variant: string;
  method: string;
  batch_size: number;
  edits: number;
  /** the headline number (task primary, metric mean, weight figure); null when undefined */
  value: number | null;
  /** everything else the measurement reported (task aggregate fields, metric counts, error text) */
  values: Record<string, unknown>;
}

export const RESULT_KINDS: readonly ResultKind[] = ['task', 'metric', 'weights', 'checkpoint', 'failure'];

/** The key as one string (for sets and maps). */
export function keyString(k: ResultKey): string {
  return [k.cell, k.checkpoint, k.kind, k.name, k.mode].join('\u0000');
}
