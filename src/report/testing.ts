/**
 * Synthetic study run directories for the report's tests and docs screenshot: a manifest, a
 * results.jsonl as the runner writes it (baseline, cells, checkpoints, optional failure and
 * partial last line) and heat maps under weights/. Values follow the paper's curves with
 * deterministic noise; regularised variants degrade less.
 */
import * as T from '../tensor/index.js';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHeatmap, type Heatmap } from '../edit/rect/analysis.js';
import { TASK_NAMES, type TaskName } from '../eval/tasks/types.js';
import type { Manifest } from '../study/manifest.js';
import type { ResultKey, ResultLine, StudyMethod, StudySpec } from '../study/types.js';
import { PAPER_BASELINES } from './paper-values.js';

export interface SyntheticRunOptions {
  /** model path in the manifest (default 'gpt2-xl') */
  model?: string;
  sequential?: boolean;
  /** sequential: checkpoints (default 5, 10, 15, 20); single: batch sizes (default 1, 5, 10) */
  checkpoints?: number[];
  variants?: StudyMethod[];
  tasks?: TaskName[];
  modes?: ('paper' | 'clean')[];
  /** the variant whose cell fails, and at which checkpoint */
  failure?: { variant: string; checkpoint: number; error: string };
  /** append half a line, as a killed run leaves it */
  truncated?: boolean;
  heatmaps?: boolean;
  /** tasks whose score in a mode is null at every checkpoint (the paper's script dividing by zero on a tiny model) */
  nullScores?: { mode: 'paper' | 'clean'; tasks: TaskName[] };
  manifest?: boolean;
  metrics?: boolean;
  weights?: boolean;
  study?: string;
  seed?: number;
}

export const SYNTHETIC_VARIANTS: StudyMethod[] = [
  { name: 'ROME', method: 'rome' },
  { name: 'ROME+RECT-40%', method: 'rome', rect: { keep: 0.4, mode: 'rect' } },
  { name: 'ROME+RECT-20%', method: 'rome', rect: { keep: 0.2, mode: 'rect' } },
  { name: 'ROME+Random-40%', method: 'rome', rect: { keep: 0.4, mode: 'random' } },
];

function rng(seed: number): () => number {
  const r = new T.Rng(seed);
  return () => r.next();
}

const round = (v: number, d = 4): number => Number(v.toFixed(d));

