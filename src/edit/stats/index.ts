/**
 * Layer statistics C = E[k kᵀ] for ROME/MEMIT (README.md): a StatsProvider that takes C
 * from an imported file, the on-disk cache, or computes (and caches) it over a local corpus;
 * plus build/inspect helpers for a `lmedit stats` command.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { StatsProvider } from '../types.js';
import {
  cachedSecondMoments,
  modelFingerprint,
  readStatsFile,
  writeStatsFile,
  type ProgressOption,
  type StatsOrigin,
} from './cache.js';
import { resolveCorpus, type CorpusOptions } from './corpus.js';
import { findStatsFile, importStatsFile, type ImportedStats } from './import.js';
import { moduleInputDim, type MomentDType, type MomentTarget } from './second-moment.js';

export {
  SecondMoment,
  accumulateSecondMoments,
  moduleInputDim,
  type MomentDType,
  type MomentTarget,
  type TokenChunk,
} from './second-moment.js';
export {
  corpusChunks,
  corpusFiles,
  corpusTokenIds,
  goldenCovRecipe,
  resolveCorpus,
  firstCodePoints,
  DEFAULT_TOKENS_PER_DIM,
  type CorpusOptions,
  type ResolvedCorpus,
} from './corpus.js';
export {
  cachedSecondMoments,
  modelFingerprint,
  statsCacheDir,
  statsCachePaths,
  readStatsFile,
  writeStatsFile,
  type StatsProgressInfo,
  type ProgressOption,
  type StatsKey,
} from './cache.js';
export { importStatsFile, findStatsFile, parseNpy, readNpz, npzKeys, type ImportedStats, type NpyArray } from './import.js';

export interface StatsProviderOptions {
  /** corpus to compute statistics on (a path, or full options); needed unless every layer is imported */
  corpus?: string | CorpusOptions;
  /** tokenizer of the model; needed to compute */
  tokenizer?: Tokenizer;
  /**
   * Existing statistics: a folder searched per module (`<module>_<dtype>_mom2_<n>.npz`,
   * `<module>.safetensors`), one file, or files by module name or layer number.
   */
  statsPath?: string | Readonly<Record<string, string>>;
  /** cache folder (default $LMEDIT_CACHE/stats or ~/.cache/lmedit/stats); false: no disk cache */
  cacheDir?: string | false;
  /** texts to read (`mom2_n_samples`) */
  nSamples?: number;
  /** token budget (`mom2_max_tokens`); default 10·d_k when nSamples is not given either */
  maxTokens?: number;
  /** accumulation dtype (`mom2_dtype`, default float32) */
  dtype?: MomentDType;
  /** tokens per chunk (default min(model max positions, 1024)) */
  chunkLength?: number;
  /** chunks per forward pass (default 1) */
  batchSize?: number;
  /** checkpoint partial sums every this many tokens (default 50,000) */
  checkpointEvery?: number;
  progress?: ProgressOption;
  /** model identity for cache keys (a directory or hub id) */
  modelId?: string;
  log?: (msg: string) => void;
}

/** Where the C of a module came from. */
export type StatsSource = ({ kind: 'import'; path: string } | { kind: StatsOrigin; path: string | null }) & {
  /** keys (tokens) the second moment averages; null when an imported file does not say */
  tokens: number | null;
};

/** The lmedit StatsProvider: C tensors it returns are owned by it (freed by `dispose`). */
export interface LayerStatsProvider extends StatsProvider {
  /** compute/load several modules at once (one corpus pass for all that must be computed) */
  prefetch(model: CausalLM, targets: readonly MomentTarget[]): void;
  /** where each module's C came from, once requested */
  source(model: CausalLM, moduleName: string): StatsSource | undefined;
  dispose(): void;
}

interface ModelState {
  /** fingerprint at first use: cache key of the unedited model even after in-place edits */
  hash: string;
  C: Map<string, Tensor>;
  sources: Map<string, StatsSource>;
}

/**
 * Create a StatsProvider. `secondMoment(model, layer, module)` returns C = Σ/N [d_k, d_k] from an
 * imported file, else the cache, else by computing it on the corpus (then cached), memoised per
 * (model, module). Compute (or prefetch) every layer before editing: C must describe the unedited model.
 * @example
 * const stats = createStatsProvider({ corpus: 'data/wiki', tokenizer });
 * const C = stats.secondMoment(model, 17, 'transformer.h.17.mlp.c_proj'); // [6400, 6400]
 */
