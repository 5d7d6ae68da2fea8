/**
 * On-disk cache of layer statistics (safetensors holding the SUM Σ k kᵀ and the COUNT N, so runs
 * can be merged), keyed by model, module, corpus, budget, dtype and chunking; resumable through
 * periodic checkpoints of the partial sum and the corpus position; progress on stderr.
 */
import { existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { loadSafetensors, readSafetensorsHeader, saveSafetensors } from '../../io/safetensors.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { corpusChunks, corpusId, type ResolvedCorpus } from './corpus.js';
import { SecondMoment, accumulateSecondMoments, moduleInputDim, type MomentDType, type MomentTarget } from './second-moment.js';
import { ProgressLine } from '../../util/progress.js';

export const STATS_FORMAT = 'lmedit-stats-v1';

/**
 * The statistics cache folder: `cacheDir`, else `$LMEDIT_CACHE/stats`, else `$LMEDIT_HOME/stats`
 * (beside the built-in models, so a fresh LMEDIT_HOME is a fresh cache), else
 * `$XDG_CACHE_HOME/lmedit/stats` or `~/.cache/lmedit/stats`.
 */
export function statsCacheDir(cacheDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (cacheDir) return cacheDir;
  if (env['LMEDIT_CACHE']) return join(env['LMEDIT_CACHE'], 'stats');
  if (env['LMEDIT_HOME']) return join(env['LMEDIT_HOME'], 'stats');
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'lmedit', 'stats');
}

/**
 * A hash of the model's identity: its config plus a strided sample of every parameter (name,
 * dtype, shape, 256 values). Cheap for any size, and different for another checkpoint of the
 * same architecture or an edited copy.
 */
export function modelFingerprint(model: CausalLM): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(model.config));
  for (const name of [...model.params.keys()].sort()) {
    const t = model.params.get(name)!;
    h.update(`${name}:${t.dtype}:${t.shape.join('x')}\n`);
    const s = t.storage;
    const n = Math.min(t.size, 256);
    const sample = new Float64Array(n);
    // parameters are whole contiguous tensors; the raw storage value (f16 bits too) is enough
    for (let i = 0; i < n; i++) sample[i] = Number(s[t.offset + Math.floor((i * t.size) / n)]!);
    h.update(new Uint8Array(sample.buffer));
  }
  return h.digest('hex').slice(0, 16);
}

/** Tokenizer identity: kind, vocabulary size and the ids of a probe text. */
export function tokenizerFingerprint(tok: Tokenizer): string {
  const probe = tok.encode(' The quick brown fox jumps over the lazy dog. 1234 éà\r\n', { addBos: false });
  return `${tok.kind}:${tok.vocabSize}:${createHash('sha256').update(probe.join(',')).digest('hex').slice(0, 12)}`;
}

/** Everything a cached sum depends on (recorded in the file's metadata). */
export interface StatsKey {
  format: typeof STATS_FORMAT;
  model: string;
  modelHash: string;
  module: string;
  corpus: string;
  tokenizer: string;
  chunkLength: number;
  overflow: string;
  split: string;
  jsonField: string;
  firstChars: number | null;
  nSamples: number | null;
  maxTokens: number | null;
  addBos: boolean | null;
  dummyPrefix: string | null;
  dtype: MomentDType;
}

export function makeStatsKey(
  model: { id: string; hash: string },
  module: string,
  c: ResolvedCorpus,
  tokenizer: string,
  dtype: MomentDType,
): StatsKey {
  return {
    format: STATS_FORMAT,
    model: model.id,
    modelHash: model.hash,
    module,
    corpus: corpusId(c),
    tokenizer,
    chunkLength: c.chunkLength,
    overflow: c.overflow,
    split: c.split,
    jsonField: c.jsonField,
    firstChars: c.firstChars,
    nSamples: c.nSamples,
    maxTokens: c.maxTokens,
    addBos: c.addBos,
    dummyPrefix: c.dummyPrefix,
    dtype,
  };
}

function slug(s: string): string {
  return (
    s
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .replace(/^[._]+/, '')
      .slice(0, 80) || 'model'
  );
}

/**
 * Paths of the finished and the partial (checkpoint) file of a key:
 * `<dir>/<model>-<modelHash8>/<module>_<dtype>_mom2_<budget>_<keyHash12>.safetensors`.
 */
