/**
 * The Markdown report: the manifest summary, warnings, every table, links to the chart SVGs
 * (written beside the report when it goes to a file) and to the heat map PNGs.
 */
import { relative } from 'node:path';
import { orderedHeatmaps, type ReportData } from './data.js';
import { PAPER_CITATION } from './paper-values.js';
import { summaryGrid } from './summary.js';
import { tableSections, tableToMarkdown, type ReportTables } from './tables.js';

export interface MarkdownCharts {
  /** chart id, title and the link to its SVG (relative to the report) */
  links: { id: string; title: string; caption: string; href: string }[];
}

const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function renderMarkdown(
  d: ReportData,
  tables: ReportTables,
  charts: MarkdownCharts | null,
  warnings: string[],
  /** directory the report's relative links start from */
  baseDir: string,
): string {
  const first = d.runs[0]!;
  const title = d.compare
    ? `Study report: ${d.runs.map((r) => r.name).join(' vs ')}`
    : `Study report: ${first.data.manifest?.study?.name ?? first.name}`;
  const out: string[] = [`# ${title}`, ''];
  const grid = summaryGrid(d.runs);
  out.push(`| ${grid.columns.map(mdCell).join(' | ')} |`, `|${grid.columns.map(() => ' --- ').join('|')}|`);
  for (const r of grid.rows) out.push(`| ${r.map(mdCell).join(' | ')} |`);
  out.push('');
  if (warnings.length) {
    out.push('**Warnings**', '');
    for (const w of warnings) out.push(`- ${w}`);
    out.push('');
  }
  if (charts && charts.links.length) {
    out.push('## Charts', '');
    for (const c of charts.links) out.push(`![${c.title}](${encodeURI(c.href)})`, '', `*${c.caption}*`, '');
  }
  for (const s of tableSections(tables)) {
    out.push(`## ${s.title}`, '');
    for (const t of s.tables) out.push(tableToMarkdown(t));
  }
  const heatmaps = orderedHeatmaps(d);
  if (heatmaps.length) {
    out.push('## Heat maps', '');
    for (const { h, run } of heatmaps) {
      const label = `${run ? `${run}: ` : ''}${h.cell} — ${h.param}`;
      out.push(`- ${label}: ![${label}](${encodeURI(relative(baseDir, h.path).split('\\').join('/'))})`);
    }
    out.push('');
  }
  out.push(
    '---',
    '',
    `Paper reference values: ${PAPER_CITATION}; read off the paper’s figures (±0.005 for bars, ±0.01–0.02 for line markers).`,
    '',
  );
  return out.join('\n');
}
