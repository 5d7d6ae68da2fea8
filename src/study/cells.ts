/**
 * From a study to the work it implies: the cells (method variant × batch size) with their
 * checkpoints, the requests each cell edits (the paper's cyclic slice of the edit data,
 * evaluation.md §3.2), and the edit operations that apply them, with the paper repository's
 * quirks (§3.4) when a study asks for them.
 *
 * Vocabulary: an *edit operation* is what a checkpoint counts (one request in Instance-Sequential
 * studies, one chunk of B requests in batch studies); a *call* is one `method.apply` with the
 * requests passed together. Normally an operation is one call; the quirks change that.
 */
import type { Cell, StudyData, StudyQuirks, StudySpec } from './types.js';

/** A cell's id: `<variant>/b<B>` ("ROME+RECT-40%/b1"). */
export function cellId(variant: string, batchSize: number): string {
  return `${variant}/b${batchSize}`;
}

/**
 * A cell id as a file or folder name: every '/' becomes '__' ("ROME+RECT-40%__b1"). Variant names
 * contain no '/' (parseStudy refuses it), so the id's only '/' is the one before `b<B>`, and the
 * mapping is one-to-one.
 */
export function cellFileName(id: string): string {
  return id.replaceAll('/', '__');
}

/**
 * The cells of a study: one per method variant × batch size (the method's own `batch_sizes`, else
 * mode.batch_sizes), variants in file order, batch sizes in file order. Sequential cells evaluate at the study's checkpoints above 0 (checkpoint 0, the
 * unedited model, is evaluated once per study as the baseline); a single cell evaluates once, at
 * checkpoint B (its one edit of B requests).
 */
export function expandCells(spec: StudySpec): Cell[] {
  const cells: Cell[] = [];
  for (const method of spec.methods) {
    for (const batchSize of method.batch_sizes ?? spec.mode.batch_sizes) {
      const checkpoints = spec.mode.sequential ? spec.mode.checkpoints.filter((c) => c > 0) : [batchSize];
      cells.push({ id: cellId(method.name, batchSize), method, batchSize, checkpoints });
    }
  }
  return cells;
}

/** Requests a cell edits: sequential, the largest checkpoint × B; single, B. */
export function editsNeeded(spec: StudySpec, cell: Cell): number {
  if (!spec.mode.sequential) return cell.batchSize;
  return Math.max(0, ...cell.checkpoints) * cell.batchSize;
}

/** Requests the whole study needs from the slice (the largest cell's need); every cell uses a prefix of it. */
export function studyEditsNeeded(spec: StudySpec): number {
  return Math.max(0, ...expandCells(spec).map((c) => editsNeeded(spec, c)));
}

/** How many indices D[begin:end:step] holds when `end` is set (Python's range length); undefined without `end`. */
export function sliceCapacity(data: Pick<StudyData, 'begin' | 'end' | 'step'>): number | undefined {
  if (data.end === undefined) return undefined;
  return Math.max(0, Math.ceil((data.end - data.begin) / data.step));
}

/**
 * The edit requests of a study: the paper's cyclic indexing D[i] = records[i mod N] (the paper's
 * scripts build D for i < 3N; lmedit does not stop there), sliced D[begin:end:step] and cut to the
 * first `count` items (`count` = `studyEditsNeeded(spec)`; each cell then takes the prefix it
 * needs). Throws when the records are empty or when `end` leaves fewer than `count` items.
 * @example editSlice(['r0','r1','r2','r3','r4'], { file: '', begin: 3, step: 2 }, 4) // ['r3','r0','r2','r4']
 */
export function editSlice<T>(records: readonly T[], data: StudyData, count: number): T[] {
  if (!Number.isInteger(count) || count < 0) throw new Error(`editSlice: count must be a non-negative integer, got ${count}`);
  if (count === 0) return [];
  const n = records.length;
  if (n === 0) throw new Error(`${data.file}: no records to edit`);
  const capacity = sliceCapacity(data);
  if (capacity !== undefined && capacity < count) {
    throw new Error(
      `${data.file}: the slice [${data.begin}:${data.end}:${data.step}] holds ${capacity} edit(s) but the study needs ${count}; ` +
        `raise data.end or remove it`,
    );
  }
  const out: T[] = [];
  for (let k = 0; k < count; k++) out.push(records[(data.begin + k * data.step) % n]!);
  return out;
}

/** One edit operation of a cell: what a checkpoint counts. */
export interface EditOperation<T> {
  /** 0-based; checkpoint k is reached once operations 0 … k−1 are applied */
  index: number;
  /** the requests this operation edits (its chunk); editing metrics measure these */
  requests: T[];
  /**
   * The `method.apply` calls that make up the operation, in order, each with the requests passed
   * together. Normally `[requests]`; `legacy_batch_chunking` gives one call per request, and
   * `legacy_sequential_bug` changes what is applied (see `legacySequentialPlan`). Never restored
   * between calls of one operation.
   */
  calls: T[][];
}

