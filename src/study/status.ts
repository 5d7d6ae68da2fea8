/**
 * `lmedit study status`: from a run directory alone (manifest + results), what is done, what is
 * left and what failed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expandCells } from './cells.js';
import { readManifest } from './manifest.js';
import { readResultLines } from './results.js';
import { BASELINE } from './run.js';

export interface CellStatus {
  cell: string;
  done: number[];
  left: number[];
  failure: { checkpoint: number; error: string } | null;
}

export interface StudyStatus {
  study: string;
  model: string;
  cells: CellStatus[];
  checkpoints: { done: number; total: number };
  lines: number;
  /** a partial last line (an interrupted write) that the next run will drop */
  partialTail: boolean;
  /** measured seconds per checkpoint (mean), and the estimate for what is left */
  secondsPerCheckpoint: number | null;
  etaSeconds: number | null;
}

export function studyStatus(runDir: string): StudyStatus {
  const manifest = readManifest(runDir);
  const resultsPath = join(runDir, 'results.jsonl');
  const { lines, tail } = existsSync(resultsPath) ? readResultLines(resultsPath) : { lines: [], tail: null };
  const finished = new Set(lines.filter((l) => l.key.kind === 'checkpoint').map((l) => `${l.key.cell}@${l.key.checkpoint}`));
  const failures = new Map(lines.filter((l) => l.key.kind === 'failure').map((l) => [l.key.cell, l]));
  const units = [
    { id: BASELINE, checkpoints: [0] },
    ...expandCells(manifest.study).map((c) => ({ id: c.id, checkpoints: c.checkpoints })),
  ];
  const cells: CellStatus[] = units.map((u) => {
    const f = failures.get(u.id);
    return {
      cell: u.id,
      done: u.checkpoints.filter((c) => finished.has(`${u.id}@${c}`)),
      left: u.checkpoints.filter((c) => !finished.has(`${u.id}@${c}`)),
      failure: f ? { checkpoint: f.key.checkpoint, error: String(f.values['error']) } : null,
    };
  });
  const done = cells.reduce((s, c) => s + c.done.length, 0);
  const total = cells.reduce((s, c) => s + c.done.length + c.left.length, 0);
  const left = cells.filter((c) => !c.failure).reduce((s, c) => s + c.left.length, 0);
  const timings = readTimings(join(runDir, 'timings.jsonl'));
  const per = timings.length ? timings.reduce((s, x) => s + x, 0) / timings.length : null;
  return {
    study: manifest.study.name,
    model: manifest.model.dir,
    cells,
    checkpoints: { done, total },
    lines: lines.length,
    partialTail: tail !== null,
    secondsPerCheckpoint: per,
    etaSeconds: per === null ? null : per * left,
  };
}

function readTimings(path: string): number[] {
  if (!existsSync(path)) return [];
  const out: number[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    try {
      const s = (JSON.parse(line) as { seconds?: unknown }).seconds;
      if (typeof s === 'number') out.push(s);
    } catch {
      // a partial last line of an interrupted run
    }
  }
  return out;
}

export function formatStatus(s: StudyStatus): string {
  const rows = s.cells.map((c) => {
    const state = c.failure
      ? `FAILED at ${c.failure.checkpoint}: ${c.failure.error}`
      : c.left.length === 0
        ? 'done'
        : `done [${c.done.join(', ')}], left [${c.left.join(', ')}]`;
    return `  ${c.cell.padEnd(28)} ${state}`;
  });
  const eta =
    s.etaSeconds !== null && s.checkpoints.done < s.checkpoints.total ? `, about ${Math.round(s.etaSeconds)} s left` : '';
  return [
    `study "${s.study}" on ${s.model}: ${s.checkpoints.done}/${s.checkpoints.total} checkpoints, ${s.lines} result lines${eta}`,
    ...rows,
    ...(s.partialTail ? ['  (results.jsonl ends with a partial line from an interrupted write; the next run drops it)'] : []),
  ].join('\n');
}
