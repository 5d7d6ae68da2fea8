/**
 * What `--model` means on the command line: a directory or hub id as given; nothing (or
 * `default`) for the built-in world model, trained once and cached under $LMEDIT_HOME; `quick`
 * for a smaller world model that trains in well under a minute (`lmedit demo --quick`, tests);
 * `stories260K` for the real tiny checkpoint in ../shared (a test model).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDefaultModel, lmeditHome } from '../train/default-model.js';
import { DEFAULT_WORLD_MODEL, type WorldModelSpec } from '../train/world-model.js';
import type { TrainProgress } from '../train/train.js';
import { editRequests, readWorld, trainingDocuments, worldHash, type World } from '../world/index.js';
import { readRequestsFile } from '../edit/request.js';
import type { EditRequest } from '../edit/types.js';
import { WORLD_DATA } from '../study/types.js';
import { ProgressLine } from '../util/progress.js';
import {
  createStatsProvider,
  type CorpusOptions,
  type LayerStatsProvider,
  type StatsProviderOptions,
} from '../edit/stats/index.js';
import { dataDir } from '../eval/data.js';
import type { Tokenizer } from '../tokenizer/index.js';

/** `--model quick`: the tiny world, a d64 two-block model (the recipe of the tiny-world test). */
export const QUICK_WORLD_MODEL: WorldModelSpec = {
  ...DEFAULT_WORLD_MODEL,
  size: 'tiny',
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 4,
  epochs: 22,
  lr: 5e-3,
};

/** The model names the CLI knows besides paths and hub ids. */
export const BUILTIN_MODELS = ['default', 'quick', 'stories260K'] as const;

/** stories260K from ../shared (or $LMEDIT_SHARED): a real pretrained tiny LLaMA, used by the tests. */
export function stories260KDir(): string {
  const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
  const shared = process.env['LMEDIT_SHARED'] ?? resolve(repo, '..', 'shared');
  const dir = join(shared, 'data', 'stories260K', 'hf');
  if (!existsSync(dir)) throw new Error(`--model stories260K: ${dir} is missing (it comes with ../shared; set LMEDIT_SHARED)`);
  return dir;
}

/**
 * The model directory (or hub id) for a `--model` value. The built-in world models are trained on
 * first use, with progress on stderr unless `quiet`; later calls find them in the cache.
 */
export async function resolveModel(flag: string | undefined, opts: { quiet?: boolean } = {}): Promise<string> {
  if (flag === 'stories260K') return stories260KDir();
  if (flag !== undefined && flag !== 'default' && flag !== 'quick') return flag;
  const spec = flag === 'quick' ? QUICK_WORLD_MODEL : DEFAULT_WORLD_MODEL;
  let bar: ProgressLine | null = null;
  const log = (m: string): void => {
    if (!opts.quiet) process.stderr.write(`lmedit: ${m}\n`);
  };
  const ensure = () =>
    ensureDefaultModel({
      spec,
      log,
      onProgress: (p: TrainProgress) => {
        bar ??= new ProgressLine(!opts.quiet, { label: 'training the world model', total: p.steps, unit: 'steps' });
        bar.update(p.step, `loss ${p.lossAvg.toFixed(3)}`);
      },
    });
  try {
    const dir = await ensure();
    try {
      await worldOf(dir);
      return dir;
    } catch (e) {
      // checksums hold but this lmedit generates another world from the same seed: retrain
      log(`the cached model's world no longer matches this lmedit's (${(e as Error).message}); rebuilding it`);
      worlds.delete(dir);
      rmSync(dir, { recursive: true, force: true });
      return await ensure();
    }
  } finally {
    (bar as ProgressLine | null)?.stop(true);
  }
}

/** Worlds read in this process, by directory (reading one regenerates it to check its hash). */
const worlds = new Map<string, World>();

/** The world of a world model's directory (its world.json), or null for any other model. */
export async function worldOf(dir: string): Promise<World | null> {
  if (!existsSync(join(dir, 'world.json'))) return null;
  const known = worlds.get(dir);
  if (known) return known;
  const world = await readWorld(dir);
  worlds.set(dir, world);
  return world;
}

/**
 * A text file of the world's training documents (one per line), for layer statistics: the
 * world model's own "Wikipedia". Written once into $LMEDIT_HOME/corpora, named by the world's hash.
 */
export function worldCorpusFile(world: World): string {
  const hash = createHash('sha256').update(worldHash(world)).digest('hex').slice(0, 12);
  const dir = join(lmeditHome(), 'corpora');
  const file = join(dir, `world-${hash}.txt`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${file}.tmp`, trainingDocuments(world).join('\n') + '\n');
    renameSync(`${file}.tmp`, file);
  }
  return file;
}

/**
 * The statistics corpus for a model when none is given: a world model's own text (one document a
 * line), else WikiText-2's test split from the data folder when it is there.
 */
export function statsCorpus(world: World | null): string | CorpusOptions | undefined {
  if (world) return { path: worldCorpusFile(world), split: 'line' };
  const wikitext = join(dataDir(), 'wikitext', 'wikitext-2-raw-test.raw');
  return existsSync(wikitext) ? wikitext : undefined;
}

/**
 * Layer statistics for a world model: the provider over its world's text (one document a line).
 * @example const stats = worldStatsProvider(tokenizer, dir, world, { cacheDir: false });
 */
export function worldStatsProvider(
  tokenizer: Tokenizer,
  modelDir: string,
  world: World,
  opts: Omit<StatsProviderOptions, 'tokenizer' | 'modelId' | 'corpus'> = {},
): LayerStatsProvider {
  return createStatsProvider({
    progress: false,
    ...opts,
    tokenizer,
    modelId: modelDir,
    corpus: statsCorpus(world)!,
  });
}

/**
 * The requests of `--data`: a ZsRE / CounterFact / EasyEdit records file, or `world` for a world
 * model's own facts (the requests of a study's `data.file: world`, in the same order).
 */
export function requestsOfData(data: string, world: World | null): EditRequest[] {
  if (data !== WORLD_DATA) return readRequestsFile(data);
  if (!world) throw new Error('--data world: this model has no world (use the default model or --model quick)');
  return editRequests(world, 'all');
}
