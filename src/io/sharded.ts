/**
 * Checkpoint directories: sharded safetensors (`model.safetensors.index.json` + shards) with
 * cross-shard validation, and `loadCheckpoint`, which picks the single-file or sharded layout.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, normalize, sep } from 'node:path';
import type { Tensor } from '../tensor/index.js';
import {
  SafetensorsError,
  loadSafetensors,
  readSafetensorsHeader,
  type LoadSafetensorsOptions,
  type SafetensorsHeader,
} from './safetensors.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** A parsed `*.safetensors.index.json`. */
export interface ShardIndex {
  readonly path: string;
  /** tensor name -> shard file name (relative to the index's directory) */
  readonly weightMap: ReadonlyMap<string, string>;
  /** the index's "metadata" object (e.g. total_size), as stored */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** distinct shard file names, in first-mention order */
  readonly shards: readonly string[];
}

export interface LoadedCheckpoint {
  tensors: Map<string, Tensor>;
  /** `__metadata__` of the single file, or of the first shard */
  metadata: Record<string, string>;
  format: 'single' | 'sharded';
  /** the safetensors files read */
  files: string[];
  /** the index, for sharded checkpoints */
  index?: ShardIndex;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A shard name must stay inside the checkpoint directory. */
function safeShardName(indexPath: string, tensor: string, file: unknown): string {
  if (typeof file !== 'string' || file === '') {
    throw new SafetensorsError(indexPath, 'weight_map value is not a file name', tensor);
  }
  const n = normalize(file);
  if (isAbsolute(file) || n === '..' || n.startsWith(`..${sep}`) || n.startsWith('../') || file.includes('\0')) {
    throw new SafetensorsError(indexPath, `shard "${file}" points outside the checkpoint directory`, tensor);
  }
  return file;
}

/**
 * Reads and validates a shard index (`weight_map`: tensor name -> shard file).
 * @example
 * const idx = readShardIndex('ckpt/model.safetensors.index.json');
 * console.log(idx.shards, idx.weightMap.get('lm_head.weight'));
 */
export function readShardIndex(indexPath: string): ShardIndex {
  let text: string;
  try {
    text = readFileSync(indexPath, 'utf8');
  } catch (e) {
    throw new SafetensorsError(indexPath, `cannot read the shard index: ${(e as Error).message}`, undefined, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(indexPath, `shard index is not valid JSON: ${(e as Error).message}`, undefined, { cause: e });
  }
  if (!isPlainObject(json)) throw new SafetensorsError(indexPath, 'shard index is not a JSON object');
  const wm = json['weight_map'];
  if (!isPlainObject(wm)) throw new SafetensorsError(indexPath, 'shard index has no "weight_map" object');
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  for (const [name, file] of Object.entries(wm)) {
    const f = safeShardName(indexPath, name, file);
    weightMap.set(name, f);
    if (!shards.includes(f)) shards.push(f);
  }
  if (weightMap.size === 0) throw new SafetensorsError(indexPath, 'weight_map is empty');
  const md = json['metadata'];
  const metadata: Record<string, unknown> = isPlainObject(md) ? { ...md } : {};
  return { path: indexPath, weightMap, metadata, shards };
}

/**
 * Checks an index against its shards' headers before any data is read: every shard exists, every
 * listed tensor is in the shard the index names, and no tensor appears in two shards.
 * Returns the shard headers keyed by shard file name.
 * @example
 * const headers = validateShards(readShardIndex(join(dir, INDEX_FILE)), dir);
 */
export function validateShards(index: ShardIndex, dir: string): Map<string, SafetensorsHeader> {
  const missing = index.shards.filter((s) => !existsSync(join(dir, s)));
  if (missing.length > 0) {
    const counts = missing.map((s) => `${s} (${[...index.weightMap.values()].filter((f) => f === s).length} tensors)`);
    throw new SafetensorsError(index.path, `missing shard file(s) in ${dir}: ${counts.join(', ')}`);
  }
  const headers = new Map<string, SafetensorsHeader>();
  const owner = new Map<string, string>();
  for (const shard of index.shards) {
    const h = readSafetensorsHeader(join(dir, shard));
    headers.set(shard, h);
    for (const name of h.tensors.keys()) {
      const prev = owner.get(name);
      if (prev !== undefined) {
        throw new SafetensorsError(index.path, `tensor is stored in two shards: ${prev} and ${shard}`, name);
      }
      owner.set(name, shard);
    }
  }
  for (const [name, shard] of index.weightMap) {
    if (!headers.get(shard)!.tensors.has(name)) {
      const actual = owner.get(name);
      throw new SafetensorsError(
        index.path,
        `weight_map lists it in ${shard}, but ${shard} does not contain it` + (actual ? ` (it is in ${actual})` : ''),
        name,
      );
    }
  }
  return headers;
}

/**
 * Loads a sharded safetensors checkpoint from its index file. Tensors not listed in weight_map are
 * ignored (as transformers does); opts.names filters further.
 * @example
 * const { tensors } = loadShardedSafetensors('Llama-2-7b-hf/model.safetensors.index.json', { dtype: 'keep' });
 */
export function loadShardedSafetensors(indexPath: string, opts: LoadSafetensorsOptions = {}): LoadedCheckpoint {
  const index = readShardIndex(indexPath);
  const dir = join(indexPath, '..');
  validateShards(index, dir);
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> | undefined;
  const files: string[] = [];
  try {
    for (const shard of index.shards) {
      const file = join(dir, shard);
      const names = opts.names;
      const r = loadSafetensors(file, {
        ...opts,
        names: (n) => index.weightMap.get(n) === shard && (!names || names(n)),
      });
      metadata ??= r.metadata;
      files.push(file);
      for (const [n, t] of r.tensors) tensors.set(n, t);
    }
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  // report in weight_map order
  const ordered = new Map<string, Tensor>();
  for (const n of index.weightMap.keys()) {
    const t = tensors.get(n);
    if (t) ordered.set(n, t);
  }
  return { tensors: ordered, metadata: metadata ?? {}, format: 'sharded', files, index };
}

const PICKLE_RE = /\.(bin|pt|pth|ckpt)$/;

/** The error for directories holding only PyTorch pickle checkpoints. */
function pickleError(dir: string, found: string[]): Error {
  const first = found.find((f) => !f.endsWith('.json')) ?? 'pytorch_model.bin';
  return new Error(
    `${dir}: only PyTorch pickle checkpoint(s) found (${found.join(', ')}). lmedit does not load pickle files, ` +
      'because unpickling can execute arbitrary code. Convert the checkpoint to safetensors once, in Python:\n' +
      '    from transformers import AutoModelForCausalLM\n' +
      `    model = AutoModelForCausalLM.from_pretrained("${dir}")\n` +
      `    model.save_pretrained("${dir}", safe_serialization=True)\n` +
      'or, without transformers (clone() unties shared weights, which save_file refuses):\n' +
      '    import torch; from safetensors.torch import save_file\n' +
      `    sd = torch.load("${join(dir, first)}", map_location="cpu", weights_only=True)\n` +
      `    save_file({k: v.clone().contiguous() for k, v in sd.items()}, "${join(dir, SINGLE_FILE)}", metadata={"format": "pt"})`,
  );
}

/**
 * Loads a checkpoint from a directory (or a .safetensors / .index.json file): the sharded layout when
 * `model.safetensors.index.json` exists, else `model.safetensors`, else a lone `*.safetensors` file.
 * PyTorch pickle files (`pytorch_model.bin`, `*.bin`, `*.pt`) are refused with conversion instructions.
 * @example
 * const { tensors } = loadCheckpoint(await resolveModelDir('gpt2-xl'), { dtype: 'keep' });
 */
export function loadCheckpoint(dir: string, opts: LoadSafetensorsOptions = {}): LoadedCheckpoint {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    throw new Error(`checkpoint ${dir} does not exist: ${(e as Error).message}`, { cause: e });
  }
  if (st.isFile()) {
    if (dir.endsWith('.index.json')) {
      if (dir.endsWith('.bin.index.json')) throw pickleError(join(dir, '..'), [basename(dir)]);
      return loadShardedSafetensors(dir, opts);
    }
    if (PICKLE_RE.test(dir)) throw pickleError(join(dir, '..'), [basename(dir)]);
    const r = loadSafetensors(dir, opts);
    return { tensors: r.tensors, metadata: r.metadata, format: 'single', files: [dir] };
  }
  const names = readdirSync(dir).sort();
  if (names.includes(INDEX_FILE)) return loadShardedSafetensors(join(dir, INDEX_FILE), opts);
  if (names.includes(SINGLE_FILE)) {
    const file = join(dir, SINGLE_FILE);
    const r = loadSafetensors(file, opts);
    return { tensors: r.tensors, metadata: r.metadata, format: 'single', files: [file] };
  }
  const indexes = names.filter((n) => n.endsWith('.safetensors.index.json'));
  if (indexes.length === 1) return loadShardedSafetensors(join(dir, indexes[0]!), opts);
  const singles = names.filter((n) => n.endsWith('.safetensors'));
  if (indexes.length === 0 && singles.length === 1) {
    const file = join(dir, singles[0]!);
    const r = loadSafetensors(file, opts);
    return { tensors: r.tensors, metadata: r.metadata, format: 'single', files: [file] };
  }
  if (indexes.length > 1 || singles.length > 1) {
    throw new Error(
      `${dir}: several safetensors checkpoints and no ${INDEX_FILE} (${[...indexes, ...singles].join(', ')}); ` +
        'pass the file or index to load',
    );
  }
  const pickles = names.filter((n) => PICKLE_RE.test(n) || n.endsWith('.bin.index.json'));
  if (pickles.length > 0) throw pickleError(dir, pickles);
  throw new Error(
    `${dir}: no checkpoint found (expected ${SINGLE_FILE} or ${INDEX_FILE}); it contains: ${names.join(', ') || 'nothing'}`,
  );
}
