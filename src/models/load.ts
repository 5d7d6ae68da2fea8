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
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of raw) {
      t.name = name;
      tensors.set(name, t.dtype === 'int32' || t.dtype === 'uint8' ? t : convert(t, dtype));
    }
    return createModel(cfg, tensors, dir);
  });
}
