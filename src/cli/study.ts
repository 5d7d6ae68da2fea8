/**
 * `lmedit study run FILE|PRESET --out RUN_DIR` (run or resume a study), `lmedit study status
 * RUN_DIR` and `lmedit study presets`.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { openModel } from '../models/index.js';
import { createStatsProvider, type LayerStatsProvider } from '../edit/stats/index.js';
import type { CausalLM } from '../models/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { World } from '../world/index.js';
import { listPresets, resolveStudy } from '../study/presets.js';
import { makeManifest, writeOrCheckManifest } from '../study/manifest.js';
import { runStudy, type RunPoint, type StudyOutcome } from '../study/run.js';
import type { ResultLine, StudySpec } from '../study/types.js';
import { formatStatus, studyStatus } from '../study/status.js';
import { resolveModel, statsCorpus, worldOf } from './default-model.js';
import { choiceOption, floatOption, intOption } from './options.js';
import { queueStatus, readQueueInfo, runDistributedStudy, type QueueJobStatus } from '../study/queue/coordinator.js';

const duration = (s: number): string =>
  s >= 3600
    ? `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s`
      : `${Math.round(s)}s`;

/**
 * Tests interrupt a run with LMEDIT_TEST_KILL_AT=N (SIGKILL at the N-th interruption point of
 * this process) and LMEDIT_TEST_KILL_HALF=1 (at a write point, write half the line first);
 * LMEDIT_TEST_KILL_LOG names a file that gets the kind of point each kill happened at.
 */
function testKiller(resultsPath: string): ((kind: RunPoint, text?: string) => void) | undefined {
  const at = Number(process.env['LMEDIT_TEST_KILL_AT'] ?? '');
  if (!Number.isInteger(at) || at < 1) return undefined;
  let n = 0;
  return (kind, text) => {
    if (++n !== at) return;
    const logFile = process.env['LMEDIT_TEST_KILL_LOG'];
    if (logFile) appendFileSync(logFile, `${kind}\n`);
    if (kind === 'write' && text && process.env['LMEDIT_TEST_KILL_HALF'] === '1')
      appendFileSync(resultsPath, text.slice(0, text.length >> 1));
    process.kill(process.pid, 'SIGKILL');
  };
}

interface StudyRunFlags {
  out: string;
  model?: string;
  scale?: 'paper' | 'tiny';
  hparams?: string;
  rect?: number;
  rectMode: 'rect' | 'random' | 'pca';
  quiet?: boolean;
  queue?: string;
  attempts: number;
}

/**
 * Run (or resume) a resolved study into `out` with progress on stderr: what `lmedit study run`
 * and `lmedit demo` share. `onCheckpoint` sees each checkpoint's lines as they are complete.
 */
export async function runStudyCommand(
  spec: StudySpec,
  o: { out: string; quiet: boolean; onCheckpoint?: (lines: ResultLine[]) => void },
): Promise<StudyOutcome> {
  const log = (m: string): void => {
    if (!o.quiet) process.stderr.write(`lmedit: ${m}\n`);
  };
  using opened = await openStudyModel(spec, await resolveModel(spec.model.path, { quiet: o.quiet }), !o.quiet);
  const { model, tokenizer, dir, world, stats } = opened;
  const { resumed } = writeOrCheckManifest(o.out, await makeManifest(spec, dir));
  log(
    `${resumed ? 'resuming' : 'running'} study "${spec.name}" on ${dir} into ${o.out} (Ctrl-C stops at any moment; the same command resumes)`,
  );
  const point = testKiller(join(o.out, 'results.jsonl'));
  const outcome = await runStudy(spec, {
    out: o.out,
    model,
    tokenizer,
    stats,
    ...(world ? { world } : {}),
    log,
    ...(point ? { point } : {}),
    ...(o.onCheckpoint ? { onCheckpoint: o.onCheckpoint } : {}),
    onProgress: (p) =>
      log(
        `[${p.done}/${p.total} checkpoints] ${p.current} done${p.eta !== null && p.done < p.total ? `, about ${duration(p.eta)} left` : ''}`,
      ),
  });
  for (const f of outcome.failures) log(`cell ${f.cell} failed: ${f.error}`);
  log(
    `${outcome.lines} result lines in ${join(o.out, 'results.jsonl')}; \`lmedit report ${o.out}\` makes the tables and figures`,
  );
  return outcome;
}

