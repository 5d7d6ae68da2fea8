/**
 * `lmedit study run … --queue URL`: the study as jobs on BullMQ. The coordinator enqueues one job
 * per unit that results.jsonl does not yet hold (the baseline, each cell), then reads the run's
 * Redis stream and appends every new line to results.jsonl — the only writer of that file,
 * dropping duplicates by key — until every job has completed or failed. A rerun on the same
 * RUN_DIR reattaches: the same run id, the same job ids (BullMQ ignores adding an existing job),
 * the stream read again from its start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Queue } from 'bullmq';
import { expandCells } from '../cells.js';
import { makeManifest, writeOrCheckManifest } from '../manifest.js';
import { readResultLines, ResultsFile } from '../results.js';
import { BASELINE, type StudyOutcome } from '../run.js';
import type { ResultKey, ResultLine, StudySpec } from '../types.js';
import { connect, reachable, redactUrl } from './connection.js';
import { modelRef } from './model-ref.js';
import {
  decodeEntry,
  jobId,
  QUEUE_NAME,
  resultsStream,
  safeRunFile,
  unitFailureLine,
  type JobProgress,
  type StudyJobData,
} from './protocol.js';

/** RUN_DIR/queue.json: what ties a run directory to its jobs (never the password). */
export interface QueueInfo {
  run_id: string;
  queue: string;
  queue_name: string;
  /** the job id of each unit */
  jobs: Record<string, string>;
  created: string;
}

export interface DistributedOptions {
  out: string;
  queue: string;
  /** the study model's directory here (its checksums go with every job) */
  modelDir: string;
  /** attempts per job before it is recorded as failed */
  attempts: number;
  log: (msg: string) => void;
  onCheckpoint?: (lines: ResultLine[]) => void;
  signal?: AbortSignal;
}

