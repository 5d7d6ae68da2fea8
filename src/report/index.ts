/**
 * `lmedit report`: a study run directory's results.jsonl as the paper's tables and charts —
 * Markdown, a tidy CSV, or one self-contained HTML file — optionally beside another run's.
 * @example
 * const r = await buildReport('runs/rect-gpt2xl', { format: 'html', compare: ['runs/rect-llama'] });
 * writeFileSync('report.html', r.content);
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { buildCharts, renderCharts, type Chart } from './charts.js';
import { reportData, type ReportData } from './data.js';
import { renderHtml } from './html.js';
import { loadRun, type RunData } from './load.js';
import { renderMarkdown } from './markdown.js';
import { buildTables, toCsv, type ReportTables } from './tables.js';

export type ReportFormat = 'md' | 'csv' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['md', 'csv', 'html'];

export interface ReportOptions {
  /** default 'md' */
  format?: ReportFormat;
  /** other run directories, drawn and tabled beside this one, labelled by directory name */
  compare?: string | readonly string[];
  /** scorer modes to chart (default: paper, or the only mode present); tables always show every mode */
  modes?: readonly string[];
  /**
   * Where the report will be written. Markdown: its charts become SVG files in
   * `<name>-charts/` beside it (returned as assets) and links are relative to it; without it a
   * Markdown report has tables only.
   */
  outFile?: string;
}

export interface ReportAsset {
  path: string;
  content: string;
}

export interface Report {
  format: ReportFormat;
  content: string;
  /** files the report links to (Markdown chart SVGs), to be written beside it */
  assets: ReportAsset[];
  /** what was skipped or is unknown (partial last line, missing manifest, …) */
  warnings: string[];
}

/** The format an output file name implies (.md/.markdown, .csv, .html/.htm), or null. */
export function formatOfFile(file: string): ReportFormat | null {
  const e = extname(file).toLowerCase();
  if (e === '.md' || e === '.markdown') return 'md';
  if (e === '.csv') return 'csv';
  if (e === '.html' || e === '.htm') return 'html';
  return null;
}

/** Load runs and derive everything a report shows (exported for tests and other front ends). */
export function prepareReport(
  runDir: string,
  compare: readonly string[] = [],
): { data: ReportData; tables: ReportTables; runs: RunData[] } {
  const runs = [runDir, ...compare].map((d) => loadRun(d));
  const data = reportData(runs);
  return { data, tables: buildTables(data), runs };
}

/** Build a report of `runDir` in one format. */
export async function buildReport(runDir: string, opts: ReportOptions = {}): Promise<Report> {
  const format = opts.format ?? 'md';
  const compare = opts.compare === undefined ? [] : typeof opts.compare === 'string' ? [opts.compare] : [...opts.compare];
  const { data, tables } = prepareReport(runDir, compare);
  const warnings = data.runs.flatMap((r) => r.data.warnings);
  if (format === 'csv') return { format, content: toCsv(data), assets: [], warnings };
  const charts: Chart[] = buildCharts(data, opts.modes);
  if (format === 'html') {
    const rendered = await renderCharts(charts);
    return { format, content: renderHtml(data, tables, rendered, warnings), assets: [], warnings };
  }
  const out = opts.outFile ? resolve(opts.outFile) : null;
  const baseDir = out ? dirname(out) : process.cwd();
  const assets: ReportAsset[] = [];
  let links = null;
  if (out && charts.length) {
    const dir = join(baseDir, `${basename(out, extname(out))}-charts`);
    const rendered = await renderCharts(charts);
    for (const c of rendered) assets.push({ path: join(dir, `${c.id}.svg`), content: c.svg });
    links = {
      links: rendered.map((c) => ({
        id: c.id,
        title: c.title,
        caption: c.caption,
        href: relative(baseDir, join(dir, `${c.id}.svg`))
          .split('\\')
          .join('/'),
      })),
    };
  }
  return { format, content: renderMarkdown(data, tables, links, warnings, baseDir), assets, warnings };
}

/** Build and write a report (and its assets); without `outFile` the content is only returned. */
export async function writeReport(runDir: string, opts: ReportOptions = {}): Promise<Report> {
  const r = await buildReport(runDir, opts);
  if (opts.outFile) {
    mkdirSync(dirname(resolve(opts.outFile)), { recursive: true });
    for (const a of r.assets) {
      mkdirSync(dirname(a.path), { recursive: true });
      writeFileSync(a.path, a.content);
    }
    writeFileSync(opts.outFile, r.content);
  }
  return r;
}

export { loadRun, type RunData, type RunManifest, type HeatmapFile } from './load.js';
export { reportData, type ReportData, type Series } from './data.js';
export { buildTables, toCsv, CSV_COLUMNS, type Table, type ReportTables } from './tables.js';
export { buildCharts, renderSvg, type Chart } from './charts.js';
export * as paperValues from './paper-values.js';