export function createStatsProvider(opts: StatsProviderOptions = {}): LayerStatsProvider {
  const states = new WeakMap<CausalLM, ModelState>();
  const owned: Tensor[] = [];
  const state = (model: CausalLM): ModelState => {
    let s = states.get(model);
    if (!s) {
      s = { hash: modelFingerprint(model), C: new Map(), sources: new Map() };
      states.set(model, s);
    }
    return s;
  };
  const store = (s: ModelState, module: string, C: Tensor, src: StatsSource): void => {
    s.C.set(module, T.keep(C));
    s.sources.set(module, src);
    owned.push(C);
  };

  const importFor = (model: CausalLM, t: MomentTarget): ImportedStats | null => {
    const path = statsFileFor(opts.statsPath, t);
    return path ? importStatsFile(path, moduleInputDim(model, t.moduleName)) : null;
  };

  const prefetch = (model: CausalLM, targets: readonly MomentTarget[]): void => {
    const s = state(model);
    const missing: MomentTarget[] = [];
    for (const t of targets) {
      if (s.C.has(t.moduleName) || missing.some((m) => m.moduleName === t.moduleName)) continue;
      const imp = importFor(model, t);
      if (imp) {
        imp.sum?.dispose();
        store(s, t.moduleName, imp.mean, { kind: 'import', path: imp.path, tokens: imp.count });
        opts.log?.(`statistics: ${t.moduleName} from ${imp.path}`);
      } else missing.push(t);
    }
    if (missing.length === 0) return;
    if (!opts.corpus || !opts.tokenizer) {
      const where = opts.statsPath
        ? ` (none found in ${typeof opts.statsPath === 'string' ? opts.statsPath : 'the given stats files'})`
        : '';
      throw new Error(
        `statistics for ${missing.map((m) => m.moduleName).join(', ')}${where}: pass a stats file/folder, or a corpus and a tokenizer to compute them`,
      );
    }
    const corpusOpts = typeof opts.corpus === 'string' ? { path: opts.corpus } : opts.corpus;
    const dk = Math.max(...missing.map((t) => moduleInputDim(model, t.moduleName)));
    const corpus = resolveCorpus(
      {
        ...corpusOpts,
        ...(opts.nSamples !== undefined ? { nSamples: opts.nSamples } : {}),
        ...(opts.maxTokens !== undefined ? { maxTokens: opts.maxTokens } : {}),
        ...(opts.chunkLength !== undefined ? { chunkLength: opts.chunkLength } : {}),
      },
      model,
      dk,
    );
    if (modelFingerprint(model) !== s.hash) {
      // the goldens (and ROME/MEMIT's precomputed files) describe the unedited model: say so loudly
      const warn = opts.log ?? ((m: string) => process.stderr.write(`lmedit: ${m}\n`));
      warn(
        `statistics: warning: the weights changed since this provider first saw the model; computing C for ${missing
          .map((m) => m.moduleName)
          .join(', ')} on the edited model (prefetch every layer before editing to avoid this)`,
      );
    }
    const res = cachedSecondMoments(model, opts.tokenizer, missing, corpus, {
      modelHash: s.hash,
      ...pick(opts, ['modelId', 'dtype', 'cacheDir', 'batchSize', 'checkpointEvery', 'progress', 'log']),
    });
    for (const [module, r] of res) {
      store(s, module, r.moment.mean(), { kind: r.origin, path: r.path, tokens: r.moment.count });
      r.moment.dispose();
    }
  };

  return {
    secondMoment(model: CausalLM, layer: number, moduleName: string): Tensor {
      const s = state(model);
      if (!s.C.has(moduleName)) prefetch(model, [{ layer, moduleName }]);
      return s.C.get(moduleName)!;
    },
    prefetch,
    source: (model, moduleName) => states.get(model)?.sources.get(moduleName),
    dispose(): void {
      for (const t of owned) t.dispose();
      owned.length = 0;
    },
  };
}