/** A study's model opened for running it: weights, tokenizer, world (if any) and layer statistics. */
export interface OpenedStudyModel extends Disposable {
  model: CausalLM;
  tokenizer: Tokenizer;
  dir: string;
  world: World | null;
  stats: LayerStatsProvider;
}

/** Open the model directory `dir` as the study asks (dtype), with its world and statistics provider. */
export async function openStudyModel(spec: StudySpec, dir: string, progress: boolean): Promise<OpenedStudyModel> {
  const { model, tokenizer } = await openModel(dir, spec.model.dtype !== 'float32' ? { dtype: spec.model.dtype } : {});
  const world = await worldOf(dir);
  const corpus = statsCorpus(world);
  const stats = createStatsProvider({ tokenizer, modelId: dir, ...(corpus ? { corpus } : {}), progress });
  return {
    model,
    tokenizer,
    dir,
    world,
    stats,
    [Symbol.dispose]() {
      stats.dispose();
      model.dispose();
    },
  };
}

export function registerStudyCommands(program: Command): Command {
  const study = program.command('study').description("run the paper's protocol from one study file, resumably");

  study
    .command('run')
    .description('run a study file or preset into RUN_DIR; on an existing RUN_DIR, resume where it stopped')
    .argument('<study>', 'study file (YAML) or preset name (`lmedit study presets`)')
    .requiredOption('--out <dir>', 'run directory (results.jsonl, manifest.json, predictions/, weights/)')
    .option(
      '--model <dir|hub-id>',
      "swap in another model (keeps the study's numbers); 'default': the built-in world model, 'quick': the small one, 'stories260K': the tiny checkpoint in ../shared",
    )
    .option(
      '--scale <scale>',
      'paper | tiny (presets: shrink limits and checkpoints to run in minutes)',
      choiceOption('--scale', ['paper', 'tiny']),
    )
    .option('--hparams <file.yaml>', 'hparams file for every method of the study (e.g. a trained MEND archive)')
    .option(
      '--rect <keep>',
      'add a regularised twin of every method, keeping this fraction of ΔW (RECT: 0.4)',
      floatOption('--rect'),
    )
    .option(
      '--rect-mode <mode>',
      'rect | random | pca: the regulariser of --rect',
      choiceOption('--rect-mode', ['rect', 'random', 'pca']),
      'rect',
    )
    .option('--quiet', 'no progress lines')
    .option(
      '--queue <url>',
      'run the study as jobs on this Redis (redis://[:password@]host[:port][/db], rediss:// for TLS); `lmedit worker` runs them',
    )
    .option('--attempts <n>', 'with --queue: attempts per job before it is recorded as failed', intOption('--attempts', 1), 3)
    .action(async (file: string, o: StudyRunFlags) => {
      if (o.rect !== undefined && !(o.rect > 0 && o.rect <= 1)) throw new Error(`--rect must be in (0, 1], got ${o.rect}`);
      const spec = resolveStudy(file, {
        ...(o.model ? { model: o.model } : {}),
        ...(o.scale ? { scale: o.scale } : {}),
        ...(o.hparams ? { hparams: o.hparams } : {}),
        ...(o.rect !== undefined ? { rect: { keep: o.rect, mode: o.rectMode } } : {}),
      });
      const outcome = o.queue
        ? await runQueuedStudy(spec, { out: o.out, quiet: o.quiet === true, queue: o.queue, attempts: o.attempts })
        : await runStudyCommand(spec, { out: o.out, quiet: o.quiet === true });
      if (outcome.failures.length > 0) process.exitCode = 1;
    });

  study
    .command('status')
    .description('what a run has done, what is left, and its failures')
    .argument('<run-dir>', 'a run directory')
    .option('--json', 'print a JSON object')
    .option('--queue <url>', "a queued run's Redis, when its URL holds a password (queue.json never stores it)")
    .action(async (dir: string, o: { json?: boolean; queue?: string }) => {
      const s = studyStatus(dir);
      const info = readQueueInfo(dir);
      let queue: QueueJobStatus[] | string | null = null;
      if (info) {
        const url = o.queue ?? process.env['LMEDIT_QUEUE'] ?? info.queue;
        queue = url.includes('***')
          ? `the queue's URL holds a password: pass --queue (or set LMEDIT_QUEUE) to see the jobs`
          : await queueStatus(info, url).catch((e: Error) => `cannot read the queue: ${e.message}`);
      }
      if (o.json) console.log(JSON.stringify({ ...s, ...(info ? { run_id: info.run_id, queue } : {}) }, null, 2));
      else console.log(formatStatus(s) + (queue === null ? '' : '\n' + formatQueue(queue)));
    });

  study
    .command('presets')
    .description('one preset per figure and table of the paper')
    .action(() => {
      for (const p of listPresets()) console.log(`${p.id.padEnd(26)} ${p.title}\n${' '.repeat(27)}(${p.figure})`);
    });
  return study;
}

