/**
 * The process that runs one study job for `lmedit worker` (a child with an IPC channel, so the
 * worker's event loop stays free for BullMQ's lock renewal while this one computes). It checks the
 * model against the coordinator's checksums, runs the job's unit with the lines the stream
 * already holds for it (a retried job resumes after its last reported checkpoint), and sends
 * every result line and run file to the worker as it is produced.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runStudy, type ResultSink, type StudyProgress } from '../study/run.js';
import { keyString, type ResultKey, type ResultLine } from '../study/types.js';
import { locateModel } from '../study/queue/model-ref.js';
import { unitFailureLine, type StudyJobData } from '../study/queue/protocol.js';
import { openStudyModel } from './study.js';
import { resolveModel } from './default-model.js';

/** worker → job process */
export interface JobStart {
  type: 'start';
  data: StudyJobData;
  /** the unit's lines already in the stream (earlier attempts) */
  known: ResultLine[];
  modelsDir?: string;
  /** where this job's predictions and heat maps are written before they are sent */
  workDir: string;
  /** the job's last attempt: a failing cell is recorded as failed instead of retried */
  lastAttempt: boolean;
}

/** job process → worker */
export type JobMessage =
  | { type: 'line'; line: ResultLine }
  | { type: 'file'; path: string; data: string }
  | { type: 'progress'; progress: StudyProgress }
  | { type: 'log'; message: string }
  | { type: 'done' }
  | { type: 'failed'; error: string };

/** Lines go to the worker; run files written since the last checkpoint line go just before it. */
class JobSink implements ResultSink {
  private readonly done = new Map<string, ResultLine>();
  private readonly sent = new Map<string, string>();

  constructor(
    known: ResultLine[],
    private readonly out: string,
    private readonly lastAttempt: boolean,
    private readonly send: (m: JobMessage) => void,
  ) {
    for (const l of known) this.done.set(keyString(l.key), l);
  }

  has(key: ResultKey): boolean {
    return this.done.has(keyString(key));
  }

  lines(): ResultLine[] {
    return [...this.done.values()];
  }

  append(line: ResultLine): boolean {
    const k = keyString(line.key);
    if (this.done.has(k)) return false;
    // an attempt that is not the last one fails the job (BullMQ retries it) instead of recording the failure
    if (line.key.kind === 'failure' && !this.lastAttempt) throw new Error(String(line.values['error']));
    if (line.key.kind === 'checkpoint') this.sendNewFiles();
    this.done.set(k, line);
    this.send({ type: 'line', line });
    return true;
  }

  private sendNewFiles(): void {
    for (const sub of ['predictions', 'weights'])
      for (const path of walk(join(this.out, sub))) {
        const st = statSync(path);
        const stamp = `${st.size}:${st.mtimeMs}`;
        const rel = relative(this.out, path).split('\\').join('/');
        if (this.sent.get(rel) === stamp || rel.endsWith('.tmp')) continue;
        this.sent.set(rel, stamp);
        this.send({ type: 'file', path: rel, data: readFileSync(path).toString('base64') });
      }
  }
}

function walk(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Run one job (in the job process). Resolves when its lines are all sent. */
export async function runJob(start: JobStart, send: (m: JobMessage) => void): Promise<void> {
  const { data } = start;
  const log = (message: string): void => send({ type: 'log', message });
  let dir: string;
  try {
    dir = await locateModel(data.model, start.modelsDir, (p) => resolveModel(p, { quiet: true }));
  } catch (e) {
    const error = (e as Error).message;
    if (start.lastAttempt) send({ type: 'line', line: unitFailureLine(data.unit, 0, error) });
    send({ type: 'failed', error });
    return;
  }
  using opened = await openStudyModel(data.study, dir, false);
  const out = join(start.workDir, data.runId);
  const sink = new JobSink(start.known, out, start.lastAttempt, send);
  try {
    const outcome = await runStudy(data.study, {
      out,
      model: opened.model,
      tokenizer: opened.tokenizer,
      stats: opened.stats,
      ...(opened.world ? { world: opened.world } : {}),
      units: [data.unit],
      results: sink,
      log,
      onProgress: (progress) => send({ type: 'progress', progress }),
    });
    const failure = outcome.failures[0];
    send(failure ? { type: 'failed', error: failure.error } : { type: 'done' });
  } catch (e) {
    send({ type: 'failed', error: (e as Error).message });
  }
}

/** The job process's main: one 'start' message, then exit; exit at once if the worker goes away. */
export function jobProcessMain(): Promise<void> {
  return new Promise((resolvePromise) => {
    if (!process.send) throw new Error('lmedit study job runs only as a child of `lmedit worker`');
    process.on('disconnect', () => process.exit(1)); // the worker died: nothing can be reported any more
    let pending = 0;
    let drained: (() => void) | null = null;
    const send = (msg: JobMessage): void => {
      pending++;
      process.send!(msg, undefined, {}, () => {
        if (--pending === 0) drained?.();
      });
    };
    process.once('message', (m: JobStart) => {
      runJob(m, send)
        .catch((e: Error) => send({ type: 'failed', error: e.message }))
        .then(() => (pending === 0 ? undefined : new Promise<void>((r) => (drained = r))))
        .finally(() => {
          process.removeAllListeners('disconnect');
          process.disconnect();
          resolvePromise();
        });
    });
  });
}
