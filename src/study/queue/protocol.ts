/**
 * What travels through Redis for a distributed study. A job is one unit that must run on one
 * machine (the baseline, a sequential chain with its checkpoints, or a batch-single cell). Its
 * result lines go into one Redis stream per run, keyed by cell; the coordinator is the only writer
 * of results.jsonl and drops duplicates by key.
 */
import type { ResultLine, StudySpec } from '../types.js';

/** The BullMQ queue every coordinator and worker uses (jobs carry their run id). */
export const QUEUE_NAME = 'lmedit-study';

/** The model a job runs on: the study's model reference and the coordinator's file checksums. */
export interface ModelRef {
  /** the study's `model.path`: a built-in name, a directory or a hub id */
  path: string;
  /** the directory it resolved to on the coordinator (its base name is looked up in --models-dir) */
  dir: string;
  /** sha256 of config.json, or null */
  config_sha256: string | null;
  /** sha256 of every file of the model directory */
  files: Record<string, string>;
}

export interface StudyJobData {
  runId: string;
  /** BASELINE or a cell id */
  unit: string;
  study: StudySpec;
  model: ModelRef;
}

/** The stream of a run's results. */
export function resultsStream(runId: string): string {
  return `lmedit:run:${runId}:results`;
}

/** BullMQ job ids may not contain ':'; a unit is named by its position (baseline = 0). */
export function jobId(runId: string, unitIndex: number): string {
  return `${runId}.${unitIndex}`;
}

/** One stream entry: a result line, or a file of the run directory (predictions, heat maps). */
export type StreamEntry =
  { type: 'line'; unit: string; line: ResultLine } | { type: 'file'; unit: string; path: string; data: Buffer };

/** Redis stream fields of an entry (flat strings; files base64). */
export function encodeEntry(e: StreamEntry): string[] {
  return e.type === 'line'
    ? ['type', 'line', 'unit', e.unit, 'line', JSON.stringify(e.line)]
    : ['type', 'file', 'unit', e.unit, 'path', e.path, 'data', e.data.toString('base64')];
}

export function decodeEntry(fields: string[]): StreamEntry {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
  const unit = f.get('unit') ?? '';
  if (f.get('type') === 'line') return { type: 'line', unit, line: JSON.parse(f.get('line') ?? 'null') as ResultLine };
  if (f.get('type') === 'file')
    return { type: 'file', unit, path: f.get('path') ?? '', data: Buffer.from(f.get('data') ?? '', 'base64') };
  throw new Error(`a results stream entry of unknown type ${JSON.stringify(f.get('type'))}`);
}

/** A run file path a worker may send: relative, under predictions/ or weights/, no '..'. */
export function safeRunFile(path: string): boolean {
  const parts = path.split('/');
  return (
    (parts[0] === 'predictions' || parts[0] === 'weights') &&
    parts.length >= 2 &&
    parts.every((p) => p !== '' && p !== '.' && p !== '..' && !p.includes('\\') && !p.includes('\0'))
  );
}

/** The progress a worker reports on its active job (shown by `lmedit study status`). */
export interface JobProgress {
  worker: string;
  done: number;
  total: number;
  eta: number | null;
  current: string;
}

/**
 * The failure line of a unit whose job failed outside the runner (model mismatch, load error,
 * stalled too often): keyed at the first checkpoint it did not finish.
 */
export function unitFailureLine(unit: string, checkpoint: number, error: string): ResultLine {
  return {
    key: { cell: unit, checkpoint, kind: 'failure', name: '', mode: '' },
    variant: '',
    method: '',
    batch_size: 0,
    edits: checkpoint,
    value: null,
    values: { error },
  };
}