function pick<O extends object, K extends keyof O>(o: O, keys: readonly K[]): Partial<Pick<O, K>> {
  const out: Partial<Pick<O, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** The file given for a module: by module name, by layer number, a single file, or found in a folder. */
function statsFileFor(statsPath: StatsProviderOptions['statsPath'], t: MomentTarget): string | null {
  if (statsPath === undefined) return null;
  if (typeof statsPath !== 'string') return statsPath[t.moduleName] ?? statsPath[String(t.layer)] ?? null;
  if (!existsSync(statsPath)) throw new Error(`statistics: ${statsPath} does not exist`);
  return statSync(statsPath).isDirectory() ? findStatsFile(statsPath, t.moduleName) : statsPath;
}

// ---- CLI helpers ----------------------------------------------------------------------------

export interface BuildStatsOptions extends Omit<StatsProviderOptions, 'statsPath' | 'corpus' | 'tokenizer'> {
  model: CausalLM;
  tokenizer: Tokenizer;
  corpus: string | CorpusOptions;
  targets: readonly MomentTarget[];
  /** also write each module's sum and count to `<outDir>/<module>.safetensors` */
  outDir?: string;
}

/**
 * Compute (or take from the cache) the statistics of several modules in one corpus pass, for
 * a `lmedit stats build` command. Returns the files written (cache or outDir) per module.
 * @example buildStats({ model, tokenizer, corpus: 'wiki/', targets: [{ layer: 17, moduleName: 'transformer.h.17.mlp.c_proj' }] });
 */
export function buildStats(o: BuildStatsOptions): Map<string, { path: string | null; count: number; origin: StatsOrigin }> {
  const corpusOpts = typeof o.corpus === 'string' ? { path: o.corpus } : o.corpus;
  const dk = Math.max(...o.targets.map((t) => moduleInputDim(o.model, t.moduleName)));
  const corpus = resolveCorpus({ ...corpusOpts, ...pick(o, ['nSamples', 'maxTokens', 'chunkLength']) }, o.model, dk);
  const res = cachedSecondMoments(
    o.model,
    o.tokenizer,
    o.targets,
    corpus,
    pick(o, ['modelId', 'dtype', 'cacheDir', 'batchSize', 'checkpointEvery', 'progress', 'log']),
  );
  const out = new Map<string, { path: string | null; count: number; origin: StatsOrigin }>();
  for (const [module, r] of res) {
    let path = r.path;
    if (o.outDir) {
      path = join(o.outDir, `${module}.safetensors`);
      writeStatsFile(path, r.moment.sum, r.moment.count, { module, corpus: corpus.path });
    }
    out.set(module, { path, count: r.moment.count, origin: r.origin });
    r.moment.dispose();
  }
  return out;
}

/** What `lmedit stats inspect` prints. */
export interface StatsSummary {
  path: string;
  format: string;
  shape: [number, number];
  dtype: string;
  count: number | null;
  /** trace of C (mean squared key norm) */
  trace: number;
  eigMin: number | null;
  eigMax: number | null;
  conditionNumber: number | null;
  metadata: Record<string, string>;
}

/**
 * Shape, count, dtype, trace and eigenvalue range of a statistics file (.npz, .safetensors,
 * or a cache file). `eig: false` skips the O(d_k³) eigendecomposition.
 * @example inspectStats('transformer.h.17.mlp.c_proj_float32_mom2_100000.npz')
 */
export function inspectStats(path: string, opts: { dk?: number; eig?: boolean } = {}): StatsSummary {
  let metadata: Record<string, string> = {};
  if (path.endsWith('.safetensors')) {
    const own = readStatsFile(path);
    if (own) {
      metadata = own.metadata;
      own.sum.dispose();
    }
  }
  const imp = importStatsFile(path, opts.dk);
  try {
    const C = imp.mean;
    const n = C.shape[0]!;
    return T.tidy(() => {
      let trace = 0;
      for (let i = 0; i < n; i++) trace += C.at(i, i);
      let eigMin: number | null = null;
      let eigMax: number | null = null;
      if (opts.eig !== false) {
        const ev = T.eigh(T.cast(C, 'float64')).values.toArray();
        eigMin = ev[0]!;
        eigMax = ev[ev.length - 1]!;
      }
      return {
        path,
        format: imp.format,
        shape: [n, n] as [number, number],
        dtype: imp.dtype,
        count: imp.count,
        trace,
        eigMin,
        eigMax,
        conditionNumber: eigMin !== null && eigMax !== null && eigMin > 0 ? eigMax / eigMin : null,
        metadata,
      };
    });
  } finally {
    imp.mean.dispose();
    imp.sum?.dispose();
  }
}
