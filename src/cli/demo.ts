/**
 * `lmedit demo [--quick]`: the paper in miniature on the built-in world model (the `demo` study
 * preset): a compact table on stdout as checkpoints complete, then the study's HTML report.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeReport } from '../report/index.js';
import { resolveStudy } from '../study/presets.js';
import type { ResultLine } from '../study/types.js';
import { runStudyCommand } from './study.js';

interface DemoFlags {
  quick?: boolean;
  out?: string;
  model?: string;
  quiet?: boolean;
}

/** Editing metrics of the table, by result name. */
const METRICS: readonly (readonly [string, string])[] = [
  ['rewrite_acc', 'Rel'],
  ['rephrase_acc', 'Gen'],
  ['locality_acc', 'Loc'],
  ['portability_acc', 'Port'],
];

const fmt = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);

/**
 * Prints one row per completed checkpoint: variant, edit operations and facts edited (operations ×
 * batch size), the editing metrics, each task, recall of unrelated facts and held-out perplexity.
 * The task columns come from the first checkpoint.
 */
export class CompactTable {
  private tasks: string[] | null = null;
  private readonly width = 16;

  constructor(private readonly write: (line: string) => void) {}

  row(lines: readonly ResultLine[]): void {
    const first = lines[0];
    if (!first) return;
    const taskLines = lines.filter((l) => l.key.kind === 'task');
    if (this.tasks === null) {
      this.tasks = taskLines.map((l) => l.key.name);
      this.write(
        [
          'variant'.padEnd(this.width),
          'edits'.padStart(5),
          'facts'.padStart(5),
          ...METRICS.map(([, label]) => label.padStart(5)),
          ...this.tasks.map((t) => t.slice(0, 5).padStart(6)),
          'recall'.padStart(7),
          'ppl'.padStart(7),
        ].join(' '),
      );
    }
    const metric = (name: string): number | null | undefined =>
      lines.find((l) => l.key.kind === 'metric' && l.key.name === name)?.value;
    this.write(
      [
        first.variant.padEnd(this.width),
        String(first.edits).padStart(5),
        String(first.edits * first.batch_size).padStart(5),
        ...METRICS.map(([name]) => fmt(metric(name)).padStart(5)),
        ...this.tasks.map((t) => fmt(taskLines.find((l) => l.key.name === t)?.value).padStart(6)),
        fmt(metric('unrelated_recall')).padStart(7),
        fmt(metric('perplexity'), 1).padStart(7),
      ].join(' '),
    );
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'the paper in miniature on the built-in world model: sequential ROME edits and MEMIT batches, with and without RECT-40%, ' +
        'measured on its seven tasks, the editing metrics, unrelated facts and perplexity; ends with an HTML report',
    )
    .option('--quick', 'the small world model, three checkpoints and 20 examples per task (about a minute once trained)')
    .option('--out <dir>', 'run directory (default runs/demo, or runs/demo-quick); an existing one is resumed')
    .option('--model <dir>', "another world model directory (one with world.json), or 'default' / 'quick'")
    .option('--quiet', 'only the table and the report path')
    .action(async (o: DemoFlags) => {
      const spec = resolveStudy('demo', { scale: o.quick ? 'tiny' : 'paper', ...(o.model ? { model: o.model } : {}) });
      const out = o.out ?? join('runs', o.quick ? 'demo-quick' : 'demo');
      const table = new CompactTable((line) => console.log(line));
      const t0 = Date.now();
      const outcome = await runStudyCommand(spec, { out, quiet: o.quiet === true, onCheckpoint: (lines) => table.row(lines) });
      const reportFile = join(out, 'report.html');
      const r = await writeReport(out, { format: 'html', outFile: reportFile });
      for (const w of r.warnings) console.error(`warning: ${w}`);
      console.log(
        `\n${outcome.completed ? 'demo done' : 'demo stopped'} in ${((Date.now() - t0) / 1000).toFixed(0)} s: the report is ${reportFile}` +
          (outcome.failures.length ? ` (${outcome.failures.length} cell(s) failed: lmedit study status ${out})` : ''),
      );
      if (outcome.failures.length > 0) process.exitCode = 1;
    });
}