/**
 * Cut a cell's requests into consecutive chunks of `batchSize`, one edit operation each (the
 * paper's Batch-Sequential chunking, §3.2).
 * - A short last chunk is kept as a smaller operation, or dropped with `drop_incomplete_chunk`
 *   (the paper's scripts only close a chunk when (j+1) % B == 0, so a remainder is never edited).
 * - `legacy_batch_chunking` splits each operation into calls of one request: the paper's
 *   `batch_edit` re-chunks by `hparams.batch_size`, which is 1 for its MEMIT and MEND files, and
 *   never restores in between (keep_original_weight=False leaves `weights_copy` empty), so a
 *   "batch" of B was B successive single edits (§3.4.2).
 */
export function editOperations<T>(
  requests: readonly T[],
  batchSize: number,
  quirks: Pick<StudyQuirks, 'drop_incomplete_chunk' | 'legacy_batch_chunking'>,
): EditOperation<T>[] {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`editOperations: batch size must be a positive integer, got ${batchSize}`);
  const ops: EditOperation<T>[] = [];
  for (let s = 0; s < requests.length; s += batchSize) {
    const chunk = requests.slice(s, s + batchSize);
    if (chunk.length < batchSize && quirks.drop_incomplete_chunk) break;
    const calls = quirks.legacy_batch_chunking ? chunk.map((r) => [r]) : [chunk];
    ops.push({ index: ops.length, requests: chunk, calls });
  }
  return ops;
}

/**
 * `editOperations` flattened to its calls: consecutive chunks of B (each a `method.apply`), a
 * short last one dropped with `drop_incomplete_chunk`, each chunk split into B chunks of one with
 * `legacy_batch_chunking`. With that quirk, chunk k is no longer edit operation k: count
 * checkpoints with `editOperations` / `editPlan` instead.
 */
export function editChunks<T>(
  requests: readonly T[],
  batchSize: number,
  quirks: Pick<StudyQuirks, 'drop_incomplete_chunk' | 'legacy_batch_chunking'>,
): T[][] {
  return editOperations(requests, batchSize, quirks).flatMap((o) => o.calls);
}

/**
 * The paper repository's broken sequential `edit()` (§3.4.1), per operation: given the chunks of a
 * sequence (one per edit operation), what each operation actually applies (`result[i]`, possibly
 * empty).
 * - Every method but KN: the algorithm runs only for i = 0, and the later "restores" read an empty
 *   `weights_copy` (nothing happens), so only chunk 0 is ever applied: `[[c0], [], [], …]`.
 * - KN: i = 0 runs the algorithm twice (the `i == 0` branch, then the KN branch) and every later i
 *   once: `[[c0, c0], [c1], [c2], …]`.
 * Each of the paper's points was a separate run from the unedited model, but the first k entries
 * applied cumulatively give the same model as a run of k requests, so a runner may evaluate
 * checkpoint k after applying `result[0 … k−1]`.
 * @param method registry or display name (rome, KN, …), any case
 */
export function legacySequentialSteps<C>(method: string, chunks: readonly C[]): C[][] {
  const kn = method.toLowerCase() === 'kn';
  return chunks.map((c, i) => (i === 0 ? (kn ? [c, c] : [c]) : kn ? [c] : []));
}

/**
 * `legacySequentialSteps` flattened: the chunks actually applied, in order (`[c0]`; KN:
 * `[c0, c0, c1, c2, …]`). Checkpoint k is not "the first k of these": use the steps (or `editPlan`).
 */
export function legacySequentialPlan<C>(method: string, chunks: readonly C[]): C[] {
  return legacySequentialSteps(method, chunks).flat(1) as C[];
}

/**
 * Everything a cell applies, from the study's edit requests (`editSlice(…, studyEditsNeeded(spec))`,
 * or at least the cell's `editsNeeded`); the way a runner should apply quirks:
 * - sequential: the first `editsNeeded` requests as `editOperations` (chunks of B), then
 *   `legacySequentialSteps` when `legacy_sequential_bug` is on (parseStudy allows it only with
 *   batch size 1, the `edit()` path; the paper's batch runs went through `batch_edit`, which does
 *   not have the bug);
 * - single: one operation with the first B requests (calls split by `legacy_batch_chunking`).
 * Apply each operation's calls in order (no restore in between); checkpoint k is reached after
 * operations 0 … k−1 (`cell.checkpoints`; single: the one operation); single cells restore the
 * model afterwards. An operation's `requests` stay what it was meant to edit, even when the bug
 * applies nothing, so editing metrics measure the same requests either way.
 */
export function editPlan<T>(spec: StudySpec, cell: Cell, requests: readonly T[]): EditOperation<T>[] {
  const need = editsNeeded(spec, cell);
  if (requests.length < need) throw new Error(`cell ${cell.id}: needs ${need} edit request(s), got ${requests.length}`);
  const mine = requests.slice(0, need);
  if (!spec.mode.sequential) {
    const calls = spec.quirks.legacy_batch_chunking ? mine.map((r) => [r]) : [mine];
    return [{ index: 0, requests: mine, calls }];
  }
  const ops = editOperations(mine, cell.batchSize, spec.quirks);
  if (!spec.quirks.legacy_sequential_bug) return ops;
  const steps = legacySequentialSteps(
    cell.method.method,
    ops.map((o) => o.requests),
  );
  return ops.map((o, i) => ({ ...o, calls: steps[i]! }));
}