export function statsCachePaths(dir: string, key: StatsKey): { final: string; partial: string } {
  const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 12);
  const budget = [key.maxTokens !== null ? `t${key.maxTokens}` : '', key.nSamples !== null ? `n${key.nSamples}` : '']
    .filter(Boolean)
    .join('');
  const base = join(
    dir,
    `${slug(key.model)}-${key.modelHash.slice(0, 8)}`,
    `${slug(key.module)}_${key.dtype}_mom2_${budget || 'all'}_${hash}`,
  );
  return { final: `${base}.safetensors`, partial: `${base}.partial.safetensors` };
}

/** A sum and count read from a stats file, with its metadata. */
export interface StoredStats {
  sum: Tensor;
  count: number;
  metadata: Record<string, string>;
}

/** Write `mom2` (the sum) and `count` (float64 scalar, exact to 2^53) atomically. */
export function writeStatsFile(path: string, sum: Tensor, count: number, metadata: Record<string, string>): void {
  mkdirSync(join(path, '..'), { recursive: true });
  const countT = T.scalar(count, 'float64');
  try {
    saveSafetensors(
      path,
      { mom2: sum, count: countT },
      { format: STATS_FORMAT, count: String(count), sha256: sumChecksum(sum, count), ...metadata },
    );
  } finally {
    countT.dispose();
  }
}

/** Read a file written by {@link writeStatsFile}; null when it is absent or not ours. */
export function readStatsFile(path: string): StoredStats | null {
  if (!existsSync(path)) return null;
  const { tensors, metadata } = loadSafetensors(path, { dtype: 'keep' });
  const sum = tensors.get('mom2');
  const count = tensors.get('count');
  if (!sum || !count || metadata['format'] !== STATS_FORMAT) {
    for (const t of tensors.values()) t.dispose();
    return null;
  }
  const n = count.item();
  count.dispose();
  if (metadata['sha256'] !== undefined && metadata['sha256'] !== sumChecksum(sum, n)) {
    sum.dispose();
    throw new Error(`${path}: its statistics do not match their checksum; the file is corrupt`);
  }
  return { sum: T.keep(sum), count: n, metadata };
}

/** sha256 of the sum's bytes and the count: what a cache file must still hold when read back. */
function sumChecksum(sum: Tensor, count: number): string {
  const c = sum.isContiguous() ? sum : null;
  const bytes = c
    ? new Uint8Array(
        c.storage.buffer,
        c.storage.byteOffset + c.offset * c.storage.BYTES_PER_ELEMENT,
        c.size * c.storage.BYTES_PER_ELEMENT,
      )
    : new Uint8Array(new Float64Array(sum.toArray()).buffer);
  return createHash('sha256').update(bytes).update(String(count)).digest('hex');
}

/** What a progress callback receives after each batch. */
export interface StatsProgressInfo {
  /** tokens fed so far in this run, resumed ones included */
  tokens: number;
  /** token budget, or null when only a text count bounds the run */
  total: number | null;
  /** index of the next chunk of the corpus stream */
  nextChunk: number;
  /** forward passes run in this process */
  forwards: number;
}

/** true: a bar on a TTY, a line every 10 s otherwise; false: silent; a function: called instead. */
export type ProgressOption = boolean | ((p: StatsProgressInfo) => void);

export interface CachedAccumulateOptions {
  /** model identity for the key (a directory or hub id; default: the model type) */
  modelId?: string;
  /** precomputed {@link modelFingerprint} (e.g. taken before any edit) */
  modelHash?: string;
  dtype?: MomentDType;
  /** cache folder; false: no disk cache (no checkpoints either) */
  cacheDir?: string | false;
  batchSize?: number;
  /** checkpoint the partial sums every this many tokens (default 50,000) */
  checkpointEvery?: number;
  progress?: ProgressOption;
  log?: (msg: string) => void;
}

/** Where one module's statistics came from. */
export type StatsOrigin = 'cache' | 'computed' | 'resumed';

/**
 * Σ k kᵀ and N for every target module: read from the cache when present, otherwise computed
 * in one pass over the corpus (resuming from checkpoints), checkpointed every `checkpointEvery`
 * tokens and written to the cache when complete. The caller owns the returned moments.
 * @example
 * const m = cachedSecondMoments(model, tok, [{ layer: 17, moduleName: 'transformer.h.17.mlp.c_proj' }], corpus);
 */
