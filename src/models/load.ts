/**
 * Load a Hugging Face model directory (config.json + safetensors) into a CausalLM, with
 * matrices kept in float32 or a half-precision storage dtype.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import { loadCheckpoint } from '../io/sharded.js';
import { normalizeConfig } from './config.js';
import { createModel } from './registry.js';
import type { CausalLM } from './types.js';

/** Storage dtype of weight matrices: 1-D parameters (norms, biases) always load as float32. */
export type WeightDTypeOption = 'float32' | 'bfloat16' | 'float16' | 'keep';

export interface LoadModelOptions {
  dtype?: WeightDTypeOption;
}

/** Read and normalise `dir/config.json`. */
export function readConfig(dir: string) {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new Error(`${dir}: no config.json (expected a Hugging Face model directory)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
  return normalizeConfig(raw, path);
}

function convert(t: Tensor, dtype: WeightDTypeOption): Tensor {
  const want = t.rank < 2 ? 'float32' : dtype === 'keep' ? t.dtype : dtype;
  if (t.dtype === want) return t;
  const c = T.cast(t, want);
  c.name = t.name;
  t.dispose();
  return c;
}

/**
 * Whether every value is finite: one native sum at memory bandwidth (a NaN or ±Inf makes it
 * non-finite), and only then a scan, since a sum of huge finite values may overflow too.
 */
function allFinite(t: Tensor): boolean {
  const s = T.noGrad(() => T.tidy(() => T.sum(t.dtype === 'float32' || t.dtype === 'float64' ? t : T.cast(t, 'float32')).item()));
  return Number.isFinite(s) || t.toArray().every((x) => Number.isFinite(x));
}

/**
 * Load a model directory in Hugging Face layout.
 * @example const model = loadModel('../shared/data/stories260K/hf');
 */
export function loadModel(dir: string, opts: LoadModelOptions = {}): CausalLM {
  const cfg = readConfig(dir);
  const dtype = opts.dtype ?? 'float32';
  // single file or sharded; the reader validates headers and refuses pickle files
  // convert while streaming (a bf16 load of an f32 file never holds the f32 copy); 1-D
  // parameters (norms, biases) are then returned to float32 by convert()
  // conversion temporaries are freed at once, not pooled next to the weights
  return T.withoutBufferReuse(() => {
    const { tensors: raw } = loadCheckpoint(dir, { dtype: dtype === 'float32' ? 'keep' : dtype });
    // every block has at least one tensor: a config promising more blocks than the checkpoint holds
    // tensors is wrong, and building it would only exhaust memory
    if (cfg.numLayers > raw.size) {
      for (const t of raw.values()) t.dispose();
      throw new Error(
        `${join(dir, 'config.json')}: ${cfg.numLayers} layers, but the checkpoint holds only ${raw.size} tensors; the config does not describe these weights`,
      );
    }
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of raw) {
      t.name = name;
      tensors.set(name, t.dtype === 'int32' || t.dtype === 'uint8' ? t : convert(t, dtype));
    }
    const broken = [...tensors].find(([, t]) => t.dtype !== 'int32' && t.dtype !== 'uint8' && !allFinite(t));
    if (broken) {
      for (const t of tensors.values()) t.dispose();
      throw new Error(`${dir}: tensor ${broken[0]} holds NaN or infinite values; the checkpoint is corrupt`);
    }
    return createModel(cfg, tensors, dir);
  });
}