/** `study run --queue`: the coordinator (progress on stderr; Ctrl-C detaches, the jobs go on). */
async function runQueuedStudy(
  spec: StudySpec,
  o: { out: string; quiet: boolean; queue: string; attempts: number },
): Promise<StudyOutcome> {
  const log = (m: string): void => {
    if (!o.quiet) process.stderr.write(`lmedit: ${m}\n`);
  };
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    const outcome = await runDistributedStudy(spec, {
      out: o.out,
      queue: o.queue,
      modelDir: await resolveModel(spec.model.path, { quiet: o.quiet }),
      attempts: o.attempts,
      log,
      signal: stop.signal,
    });
    for (const f of outcome.failures) log(`${f.cell} failed: ${f.error}`);
    if (outcome.completed)
      log(
        `${outcome.lines} result lines in ${join(o.out, 'results.jsonl')}; \`lmedit report ${o.out}\` makes the tables and figures`,
      );
    return outcome;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The queue part of `lmedit study status`: counts, then one line per job that is not done. */
export function formatQueue(q: QueueJobStatus[] | string): string {
  if (typeof q === 'string') return `queue: ${q}`;
  if (q.every((j) => j.state === 'not in the queue'))
    return "queue: none of the run's jobs is in the queue (a finished run's jobs and stream are removed from Redis)";
  const count = (state: string): number => q.filter((j) => j.state === state).length;
  const gone = q.filter((j) => j.state === 'not in the queue').length;
  const rows = q
    .filter((j) => j.state !== 'completed' && j.state !== 'not in the queue')
    .map((j) => {
      const p = j.progress;
      const detail =
        j.state === 'active' && p
          ? ` on ${p.worker}: ${p.done}/${p.total} checkpoints${p.eta !== null && p.done < p.total ? `, about ${Math.round(p.eta)} s left` : ''}`
          : j.state === 'failed'
            ? ` after ${j.attempts} attempt(s): ${j.error ?? ''}`
            : '';
      return `  ${j.unit.padEnd(28)} ${j.state}${detail}`;
    });
  return [
    `queue: ${count('waiting') + count('delayed') + count('prioritized')} waiting, ${count('active')} active, ${count('completed')} done, ${count('failed')} failed${gone ? ` (${gone} not in the queue: finished and removed, or never queued)` : ''}`,
    ...rows,
  ].join('\n');
}
