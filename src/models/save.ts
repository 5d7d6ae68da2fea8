/**
 * Save a (possibly edited) model as a Hugging Face directory: model.safetensors with HF
 * parameter names plus the source's config/tokenizer files, written into a temporary sibling
 * directory and renamed into place, so a crash never leaves a half-written model.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Tensor } from '../tensor/index.js';
import { saveSafetensors } from '../io/safetensors.js';
import type { CausalLM } from './types.js';

/** Tokenizer files, copied from the tokenizer's folder when present. */
const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'tokenizer.bin',
];

/** The model's own files besides its weights, copied from the source directory when present. */
const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  // a world model's world (src/world): the edited model is still that world's model
  'world.json',
];

/** Files copied from the source directory when present (the tokenizer's may come from elsewhere). */
export const COPIED_FILES = [...MODEL_FILES, ...TOKENIZER_FILES];

export interface SaveModelOptions {
  /** the directory the model was loaded from (config and tokenizer files are copied from it) */
  sourceDir: string;
  /** replace an existing directory (default false: refuse) */
  overwrite?: boolean;
  /** extra string metadata stored in the safetensors header */
  metadata?: Record<string, string>;
  /**
   * where the model's tokenizer was read from when not `sourceDir` (`OpenedModel.tokenizerSource`:
   * the parent folder of a llama2.c model, or a tokenizer file), so the saved folder loads on its own
   */
  tokenizerSource?: string;
}

/** Copy the tokenizer from a folder (its tokenizer files, llama2.c `tok<N>.bin`) or a file into `dir`. */
function copyTokenizer(source: string, dir: string): void {
  if (statSync(source).isFile()) {
    copyFileSync(source, join(dir, basename(source)));
    return;
  }
  for (const f of readdirSync(source))
    if (TOKENIZER_FILES.includes(f) || /^tok\d+\.bin$/.test(f)) copyFileSync(join(source, f), join(dir, f));
}

/**
 * Remove `.NAME.tmp-PID-TS` folders that a killed save of NAME left in `dir` (their process is
 * gone); a save in progress in a live process is left alone.
 */
function removeStaleTemporaries(dir: string, name: string): void {
  const re = new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.tmp-(\\d+)-\\d+(\\.old)?$`);
  for (const f of readdirSync(dir)) {
    const m = re.exec(f);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = pid === process.pid;
    if (!alive)
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        alive = false;
      }
    if (!alive) rmSync(join(dir, f), { recursive: true, force: true });
  }
}

/**
 * Write `model` to `outDir` atomically.
 * @example saveModel(model, 'edited-gpt2', { sourceDir: 'gpt2' });
 */
export function saveModel(model: CausalLM, outDir: string, opts: SaveModelOptions): void {
  const target = resolve(outDir);
  if (resolve(opts.sourceDir) === target) throw new Error(`saveModel: refusing to overwrite the source directory ${target}`);
  if (existsSync(target) && !opts.overwrite) throw new Error(`saveModel: ${target} exists (pass overwrite to replace it)`);
  if (!existsSync(join(opts.sourceDir, 'config.json')))
    throw new Error(`saveModel: ${opts.sourceDir} has no config.json to copy`);
  const parent = dirname(target);
  // the parent must be a writable directory of a normal file system: mkdirSync's recursion loops
  // on pseudo file systems such as /proc instead of failing
  if (existsSync(parent)) {
    if (!statSync(parent).isDirectory()) throw new Error(`saveModel: ${parent} is not a directory`);
  } else mkdirSync(parent, { recursive: true });
  removeStaleTemporaries(parent, basename(target));
  const tmp = join(parent, `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(tmp);
  } catch (e) {
    throw new Error(`saveModel: cannot write in ${parent}: ${(e as Error).message}`);
  }
  try {
    const tensors = new Map<string, Tensor>(model.params);
    saveSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt', ...(opts.metadata ?? {}) });
    for (const f of MODEL_FILES) {
      const src = join(opts.sourceDir, f);
      if (existsSync(src)) copyFileSync(src, join(tmp, f));
    }
    copyTokenizer(opts.sourceDir, tmp);
    // llama2.c tokenizers (tok512.bin) live beside stories-style model folders
    if (opts.tokenizerSource && resolve(opts.tokenizerSource) !== resolve(opts.sourceDir))
      copyTokenizer(opts.tokenizerSource, tmp);
    if (existsSync(target)) {
      const old = `${tmp}.old`;
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, target);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