export function readQueueInfo(runDir: string): QueueInfo | null {
  const p = join(runDir, 'queue.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as QueueInfo) : null;
}

function writeAtomic(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

/** The study's units in the order a one-machine run does them. */
export function studyUnits(spec: StudySpec): { id: string; checkpoints: number[] }[] {
  return [{ id: BASELINE, checkpoints: [0] }, ...expandCells(spec).map((c) => ({ id: c.id, checkpoints: c.checkpoints }))];
}

const checkpointKey = (cell: string, checkpoint: number): ResultKey => ({
  cell,
  checkpoint,
  kind: 'checkpoint',
  name: '',
  mode: '',
});

export async function runDistributedStudy(spec: StudySpec, o: DistributedOptions): Promise<StudyOutcome> {
  mkdirSync(o.out, { recursive: true });
  const manifest = await makeManifest(spec, o.modelDir);
  const { resumed } = writeOrCheckManifest(o.out, manifest);
  const units = studyUnits(spec);
  let info = readQueueInfo(o.out);
  if (!info) {
    const runId = `${spec.name.replace(/[^A-Za-z0-9_+-]/g, '_')}-${randomBytes(4).toString('hex')}`;
    info = {
      run_id: runId,
      queue: redactUrl(o.queue),
      queue_name: QUEUE_NAME,
      jobs: Object.fromEntries(units.map((u, i) => [u.id, jobId(runId, i)])),
      created: new Date().toISOString(),
    };
    writeAtomic(join(o.out, 'queue.json'), JSON.stringify(info, null, 2) + '\n');
  }
  const results = ResultsFile.open(join(o.out, 'results.jsonl'));
  // kept up to date as lines are appended: units with a failure line, checkpoints finished
  const failed = new Set(results.lines().flatMap((l) => (l.key.kind === 'failure' ? [l.key.cell] : [])));
  let checkpointsDone = results.lines().filter((l) => l.key.kind === 'checkpoint').length;
  const append = (line: ResultLine): boolean => {
    if (!results.append(line)) return false;
    if (line.key.kind === 'failure') failed.add(line.key.cell);
    if (line.key.kind === 'checkpoint') checkpointsDone++;
    return true;
  };
  /** every checkpoint line in, or a failure line */
  const finished = (u: { id: string; checkpoints: number[] }): boolean =>
    failed.has(u.id) || u.checkpoints.every((cp) => results.has(checkpointKey(u.id, cp)));
  const connection = connect(o.queue, o.log);
  const redis = connect(o.queue, o.log);
  const queue = new Queue<StudyJobData>(QUEUE_NAME, { connection });
  const key = resultsStream(info.run_id);
  try {
    await reachable(redis, o.queue);
    const ref = modelRef(spec.model.path, manifest.model);
    // BullMQ ignores adding a job id it holds: a rerun reattaches to the jobs it queued before
    const enqueue = (unit: string): Promise<unknown> =>
      queue.add(
        'unit',
        { runId: info.run_id, unit, study: spec, model: ref },
        { jobId: info.jobs[unit]!, attempts: o.attempts, backoff: { type: 'fixed', delay: 1000 } },
      );
    const open = units.filter((u) => !finished(u));
    for (const u of open) await enqueue(u.id);
    o.log(
      `${resumed ? 'reattached to' : 'queued'} study "${spec.name}" (run ${info.run_id}) on ${redactUrl(o.queue)}: ${open.length} of ${units.length} jobs open; start workers with \`lmedit worker --queue ${redactUrl(o.queue)}\``,
    );

    let lastId = '0';
    let lastWait = Date.now();
    const total = units.reduce((s, u) => s + u.checkpoints.length, 0);
    const consume = async (block: number): Promise<number> => {
      const res = (await redis.xread('COUNT', 500, 'BLOCK', block, 'STREAMS', key, lastId)) as
        [string, [string, string[]][]][] | null;
      let n = 0;
      for (const [, entries] of res ?? [])
        for (const [id, fields] of entries) {
          lastId = id;
          n++;
          const e = decodeEntry(fields);
          if (e.type === 'file') {
            if (safeRunFile(e.path)) writeAtomic(join(o.out, e.path), e.data);
            else o.log(`ignored a file outside predictions/ and weights/ from a worker: ${JSON.stringify(e.path)}`);
            // written: its bytes need not stay in Redis's memory (lines stay: retried jobs resume from them)
            await redis.xdel(key, id);
            continue;
          }
          if (!append(e.line) || e.line.key.kind !== 'checkpoint') continue;
          const { cell, checkpoint } = e.line.key;
          o.onCheckpoint?.(results.lines().filter((l) => l.key.cell === cell && l.key.checkpoint === checkpoint));
          o.log(`[${checkpointsDone}/${total} checkpoints] ${cell} @ ${checkpoint} done`);
        }
      return n;
    };
    for (;;) {
      if (o.signal?.aborted) {
        o.log('stopped; the jobs stay in the queue and workers go on: the same command reattaches');
        return { completed: false, lines: results.lines().length, failures: failuresOf(results.lines()) };
      }
      await consume(1000);
      const states = await Promise.all(units.map(async (u) => ({ u, state: await queue.getJobState(info.jobs[u.id]!) })));
      // open: a job still running (also one whose lines are all in: it is finishing), or one that
      // vanished before its unit was done (Redis restarted without persistence: queued again)
      const open2 = states.filter((s) =>
        s.state === 'unknown' ? !finished(s.u) : s.state !== 'completed' && s.state !== 'failed',
      );
      for (const s of open2.filter((x) => x.state === 'unknown')) await enqueue(s.u.id);
      if (open2.length === 0) {
        while ((await consume(1)) > 0);
        // a job that failed without a failure line (stalled too often, killed): record its error
        for (const s of states.filter((x) => x.state === 'failed' && !finished(x.u))) {
          const job = await queue.getJob(info.jobs[s.u.id]!);
          const cp = s.u.checkpoints.find((c) => !results.has(checkpointKey(s.u.id, c))) ?? 0;
          append(unitFailureLine(s.u.id, cp, job?.failedReason ?? 'the job failed'));
        }
        break;
      }
      if (Date.now() - lastWait > 30_000) {
        lastWait = Date.now();
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed');
        o.log(
          `waiting for workers: ${open2.length} job(s) open (queue: ${counts['waiting']} waiting, ${counts['active']} active)`,
        );
      }
    }
    canonicalOrder(
      join(o.out, 'results.jsonl'),
      units.map((u) => u.id),
    );
    // the run is complete: its stream and jobs are no longer needed
    for (const id of Object.values(info.jobs)) await (await queue.getJob(id))?.remove().catch(() => undefined);
    await redis.del(key);
    const lines = readResultLines(join(o.out, 'results.jsonl')).lines;
    return { completed: true, lines: lines.length, failures: failuresOf(lines) };
  } finally {
    await queue.close();
    redis.disconnect();
    connection.disconnect();
  }
}

function failuresOf(lines: ResultLine[]): StudyOutcome['failures'] {
  return lines.filter((l) => l.key.kind === 'failure').map((l) => ({ cell: l.key.cell, error: String(l.values['error']) }));
}

/**
 * Lines arrive in the order jobs finish them; a one-machine run writes the baseline, then each
 * cell in the study's order. Once everything is in, the file is rewritten (atomically) in that
 * order, each unit's lines in the order they came, so both runs give the same file.
 */
function canonicalOrder(path: string, unitOrder: string[]): void {
  const { lines } = readResultLines(path);
  const rank = new Map(unitOrder.map((u, i) => [u, i]));
  const sorted = lines
    .map((l, i) => ({ l, i }))
    .sort((a, b) => (rank.get(a.l.key.cell) ?? 1e9) - (rank.get(b.l.key.cell) ?? 1e9) || a.i - b.i)
    .map((x) => x.l);
  if (sorted.every((l, i) => l === lines[i])) return;
  writeAtomic(path, sorted.map((l) => JSON.stringify(l) + '\n').join(''));
}

/** A unit's job as the queue sees it (for `lmedit study status`). */
export interface QueueJobStatus {
  unit: string;
  job: string;
  state: string;
  attempts: number;
  progress: JobProgress | null;
  error: string | null;
}

/** The run's jobs in the queue: state, attempts, the active ones' worker and progress. */
export async function queueStatus(info: QueueInfo, url: string): Promise<QueueJobStatus[]> {
  const connection = connect(url);
  const queue = new Queue<StudyJobData>(info.queue_name, { connection });
  try {
    await reachable(connection, url, 5);
    const out: QueueJobStatus[] = [];
    for (const [unit, id] of Object.entries(info.jobs)) {
      const job = await queue.getJob(id);
      const state = job ? await job.getState() : 'not in the queue';
      const p = job?.progress;
      out.push({
        unit,
        job: id,
        state,
        attempts: job?.attemptsMade ?? 0,
        progress: p && typeof p === 'object' && 'worker' in p ? (p as unknown as JobProgress) : null,
        error: job?.failedReason || null,
      });
    }
    return out;
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
