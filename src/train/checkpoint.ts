/**
 * Training checkpoints: one safetensors file per saved step, `checkpoint-<step>.safetensors`,
 * holding the parameters (`model.<name>`), the AdamW moments (`optim.m.<name>`, `optim.v.<name>`)
 * and, as JSON in the header metadata, the step, the data position, the evaluation state, the
 * config and the run's plan. Written atomically (saveSafetensors streams into a hidden
 * temporary file, fsyncs it and renames it into place), so a crash or SIGKILL at any moment
 * leaves the previous checkpoints intact and never a partial one under a checkpoint name.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { AdamW } from './optim.js';
import type { DataPosition } from './data.js';

const NAME = /^checkpoint-(\d+)\.safetensors$/;
const META_KEY = 'lmedit.train';

export interface EvalRecord {
  step: number;
  metric: number;
}

/** What a checkpoint records besides tensors (JSON in the safetensors header). */
export interface CheckpointState {
  format: 1;
  /** optimizer steps completed */
  step: number;
  /** AdamW's bias-correction step count */
  optimizerStep: number;
  data: DataPosition;
  /** the run's settings that determine its trajectory; a resume must match them */
  plan: Record<string, unknown>;
  /** config.json object of the model */
  config: Record<string, unknown>;
  evals: EvalRecord[];
  best: number | null;
  badEvals: number;
  /** loss every progress interval */
  history: { step: number; loss: number; lr: number }[];
  tokensSeen: number;
  /** set when the run ended by itself (completed, target, plateau): a resume has nothing to do */
  finished: 'completed' | 'target' | 'plateau' | null;
  lastLoss: number | null;
  /** losses since the last history entry */
  pending: { loss: number; steps: number };
}

export function checkpointPath(dir: string, step: number): string {
  return join(dir, `checkpoint-${String(step).padStart(8, '0')}.safetensors`);
}

/** Checkpoint files in dir, oldest first. Hidden temporaries of interrupted writes are not listed. */
export function listCheckpoints(dir: string): { step: number; path: string }[] {
  if (!existsSync(dir)) return [];
  const out: { step: number; path: string }[] = [];
  for (const f of readdirSync(dir)) {
    const m = NAME.exec(f);
    if (m) out.push({ step: Number(m[1]), path: join(dir, f) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The newest checkpoint in dir, or null. */
export function latestCheckpoint(dir: string): { step: number; path: string } | null {
  return listCheckpoints(dir).at(-1) ?? null;
}

/** Remove temporaries an interrupted checkpoint write left behind (`.checkpoint-*.tmp`). */
export function removeStaleTemporaries(dir: string): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (/^\.checkpoint-\d+\.safetensors\..*\.tmp$/.test(f)) rmSync(join(dir, f), { force: true });
}

/** Write the checkpoint of `step` atomically and keep only the newest `keep` checkpoints. */
export function saveCheckpoint(
  dir: string,
  params: ReadonlyMap<string, T.Tensor>,
  opt: AdamW,
  state: CheckpointState,
  keep = 2,
): string {
  mkdirSync(dir, { recursive: true });
  const path = checkpointPath(dir, state.step);
  const tensors = new Map<string, T.Tensor>();
  for (const [name, p] of params) tensors.set(`model.${name}`, p);
  T.tidy(() => {
    for (const s of opt.slots) {
      // views on the optimizer's arrays (external: never released by the tensor)
      tensors.set(`optim.m.${s.name}`, T.Tensor.fromStorage(s.m, 'float32', s.param.shape, { external: true }));
      tensors.set(`optim.v.${s.name}`, T.Tensor.fromStorage(s.v, 'float32', s.param.shape, { external: true }));
    }
    saveSafetensors(path, tensors, { [META_KEY]: JSON.stringify(state) });
  });
  const all = listCheckpoints(dir);
  for (const c of all.slice(0, Math.max(0, all.length - Math.max(1, keep)))) rmSync(c.path, { force: true });
  return path;
}

/** Read a checkpoint's state without its tensors. */
export function readCheckpointState(path: string): CheckpointState {
  const { metadata, tensors } = loadSafetensors(path, { dtype: 'keep', names: () => false });
  for (const t of tensors.values()) t.dispose();
  const raw = metadata[META_KEY];
  if (raw === undefined) throw new Error(`${path}: not an lmedit training checkpoint (no "${META_KEY}" metadata)`);
  const state = JSON.parse(raw) as CheckpointState;
  if (state.format !== 1) throw new Error(`${path}: unknown checkpoint format ${String(state.format)}`);
  return state;
}

/**
 * Load a checkpoint into existing parameters and optimizer (bit for bit); returns its state.
 * Throws naming the tensor when the checkpoint does not match the model.
 */
export function loadCheckpoint(path: string, params: ReadonlyMap<string, T.Tensor>, opt: AdamW): CheckpointState {
  const state = readCheckpointState(path);
  const { tensors } = loadSafetensors(path, { dtype: 'keep' });
  try {
    const copy = (key: string, dst: Float32Array): void => {
      const t = tensors.get(key);
      if (!t) throw new Error(`${path}: checkpoint has no tensor "${key}"`);
      if (t.dtype !== 'float32' || t.size !== dst.length) {
        throw new Error(`${path}: "${key}" is ${t.dtype} [${t.shape.join(', ')}], expected float32 with ${dst.length} elements`);
      }
      dst.set((t.storage as Float32Array).subarray(t.offset, t.offset + t.size));
    };
    const known = new Set<string>();
    for (const s of opt.slots) {
      if (params.get(s.name) !== s.param)
        throw new Error(`loadCheckpoint: optimizer slot ${s.name} is not the model's parameter`);
      copy(`model.${s.name}`, s.data);
      copy(`optim.m.${s.name}`, s.m);
      copy(`optim.v.${s.name}`, s.v);
      known.add(`model.${s.name}`).add(`optim.m.${s.name}`).add(`optim.v.${s.name}`);
    }
    const extra = [...tensors.keys()].filter((k) => !known.has(k));
    if (extra.length) throw new Error(`${path}: checkpoint has tensors the model lacks: ${extra.slice(0, 5).join(', ')}`);
    opt.t = state.optimizerStep;
    return state;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
