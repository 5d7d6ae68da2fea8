/**
 * Load a Hugging Face model directory (config.json + safetensors) into a CausalLM, with
 * matrices kept in float32 or a half-precision storage dtype.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import { loadSafetensors } from '../io/safetensors.js';
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

function checkpointFiles(dir: string): string[] {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const parsed = JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> };
    if (!parsed.weight_map || typeof parsed.weight_map !== 'object') throw new Error(`${index}: missing "weight_map"`);
    return [...new Set(Object.values(parsed.weight_map))].map((f) => join(dir, f));
  }
  if (existsSync(join(dir, 'pytorch_model.bin'))) {
    throw new Error(
      `${dir}: only pytorch_model.bin found. PyTorch pickle files are not loaded because unpickling can run arbitrary code. ` +
        'Convert once with Python: AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)',
    );
  }
  throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

/**
 * Load a model directory in Hugging Face layout.
 * @example const model = loadModel('../shared/data/stories260K/hf');
 */
export function loadModel(dir: string, opts: LoadModelOptions = {}): CausalLM {
  const cfg = readConfig(dir);
  const dtype = opts.dtype ?? 'float32';
  const tensors = new Map<string, Tensor>();
  try {
    for (const file of checkpointFiles(dir)) {
      const { tensors: part } = loadSafetensors(file, { dtype: 'keep' });
      for (const [name, t] of part) {
        if (tensors.has(name)) throw new Error(`${file}: tensor ${name} appears in more than one shard`);
        t.name = name;
        tensors.set(name, t.dtype === 'int32' || t.dtype === 'uint8' ? t : convert(t, dtype));
      }
    }
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  return createModel(cfg, tensors, dir);
}
