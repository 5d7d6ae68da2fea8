/**
 * The model organism's targets (issue: built-in model organism): build the default world model
 * from scratch (world generation + training + measurement) and check it against them — training
 * ≤ 8 min, greedy recall ≥ 95 % in trained and ≥ 80 % in held-out templates, each task ≥ 85 % —
 * then time one ROME and one MEMIT edit on it and, with `--demo`, the whole `lmedit demo` study
 * (target ≤ 5 min once the model is cached).
 *
 * `npm run bench -- world [--demo] [--keep DIR]`  (ratio = target / measured for times,
 * measured / target for scores: ≥ 1 meets the target)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openModel } from '../src/models/index.js';
import { getMethod, resolveHParams } from '../src/edit/registry.js';
import { buildWorldModel, DEFAULT_WORLD_MODEL } from '../src/train/world-model.js';
import { editRequests, readWorld } from '../src/world/index.js';
import { worldStatsProvider } from '../src/cli/default-model.js';
import { emit } from './core.js';

const TARGETS = { trainSeconds: 8 * 60, recallTrained: 0.95, recallHeldOut: 0.8, task: 0.85, demoSeconds: 5 * 60 };

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function runWorld(args: string[]): Promise<void> {
  const keep = flag(args, '--keep');
  const tmp = mkdtempSync(join(tmpdir(), 'lmedit-bench-world-'));
  const dir = keep ?? join(tmp, 'model');
  try {
    const report = await buildWorldModel(dir, DEFAULT_WORLD_MODEL);
    emit({
      name: 'world model: build (generate, train, measure)',
      value: report.seconds,
      unit: 's',
      ratio: TARGETS.trainSeconds / report.seconds,
      steps: report.steps,
      parameters: report.parameters,
    });
    emit({
      name: 'world model: recall, trained templates',
      value: report.recall.trained,
      unit: 'share',
      ratio: report.recall.trained / TARGETS.recallTrained,
    });
    emit({
      name: 'world model: recall, held-out templates',
      value: report.recall.heldOut,
      unit: 'share',
      ratio: report.recall.heldOut / TARGETS.recallHeldOut,
    });
    for (const [task, acc] of Object.entries(report.tasks))
      emit({ name: `world model: task ${task}`, value: acc, unit: 'accuracy', ratio: acc / TARGETS.task });

    // seconds per edit on it, with the world presets (statistics computed first, not timed)
    const { model, tokenizer } = await openModel(dir);
    const world = await readWorld(dir);
    const stats = worldStatsProvider(tokenizer, dir, world, { cacheDir: false });
    const requests = editRequests(world, 4, 0);
    for (const [name, batch] of [
      ['rome', 1],
      ['memit', 4],
    ] as const) {
      const method = await getMethod(name);
      const { hp } = resolveHParams(method, model, { world: true });
      method.apply(model, requests.slice(0, batch), hp, { tokenizer, seed: 0, stats }).restore();
      const t0 = performance.now();
      const r = method.apply(model, requests.slice(0, batch), hp, { tokenizer, seed: 0, stats });
      emit({ name: `world model: one ${name} edit of ${batch} fact(s)`, value: (performance.now() - t0) / 1000, unit: 's' });
      r.restore();
    }
    stats.dispose();
    model.dispose();

    if (args.includes('--demo')) {
      const bin = resolve(fileURLToPath(new URL('../bin/lmedit.js', import.meta.url)));
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [bin, 'demo', '--model', dir, '--out', join(tmp, 'demo'), '--quiet'], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`lmedit demo failed: ${r.stderr}`);
      const secs = (performance.now() - t0) / 1000;
      emit({ name: 'lmedit demo (model cached)', value: secs, unit: 's', ratio: TARGETS.demoSeconds / secs });
      process.stderr.write(r.stdout);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
