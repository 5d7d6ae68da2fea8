/**
 * `lmedit worker`: takes study jobs from the queue, one job process each (so this process keeps
 * renewing BullMQ's job locks — the heartbeat by which a stalled job is handed to another worker
 * — while the job computes), and streams every result line and run file into the run's Redis
 * stream as it comes. Ctrl-C finishes the current jobs and takes no more; a second Ctrl-C stops
 * them and puts them back in the queue (no attempt counted).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { connect, reachable, redactUrl } from './connection.js';
import { decodeEntry, encodeEntry, QUEUE_NAME, resultsStream, type JobProgress, type StudyJobData } from './protocol.js';
import type { JobMessage, JobStart } from '../../cli/study-job.js';

const BIN = fileURLToPath(new URL('../../../bin/lmedit.js', import.meta.url));

export interface WorkerOptions {
  queue: string;
  /** jobs at once (each its own process) */
  concurrency: number;
  /** where models are looked up by name before the coordinator's path (checksums decide) */
  modelsDir?: string;
  /** where job processes write predictions and heat maps before sending them */
  workDir?: string;
  /** BullMQ lock duration: a worker silent this long is taken for dead and its job handed on */
  lockSeconds: number;
  log: (msg: string) => void;
  /** stop after this many jobs (tests) */
  maxJobs?: number;
}

/** Every entry of a run's stream (for a retried job: what earlier attempts reported). */
export async function readStream(redis: Redis, key: string): Promise<ReturnType<typeof decodeEntry>[]> {
  const out: ReturnType<typeof decodeEntry>[] = [];
  let from = '-';
  for (;;) {
    const batch = await redis.xrange(key, from, '+', 'COUNT', 1000);
    for (const [, fields] of batch) out.push(decodeEntry(fields));
    if (batch.length < 1000) return out;
    from = `(${batch[batch.length - 1]![0]}`;
  }
}

export async function runWorker(o: WorkerOptions): Promise<void> {
  const name = `${hostname()}:${process.pid}`;
  const connection = connect(o.queue, o.log);
  const redis = connect(o.queue, o.log);
  const children = new Set<ChildProcess>();
  let releasing = false;
  let jobsDone = 0;

  const processJob = async (job: Job<StudyJobData>, token?: string): Promise<{ lines: number }> => {
    const d = job.data;
    const key = resultsStream(d.runId);
    const known = (await readStream(redis, key)).flatMap((e) => (e.type === 'line' && e.unit === d.unit ? [e.line] : []));
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    o.log(
      `job ${job.id}: ${d.unit} of run ${d.runId}${known.length ? ` (resuming after ${known.length} reported lines)` : ''}${job.attemptsMade ? `, attempt ${job.attemptsMade + 1}` : ''}`,
    );
    const child = fork(BIN, ['study', 'job'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    let sent = 0;
    let failed: string | null = null;
    let chain: Promise<unknown> = Promise.resolve();
    const handle = async (m: JobMessage): Promise<void> => {
      if (m.type === 'line') {
        await redis.xadd(key, '*', ...encodeEntry({ type: 'line', unit: d.unit, line: m.line }));
        sent++;
      } else if (m.type === 'file') {
        await redis.xadd(
          key,
          '*',
          ...encodeEntry({ type: 'file', unit: d.unit, path: m.path, data: Buffer.from(m.data, 'base64') }),
        );
      } else if (m.type === 'progress') {
        const p: JobProgress = { worker: name, ...m.progress };
        await job.updateProgress(p as unknown as Record<string, unknown>);
      } else if (m.type === 'log') o.log(`job ${job.id}: ${m.message}`);
      else if (m.type === 'failed') failed = m.error;
    };
    child.on('message', (m: JobMessage) => {
      chain = chain.then(() => handle(m));
    });
    const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const start: JobStart = {
      type: 'start',
      data: d,
      known,
      ...(o.modelsDir ? { modelsDir: o.modelsDir } : {}),
      workDir: o.workDir ?? join(tmpdir(), 'lmedit-worker'),
      lastAttempt,
    };
    child.send(start);
    const code = await exit;
    children.delete(child);
    await chain;
    if (releasing) {
      o.log(`job ${job.id}: stopped; back in the queue`);
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (failed !== null) throw new Error(failed);
    if (code !== 0) throw new Error(`the job process exited with code ${code} before finishing`);
    jobsDone++;
    o.log(`job ${job.id}: ${d.unit} done (${sent} lines)`);
    return { lines: sent };
  };

  const worker = new Worker<StudyJobData, { lines: number }>(QUEUE_NAME, processJob, {
    connection,
    concurrency: o.concurrency,
    lockDuration: o.lockSeconds * 1000,
    stalledInterval: o.lockSeconds * 1000,
    maxStalledCount: 5,
    autorun: false,
  });
  worker.on('failed', (job, err) => {
    if (job && !(err instanceof WaitingError)) o.log(`job ${job.id}: failed: ${err.message}`);
  });
  worker.on('error', (err) => o.log(`worker: ${err.message}`));
  if (o.maxJobs !== undefined)
    worker.on('completed', () => {
      if (jobsDone >= o.maxJobs!) void worker.close();
    });

  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      o.log('finishing the current job(s), then stopping (Ctrl-C again stops them and puts them back in the queue)');
      void worker.close();
    } else {
      releasing = true;
      for (const c of children) c.kill('SIGTERM');
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    await reachable(redis, o.queue);
    o.log(`worker ${name} waiting for study jobs on ${redactUrl(o.queue)} (concurrency ${o.concurrency})`);
    await worker.run();
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await worker.close();
    redis.disconnect();
    connection.disconnect();
  }
}
