/**
 * `lmedit report RUN_DIR`: a study run's results as the paper's tables and charts — Markdown
 * (default; chart SVGs beside the file with --out), a tidy CSV, or one self-contained HTML file —
 * optionally beside other runs (--compare).
 */
import type { Command } from 'commander';
import { formatOfFile, REPORT_FORMATS, writeReport, type ReportFormat } from '../report/index.js';
import { choiceOption } from './options.js';

interface ReportFlags {
  format?: ReportFormat;
  compare: string[];
  out?: string;
  mode?: 'paper' | 'clean' | 'both';
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description("turn a study run directory's results.jsonl into the paper's tables and charts (Markdown, CSV or HTML)")
    .argument('<run-dir>', 'study run directory (holds results.jsonl and manifest.json)')
    .option(
      '--format <format>',
      `md, csv or html (default: from --out's extension, else md)`,
      choiceOption('--format', REPORT_FORMATS),
    )
    .option(
      '--compare <run-dir>',
      'another run to draw and table beside this one (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [],
    )
    .option('--out <file>', 'write the report here (Markdown: chart SVGs go to <name>-charts/ beside it); default stdout')
    .option(
      '--mode <mode>',
      'scorer mode(s) to chart: paper, clean or both (default paper, or clean when paper mode has no scores; tables show every mode)',
      choiceOption('--mode', ['paper', 'clean', 'both'] as const),
    )
    .action(async (runDir: string, o: ReportFlags) => {
      const format = o.format ?? (o.out ? formatOfFile(o.out) : null) ?? 'md';
      const modes = o.mode === undefined ? undefined : o.mode === 'both' ? ['paper', 'clean'] : [o.mode];
      const r = await writeReport(runDir, {
        format,
        compare: o.compare,
        ...(modes ? { modes } : {}),
        ...(o.out ? { outFile: o.out } : {}),
      });
      for (const w of r.warnings) console.error(`warning: ${w}`);
      if (o.out) console.error(`wrote ${o.out}${r.assets.length ? ` and ${r.assets.length} chart(s)` : ''}`);
      else process.stdout.write(r.content);
    });
}
