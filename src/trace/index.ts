/**
 * Causal tracing (ROME §2.1): corrupt the subject, restore one state at a time, and map which
 * (token, layer) states carry the fact. See README.md in this folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CausalTraceResult } from './causal-trace.js';
import { traceFigureSvg } from './figure.js';

export {
  causalTrace,
  cellStates,
  CorruptedRuns,
  embeddingStd,
  kindModule,
  kindTemplate,
  subjectTokenRange,
  windowLayers,
  TRACE_KINDS,
  type CausalTraceOptions,
  type CausalTraceResult,
  type CorruptedRunsOptions,
  type KindTrace,
  type RestoredState,
  type RestoreSet,
  type TraceKind,
} from './causal-trace.js';
export { traceFigureSpec, traceFigureSvg, tokenLabels } from './figure.js';

/**
 * Write `trace.json` (the result, plus `extra` fields such as the model) and one
 * `heatmap-<kind>.svg` per traced kind into `dir` (created when missing); returns the paths.
 */
export async function writeTraceOutputs(
  dir: string,
  result: CausalTraceResult,
  extra: Record<string, unknown> = {},
): Promise<{ json: string; figures: string[] }> {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'trace.json');
  writeFileSync(json, JSON.stringify({ ...extra, ...result }, null, 2) + '\n');
  const figures: string[] = [];
  for (const t of result.traces) {
    const file = join(dir, `heatmap-${t.kind}.svg`);
    writeFileSync(file, await traceFigureSvg(result, t));
    figures.push(file);
  }
  return { json, figures };
}
