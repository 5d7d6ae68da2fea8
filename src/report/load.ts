/**
 * Reading a study run directory for a report: manifest.json (optional), results.jsonl (a partial
 * last line from a killed run is skipped with a warning) and the heat maps under weights/.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readResultLines } from '../study/results.js';
import { keyString, type ResultLine, type StudySpec } from '../study/types.js';

/**
 * manifest.json as the runner writes it (src/study/manifest.ts), read leniently: every field may
 * be missing in an older or foreign run.
 */
export interface RunManifest {
  study?: StudySpec;
  lmedit?: { version?: string; commit?: string | null };
  /** `dir`: the model directory the run loaded (`path` in early runs) */
  model?: { dir?: string; path?: string; config_sha256?: string | null; files?: Record<string, string> };
  machine?: Record<string, unknown>;
  backend?: Record<string, unknown>;
  created?: string;
}

/** A |ΔW| heat map of a cell's last edit. */
export interface HeatmapFile {
  /** the cell id ("ROME/b1") */
  cell: string;
  /** the parameter name */
  param: string;
  path: string;
}

export interface RunData {
  dir: string;
  /** the run's label in reports (the directory name) */
  name: string;
  manifest: RunManifest | null;
  /** lines in file order, one per key (a repeated key: the first stands, as in the runner) */
  lines: ResultLine[];
  heatmaps: HeatmapFile[];
  warnings: string[];
}

/** The cell id of a weights/ directory name (the runner writes '/' as '__'). */
export const cellOfDir = (name: string): string => name.replace(/__/g, '/');

/** Read a run directory. Throws when it has no results.jsonl. */
export function loadRun(runDir: string): RunData {
  const dir = resolve(runDir);
  const warnings: string[] = [];
  const resultsPath = join(dir, 'results.jsonl');
  if (!existsSync(resultsPath)) throw new Error(`${runDir}: no results.jsonl (is this a study run directory?)`);
  const { lines: raw, tail } = readResultLines(resultsPath);
  if (tail !== null)
    warnings.push(
      `${basename(dir)}/results.jsonl: skipped a partial last line (${tail.length} characters; the run was interrupted while writing it)`,
    );
  const seen = new Set<string>();
  const lines: ResultLine[] = [];
  let dup = 0;
  for (const l of raw) {
    const k = keyString(l.key);
    if (seen.has(k)) {
      dup++;
      continue;
    }
    seen.add(k);
    lines.push(l);
  }
  if (dup > 0) warnings.push(`${basename(dir)}/results.jsonl: ${dup} repeated key(s) ignored (the first value stands)`);

  let manifest: RunManifest | null = null;
  const manifestPath = join(dir, 'manifest.json');
  if (existsSync(manifestPath)) {
    try {
      const m: unknown = JSON.parse(readFileSync(manifestPath, 'utf8'));
      if (m && typeof m === 'object' && !Array.isArray(m)) manifest = m as RunManifest;
      else warnings.push(`${basename(dir)}/manifest.json: not a JSON object; ignored`);
    } catch (e) {
      warnings.push(`${basename(dir)}/manifest.json: ${(e as Error).message}; ignored`);
    }
  } else warnings.push(`${basename(dir)}: no manifest.json; model, machine and study settings are unknown`);

  return { dir, name: basename(dir), manifest, lines, heatmaps: findHeatmaps(dir), warnings };
}

function findHeatmaps(dir: string): HeatmapFile[] {
  const root = join(dir, 'weights');
  if (!existsSync(root) || !statSync(root).isDirectory()) return [];
  const out: HeatmapFile[] = [];
  for (const d of readdirSync(root).sort()) {
    const sub = join(root, d);
    if (!statSync(sub).isDirectory()) continue;
    for (const f of readdirSync(sub).sort()) {
      const m = /^heatmap-(.+)\.png$/.exec(f);
      if (m) out.push({ cell: cellOfDir(d), param: m[1]!, path: join(sub, f) });
    }
  }
  return out;
}