export function cachedSecondMoments(
  model: CausalLM,
  tokenizer: Tokenizer,
  targets: readonly MomentTarget[],
  corpus: ResolvedCorpus,
  opts: CachedAccumulateOptions = {},
): Map<string, { moment: SecondMoment; origin: StatsOrigin; path: string | null }> {
  const dtype = opts.dtype ?? 'float32';
  const ident = { id: opts.modelId ?? model.config.modelType, hash: opts.modelHash ?? modelFingerprint(model) };
  const tokId = tokenizerFingerprint(tokenizer);
  const dir = opts.cacheDir === false ? null : statsCacheDir(opts.cacheDir);
  const out = new Map<string, { moment: SecondMoment; origin: StatsOrigin; path: string | null }>();
  const todo: {
    target: MomentTarget;
    key: StatsKey;
    paths: { final: string; partial: string } | null;
    start: number;
    tokens: number;
  }[] = [];
  try {
    for (const target of targets) {
      if (out.has(target.moduleName) || todo.some((t) => t.target.moduleName === target.moduleName)) continue;
      const dim = moduleInputDim(model, target.moduleName);
      const key = makeStatsKey(ident, target.moduleName, corpus, tokId, dtype);
      const paths = dir ? statsCachePaths(dir, key) : null;
      const done = paths ? readKeyed(paths.final, key) : null;
      if (done) {
        out.set(target.moduleName, { moment: fromStored(dim, dtype, done), origin: 'cache', path: paths!.final });
        continue;
      }
      // statistics of the same corpus over a larger budget (`lmedit stats --tokens N`) serve too
      const larger = paths ? findLargerBudget(paths.final, key) : null;
      if (larger) {
        opts.log?.(
          `statistics: ${target.moduleName} from ${larger.path} (${larger.stats.count} tokens, more than the ${key.maxTokens} asked)`,
        );
        out.set(target.moduleName, { moment: fromStored(dim, dtype, larger.stats), origin: 'cache', path: larger.path });
        continue;
      }
      const part = paths ? readKeyed(paths.partial, key) : null;
      const start = part ? Number(part.metadata['next_chunk']) : 0;
      const tokens = part ? Number(part.metadata['tokens']) : 0;
      const moment = part ? fromStored(dim, dtype, part) : new SecondMoment(dim, dtype);
      if (part) opts.log?.(`statistics: resuming ${target.moduleName} at chunk ${start} (${tokens} tokens)`);
      out.set(target.moduleName, { moment, origin: part ? 'resumed' : 'computed', path: paths?.final ?? null });
      todo.push({ target, key, paths, start, tokens });
    }
    if (todo.length === 0) return out;

    const from = Math.min(...todo.map((t) => t.start));
    const startAt = new Map(todo.map((t) => [t.target.moduleName, t.start]));
    const moments = new Map(todo.map((t) => [t.target.moduleName, out.get(t.target.moduleName)!.moment]));
    const resumedTokens = Math.min(...todo.map((t) => t.tokens));
    const every = opts.checkpointEvery ?? 50_000;
    let lastCheckpoint = resumedTokens;
    const label = `statistics ${todo.map((t) => t.target.moduleName).join(', ')}`;
    const popt = opts.progress ?? true;
    const line = new ProgressLine(popt === true, { label, total: corpus.maxTokens, initial: resumedTokens, unit: 'tokens' });
    const progress = {
      update: (p: StatsProgressInfo): void => (typeof popt === 'function' ? popt(p) : line.update(p.tokens)),
      stop: (done: boolean): void => line.stop(done),
    };
    let ok = false;
    try {
      const stream = skipChunks(corpusChunks(corpus, tokenizer), from);
      accumulateSecondMoments(
        model,
        stream.chunks,
        todo.map((t) => t.target),
        moments,
        {
          ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
          startAt,
          onBatch: ({ nextChunk, tokens, forwards }) => {
            const total = stream.skippedTokens() + tokens;
            if (dir && total - lastCheckpoint >= every) {
              lastCheckpoint = total;
              for (const t of todo) {
                // a module resumed further along already holds chunks up to its own start
                if (nextChunk < t.start) continue;
                const m = moments.get(t.target.moduleName)!;
                writeStatsFile(t.paths!.partial, m.sum, m.count, {
                  key: JSON.stringify(t.key),
                  next_chunk: String(nextChunk),
                  tokens: String(total),
                  complete: 'false',
                });
              }
            }
            progress.update({ tokens: total, total: corpus.maxTokens, nextChunk, forwards });
          },
        },
      );
      ok = true;
    } finally {
      progress.stop(ok);
    }
    for (const t of todo) {
      const m = moments.get(t.target.moduleName)!;
      const dim = moduleInputDim(model, t.target.moduleName);
      // fewer keys than dimensions: C is singular, and ROME/MEMIT would invert noise; never cache it
      if (m.count < dim)
        throw new Error(
          `statistics: the corpus ${corpus.path} gave ${m.count} token(s) for ${t.target.moduleName}, fewer than its ${dim} input dimensions; give a larger corpus`,
        );
      if (t.paths) {
        writeStatsFile(t.paths.final, m.sum, m.count, { key: JSON.stringify(t.key), complete: 'true' });
        if (existsSync(t.paths.partial)) unlinkSync(t.paths.partial);
      }
    }
    return out;
  } catch (e) {
    for (const v of out.values()) v.moment.dispose();
    throw e;
  }
}