/** Write a synthetic run into `dir` (created); returns the lines written. */
export function writeSyntheticRun(dir: string, o: SyntheticRunOptions = {}): ResultLine[] {
  mkdirSync(dir, { recursive: true });
  const sequential = o.sequential ?? true;
  const cps = o.checkpoints ?? (sequential ? [5, 10, 15, 20] : [1, 5, 10]);
  const variants = o.variants ?? SYNTHETIC_VARIANTS;
  const tasks = o.tasks ?? [...TASK_NAMES];
  const modes = o.modes ?? ['paper', 'clean'];
  const rand = rng(o.seed ?? 7);
  const model = o.model ?? 'gpt2-xl';
  const base = PAPER_BASELINES['gpt2-xl'];
  const lines: ResultLine[] = [];
  const push = (
    info: { cell: string; variant: string; method: string; batch: number; cp: number },
    key: Omit<ResultKey, 'cell' | 'checkpoint'>,
    value: number | null,
    values: Record<string, unknown> = {},
  ): void => {
    lines.push({
      key: { cell: info.cell, checkpoint: info.cp, ...key },
      variant: info.variant,
      method: info.method,
      batch_size: info.batch,
      edits: info.cp,
      value,
      values,
    });
  };
  const measure = (info: { cell: string; variant: string; method: string; batch: number; cp: number }, damage: number): void => {
    for (const t of tasks)
      for (const mode of modes) {
        const b = base[t] * (mode === 'clean' ? 0.9 : 1);
        const v = Math.max(0, b * (1 - damage) + (rand() - 0.5) * 0.04);
        if (o.nullScores?.mode === mode && o.nullScores.tasks.includes(t))
          push(info, { kind: 'task', name: t, mode }, null, { primary: null, n: 100 });
        else push(info, { kind: 'task', name: t, mode }, round(v), { primary: round(v), n: 100 });
      }
    if (o.metrics !== false) {
      const edited = info.cell !== 'baseline';
      push(info, { kind: 'metric', name: 'rewrite_acc', mode: '' }, round(edited ? 0.98 - damage * 0.2 : 0.21), { requests: 20 });
      push(info, { kind: 'metric', name: 'rephrase_acc', mode: '' }, round(edited ? 0.86 - damage * 0.3 : 0.2), { requests: 20 });
      if (edited) push(info, { kind: 'metric', name: 'locality_acc', mode: '' }, round(0.97 - damage * 0.15), { requests: 20 });
    }
  };
  const finish = (info: { cell: string; variant: string; method: string; batch: number; cp: number }): void =>
    push(info, { kind: 'checkpoint', name: '', mode: '' }, null);

  const baseInfo = { cell: 'baseline', variant: 'unedited', method: '', batch: 0, cp: 0 };
  measure(baseInfo, 0);
  finish(baseInfo);

  const maxX = Math.max(...cps);
  for (const v of variants) {
    const keep = v.rect?.keep ?? 1;
    const random = v.rect?.mode === 'random';
    // how fast this variant hurts the model: unregularised fastest, small k slowest
    const rate = random ? 0.35 : 0.25 + 0.75 * keep;
    const batches = sequential ? [1] : cps;
    for (const batch of batches) {
      const cell = `${v.name}/b${batch}`;
      const points = sequential ? cps : [batch];
      for (const cp of points) {
        const info = { cell, variant: v.name, method: v.method, batch, cp };
        if (o.failure && o.failure.variant === v.name && o.failure.checkpoint === cp) {
          push(info, { kind: 'failure', name: '', mode: '' }, null, { error: o.failure.error });
          break;
        }
        const damage = Math.min(0.97, rate * (cp / maxX) ** 1.6);
        measure(info, damage);
        if (o.weights !== false) {
          const scale = keep * (cp / maxX);
          push(info, { kind: 'weights', name: 'manhattan', mode: '' }, round(9000 * cp ** 0.75 * (0.3 + 0.7 * keep), 1));
          push(info, { kind: 'weights', name: 'frobenius', mode: '' }, round(40 * cp ** 0.5 * keep, 3));
          push(info, { kind: 'weights', name: 'ratio_p50', mode: '' }, round(0.01 + 0.04 * scale));
          push(info, { kind: 'weights', name: 'ratio_p90', mode: '' }, round(0.1 + 0.4 * scale));
          push(info, { kind: 'weights', name: 'ratio_p99', mode: '' }, round(0.5 + 2 * scale));
          push(info, { kind: 'weights', name: 'above_0.077', mode: '' }, round(Math.min(0.95, 0.2 + 0.55 * scale)));
          push(info, { kind: 'weights', name: 'above_0.171', mode: '' }, round(Math.min(0.9, 0.1 + 0.45 * scale)));
        }
        finish(info);
      }
      if (o.heatmaps !== false && o.weights !== false) writeSyntheticHeatmap(dir, cell, keep, rand);
    }
  }

  const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
  writeFileSync(join(dir, 'results.jsonl'), text);
  if (o.truncated) appendFileSync(join(dir, 'results.jsonl'), '{"key":{"cell":"ROME/b1","checkpoint":25,"kind":"ta');

  if (o.manifest !== false) {
    const study: StudySpec = {
      name: o.study ?? 'rect-gpt2xl-sequential',
      model: { path: model, dtype: 'float32' },
      methods: variants,
      mode: { sequential, batch_sizes: sequential ? [1] : cps, checkpoints: sequential ? [0, ...cps] : [] },
      data: { file: 'zsre/zsre_mend_eval.json', begin: 0, step: 1 },
      tasks: { names: tasks, limit: 100, scorer: modes.length === 2 ? 'both' : modes[0]!, batch_size: 8 },
      metrics: { enabled: o.metrics !== false, order: 'post-each' },
      probes: { unrelated_recall: false, perplexity: false },
      seeds: { edit: 0, tasks: 0 },
      quirks: { legacy_sequential_bug: false, legacy_batch_chunking: false, drop_incomplete_chunk: true },
    };
    const manifest: Manifest = {
      study,
      lmedit: { version: '0.1.0', commit: '0123456789abcdef0123456789abcdef01234567' },
      model: {
        dir: model.startsWith('/') ? model : `/data/models/${model}`,
        config_sha256: 'ab'.repeat(32),
        files: { 'config.json': 'ab'.repeat(32), 'model.safetensors': 'cd'.repeat(32) },
      },
      machine: { platform: 'linux', release: '6.1.0', cpus: 16, cpu: 'synthetic CPU', memory_gib: 125.8, node: 'v20.19.0' },
      backend: { name: 'native', threads: '16' },
      created: '2025-01-02T03:04:05.000Z',
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  }
  return lines;
}

/** A small |ΔW| heat map like ROME's: a rank-one pattern, fewer strong entries when regularised. */
function writeSyntheticHeatmap(dir: string, cell: string, keep: number, rand: () => number): void {
  const height = 128;
  const width = 32;
  const grid = new Float64Array(height * width);
  const u = Array.from({ length: height }, () => rand() ** 3);
  const v = Array.from({ length: width }, () => rand() ** 2);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const g = u[y]! * v[x]! * 0.05;
      grid[y * width + x] = rand() < keep ? g : g * 1e-4;
    }
  const h: Heatmap = {
    rows: 6400,
    cols: 1600,
    blockRows: 50,
    blockCols: 50,
    height,
    width,
    grid,
    scale: 'log',
    decades: 6,
    colormap: 'viridis',
    vmax: 0.05,
  };
  writeHeatmap(join(dir, 'weights', cell.replace(/\//g, '__'), 'heatmap-transformer.h.17.mlp.c_proj.weight'), h);
}
