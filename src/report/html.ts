/**
 * The HTML report: one self-contained file (inline CSS, inline SVG charts, heat maps as data:
 * URIs, no external URLs), readable offline and printable.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { RenderedChart } from './charts.js';
import { orderedHeatmaps, type ReportData } from './data.js';
import type { HeatmapFile } from './load.js';
import { PAPER_CITATION } from './paper-values.js';
import { summaryGrid } from './summary.js';
import { escapeHtml, tableSections, tableToHtml, type ReportTables } from './tables.js';

/** Inline SVG needs no namespace declarations; dropping them keeps the page free of URLs. */
export function inlineSvg(svg: string): string {
  return svg
    .replace(/^<\?xml[^>]*>\s*/, '')
    .replace(/\s+xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, '')
    .replace(/\s+xmlns:xlink="http:\/\/www\.w3\.org\/1999\/xlink"/, '')
    .replace(/\bxlink:href=/g, 'href=');
}

/** The largest box a heat map is drawn in (CSS px); it keeps its aspect ratio inside. */
export const HEATMAP_BOX = { width: 260, height: 320 } as const;

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #222; margin: 0; background: #f6f7f9; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 28px 48px; background: #fff; min-height: 100vh; }
h1 { font-size: 24px; margin: 4px 0 2px; }
h2 { font-size: 18px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #e2e2e2; }
h3 { font-size: 15px; margin: 18px 0 8px; }
.sub { color: #666; margin: 0 0 12px; }
nav { font-size: 13px; margin: 10px 0 0; color: #555; }
nav a { color: #2f5f8f; text-decoration: none; margin-right: 14px; white-space: nowrap; }
.summary { border-collapse: collapse; font-size: 13px; }
.summary th, .summary td { text-align: left; vertical-align: top; padding: 3px 14px 3px 0; border-bottom: 1px solid #f0f0f0; }
.summary th { color: #555; font-weight: 600; white-space: nowrap; }
.summary thead th { color: #222; border-bottom: 1px solid #ccc; }
.warnings { background: #fff7e0; border: 1px solid #f0d58a; border-radius: 4px; padding: 8px 14px; margin: 14px 0; font-size: 13px; }
.warnings ul { margin: 4px 0; padding-left: 18px; }
figure.chart { margin: 14px 0 22px; padding: 10px 10px 6px; border: 1px solid #e6e6e6; border-radius: 4px; overflow-x: auto; }
figure.chart svg { display: block; max-width: none; }
figcaption { color: #555; font-size: 12.5px; margin-top: 6px; }
.tables { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
.table { margin: 4px 0 10px; }
.table table { border-collapse: collapse; font-size: 12.5px; font-variant-numeric: tabular-nums; }
.table caption { text-align: left; font-weight: 600; padding: 4px 0 6px; font-size: 13px; }
.table th, .table td { padding: 2px 9px; border-bottom: 1px solid #eee; }
.table thead th { border-bottom: 1.5px solid #999; font-weight: 600; text-align: left; white-space: nowrap; }
.table tbody th { text-align: left; font-weight: normal; white-space: nowrap; }
.table td { text-align: left; }
.table .num { text-align: right; }
.table tr.paper { color: #555; font-style: italic; background: #f7f7f2; }
.table .note { color: #666; font-size: 12px; max-width: 820px; margin: 4px 0 0; }
.heatmaps { display: flex; flex-wrap: wrap; gap: 18px; }
figure.heatmap { margin: 0; width: ${HEATMAP_BOX.width}px; }
figure.heatmap img { display: block; max-width: 100%; height: auto; image-rendering: pixelated; }
.scale { height: 10px; border: 1px solid #ccc; margin-top: 4px; min-width: 150px; max-width: 100%;
  background: linear-gradient(to right, #440154, #482878, #3e4989, #31688e, #26828e, #1f9e89, #35b779, #6ece58, #b5de2b, #fde725); }
.scale-labels { display: flex; min-width: 150px; max-width: 100%; justify-content: space-between; font-size: 11px; color: #666; }
footer { margin-top: 36px; color: #777; font-size: 12px; border-top: 1px solid #eee; padding-top: 8px; }
`;

interface HeatmapMeta {
  rows?: number;
  cols?: number;
  blockRows?: number;
  blockCols?: number;
  scale?: string;
  decades?: number;
  vmax?: number;
}

function heatmapMeta(png: string): HeatmapMeta | null {
  const json = png.replace(/\.png$/, '.json');
  if (!existsSync(json) || statSync(json).size > 64 * 1024 * 1024) return null;
  try {
    return JSON.parse(readFileSync(json, 'utf8')) as HeatmapMeta;
  } catch {
    return null;
  }
}

/** A PNG's size from its IHDR chunk; null when the bytes are not a PNG. */
export function pngSize(png: Buffer): { width: number; height: number } | null {
  if (png.length < 24 || png.readUInt32BE(0) !== 0x89504e47 || png.toString('latin1', 12, 16) !== 'IHDR') return null;
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  return width > 0 && height > 0 ? { width, height } : null;
}

/**
 * The size a heat map is drawn at: scaled (up or down) to fit {@link HEATMAP_BOX}, aspect ratio
 * kept, so its colour scale sits right under it.
 */
export function heatmapSize(size: { width: number; height: number }): { width: number; height: number } {
  const k = Math.min(HEATMAP_BOX.width / size.width, HEATMAP_BOX.height / size.height);
  return { width: Math.max(1, Math.round(size.width * k)), height: Math.max(1, Math.round(size.height * k)) };
}

function heatmapFigure(h: HeatmapFile, runLabel: string | null): string {
  const png = readFileSync(h.path);
  const data = png.toString('base64');
  const natural = pngSize(png);
  const shown = natural ? heatmapSize(natural) : null;
  const dims = shown ? ` width="${shown.width}" height="${shown.height}"` : '';
  // the colour scale as wide as the image (at least wide enough for its two labels)
  const scaleStyle = shown ? ` style="width: ${shown.width}px"` : '';
  const meta = heatmapMeta(h.path);
  const title = `${runLabel ? `${runLabel}: ` : ''}${h.cell}`;
  let desc = '|ΔW| of the last edit';
  let scale = '';
  if (meta?.rows && meta.cols) {
    const pooled = (meta.blockRows ?? 1) * (meta.blockCols ?? 1) > 1;
    desc += `, ${meta.rows} × ${meta.cols}${pooled ? `, max-pooled in ${meta.blockRows ?? 1} × ${meta.blockCols ?? 1} blocks` : ''}`;
  }
  if (meta?.vmax !== undefined && meta.vmax > 0) {
    const lo = meta.scale === 'linear' ? 0 : meta.vmax / 10 ** (meta.decades ?? 6);
    desc += `; ${meta.scale ?? 'log'} colour scale`;
    scale = `<div class="scale"${scaleStyle}></div><div class="scale-labels"${scaleStyle}><span>${lo === 0 ? '0' : lo.toExponential(1)}</span><span>${meta.vmax.toExponential(2)}</span></div>`;
  }
  return `<figure class="heatmap"><img alt="${escapeHtml(`|ΔW| heat map of ${h.param}, ${title}`)}" src="data:image/png;base64,${data}"${dims}>${scale}<figcaption><b>${escapeHtml(title)}</b><br>${escapeHtml(h.param)}<br>${escapeHtml(desc)}</figcaption></figure>`;
}

export function renderHtml(d: ReportData, tables: ReportTables, charts: RenderedChart[], warnings: string[]): string {
  const runs = d.runs;
  const first = runs[0]!;
  const studyName = first.data.manifest?.study?.name ?? first.name;
  const title = d.compare ? `Study report: ${runs.map((r) => r.name).join(' vs ')}` : `Study report: ${studyName}`;
  const grid = summaryGrid(runs);
  const summary = `<table class="summary">${
    d.compare ? `<thead><tr>${grid.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>` : ''
  }<tbody>${grid.rows
    .map(
      (r) =>
        `<tr><th>${escapeHtml(r[0]!)}</th>${r
          .slice(1)
          .map((c) => `<td>${escapeHtml(c)}</td>`)
          .join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
  const warn = warnings.length
    ? `<div class="warnings"><b>Warnings</b><ul>${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></div>`
    : '';
  const sections = tableSections(tables);
  const heatmaps = orderedHeatmaps(d);
  const toc = [
    ...(charts.length ? [['charts', 'Charts']] : []),
    ...sections.map((s) => [s.id, s.title]),
    ...(heatmaps.length ? [['heatmaps', 'Heat maps']] : []),
  ]
    .map(([id, t]) => `<a href="#${escapeHtml(id!)}">${escapeHtml(t!)}</a>`)
    .join('');
  const chartHtml = charts
    .map(
      (c) =>
        `<figure class="chart" id="chart-${escapeHtml(c.id)}" data-chart="${escapeHtml(c.id)}">${inlineSvg(c.svg)}<figcaption>${escapeHtml(c.caption)}</figcaption></figure>`,
    )
    .join('\n');
  const body = [
    `<header><h1>${escapeHtml(title)}</h1><p class="sub">lmedit study report: general abilities after model editing, after Gu et al. (EMNLP 2024)</p></header>`,
    `<section id="summary">${summary}</section>`,
    warn,
    `<nav>${toc}</nav>`,
    charts.length ? `<section id="charts"><h2>Charts</h2>\n${chartHtml}\n</section>` : '',
    ...sections.map(
      (s) =>
        `<section id="${escapeHtml(s.id)}"><h2>${escapeHtml(s.title)}</h2><div class="tables">\n${s.tables.map(tableToHtml).join('\n')}\n</div></section>`,
    ),
    heatmaps.length
      ? `<section id="heatmaps"><h2>Heat maps</h2><div class="heatmaps">\n${heatmaps.map((x) => heatmapFigure(x.h, x.run)).join('\n')}\n</div></section>`
      : '',
    `<footer>Paper reference values: ${escapeHtml(PAPER_CITATION)}; read off the figures on the paper’s project page (bars ±0.005, line markers ±0.01–0.02). Generated by lmedit report.</footer>`,
  ]
    .filter(Boolean)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
