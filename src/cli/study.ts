/**
 * `lmedit study run FILE|PRESET --out RUN_DIR` (run or resume a study), `lmedit study status
 * RUN_DIR` and `lmedit study presets`.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { openModel } from '../models/index.js';
import { createStatsProvider } from '../edit/stats/index.js';
import { listPresets, resolveStudy } from '../study/presets.js';
import { makeManifest, writeOrCheckManifest } from '../study/manifest.js';
import { runStudy, type RunPoint, type StudyOutcome } from '../study/run.js';
import type { ResultLine, StudySpec } from '../study/types.js';
import { formatStatus, studyStatus } from '../study/status.js';
import { resolveModel, statsCorpus, worldOf } from './default-model.js';
import { choiceOption, floatOption } from './options.js';

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
  const { model, tokenizer, dir } = await openModel(await resolveModel(spec.model.path, { quiet: o.quiet }), {
    ...(spec.model.dtype !== 'float32' ? { dtype: spec.model.dtype } : {}),
  });
  const world = await worldOf(dir);
  const { resumed } = writeOrCheckManifest(o.out, await makeManifest(spec, dir));
  log(
    `${resumed ? 'resuming' : 'running'} study "${spec.name}" on ${dir} into ${o.out} (Ctrl-C stops at any moment; the same command resumes)`,
  );
  const corpus = statsCorpus(world);
  const stats = createStatsProvider({ tokenizer, modelId: dir, ...(corpus ? { corpus } : {}), progress: !o.quiet });
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
  stats.dispose();
  model.dispose();
  return outcome;
}

export function registerStudyCommands(program: Command): void {
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
    .action(async (file: string, o: StudyRunFlags) => {
      if (o.rect !== undefined && !(o.rect > 0 && o.rect <= 1)) throw new Error(`--rect must be in (0, 1], got ${o.rect}`);
      const spec = resolveStudy(file, {
        ...(o.model ? { model: o.model } : {}),
        ...(o.scale ? { scale: o.scale } : {}),
        ...(o.hparams ? { hparams: o.hparams } : {}),
        ...(o.rect !== undefined ? { rect: { keep: o.rect, mode: o.rectMode } } : {}),
      });
      const outcome = await runStudyCommand(spec, { out: o.out, quiet: o.quiet === true });
      if (outcome.failures.length > 0) process.exitCode = 1;
    });

  study
    .command('status')
    .description('what a run has done, what is left, and its failures')
    .argument('<run-dir>', 'a run directory')
    .option('--json', 'print a JSON object')
    .action((dir: string, o: { json?: boolean }) => {
      const s = studyStatus(dir);
      console.log(o.json ? JSON.stringify(s, null, 2) : formatStatus(s));
    });

  study
    .command('presets')
    .description('one preset per figure and table of the paper')
    .action(() => {
      for (const p of listPresets()) console.log(`${p.id.padEnd(26)} ${p.title}\n${' '.repeat(27)}(${p.figure})`);
    });
}