/**
 * A finished cache file beside `final` whose key differs from `key` only by a larger token budget
 * (or none: the whole corpus), the largest such; null when there is none.
 */
function findLargerBudget(final: string, key: StatsKey): { path: string; stats: StoredStats } | null {
  if (key.maxTokens === null) return null;
  const dir = dirname(final);
  if (!existsSync(dir)) return null;
  const prefix = `${slug(key.module)}_${key.dtype}_mom2_`;
  const wanted = JSON.stringify({ ...key, maxTokens: null });
  // keys from the headers only; the one best file is then read (and checked) whole
  let best: { path: string; budget: number } | null = null;
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(prefix) || !f.endsWith('.safetensors') || f.endsWith('.partial.safetensors')) continue;
    const path = join(dir, f);
    let metadata: Readonly<Record<string, string>>;
    let other: StatsKey | null;
    try {
      metadata = readSafetensorsHeader(path).metadata;
      other = JSON.parse(metadata['key'] ?? 'null') as StatsKey | null;
    } catch {
      continue; // unreadable: readCacheFile removes it should it ever be the exact key
    }
    if (!other || metadata['complete'] !== 'true' || JSON.stringify({ ...other, maxTokens: null }) !== wanted) continue;
    const budget = other.maxTokens === null ? Infinity : other.maxTokens;
    if (budget > key.maxTokens && (!best || budget > best.budget)) best = { path, budget };
  }
  const stats = best ? readCacheFile(best.path) : null;
  return best && stats ? { path: best.path, stats } : null;
}

/** A cache file, or null (and the file deleted, to be rebuilt) when it is truncated or fails its checksum. */
function readCacheFile(path: string): StoredStats | null {
  try {
    return readStatsFile(path);
  } catch (e) {
    process.stderr.write(`lmedit: statistics cache: ${(e as Error).message}; removing it, it will be recomputed\n`);
    unlinkSync(path);
    return null;
  }
}

/** A stored file whose key matches exactly (guards against hash collisions and format changes). */
function readKeyed(path: string, key: StatsKey): StoredStats | null {
  const s = readCacheFile(path);
  if (s && s.metadata['key'] !== JSON.stringify(key)) {
    s.sum.dispose();
    return null;
  }
  return s;
}

function fromStored(dim: number, dtype: MomentDType, s: StoredStats): SecondMoment {
  try {
    return new SecondMoment(dim, dtype, { sum: s.sum, count: s.count });
  } finally {
    s.sum.dispose();
  }
}

/** Drop the first n chunks of a stream (already accumulated), counting their tokens. */
function skipChunks<C extends { ids: readonly number[]; index: number }>(
  it: Iterable<C>,
  n: number,
): { chunks: Iterable<C>; skippedTokens: () => number } {
  let skipped = 0;
  function* gen(): Generator<C> {
    for (const c of it) {
      if (c.index < n) {
        skipped += c.ids.length;
        continue;
      }
      yield c;
    }
  }
  return { chunks: gen(), skippedTokens: () => skipped };
}
