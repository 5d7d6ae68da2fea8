/**
 * RECT and its baselines as a `DeltaTransform` (src/edit/apply.ts), so every method's
 * WeightEditor passes each ΔW through it before adding it; records what each call did.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { DeltaTransform } from '../apply.js';
import { rect, type RectStats } from './rect.js';
import { pcaLowRank, pcaPaper, randomK, type PcaMode, type PcaSolver } from './baselines.js';

export type RegulariserMode = 'rect' | 'random' | 'pca';

export interface DeltaTransformOptions {
  mode: RegulariserMode;
  /** fraction of ΔW to keep (RECT top-k %, Random-k probability, PCA component fraction); default 0.4 */
  keep?: number;
  /** PCA variant, default 'paper' (what the reference code does) */
  pcaMode?: PcaMode;
  pcaSolver?: PcaSolver;
  /** Random-k seed (default 0); one generator per transform, drawn in call order */
  seed?: number;
  /** called once per transformed ΔW */
  onRecord?: (r: TransformRecord) => void;
}

/** What one call did to one ΔW. */
export interface TransformRecord {
  name: string;
  mode: RegulariserMode;
  keep: number;
  numel: number;
  /** non-zero entries kept (rect, random) or components used (pca) */
  kept: number;
  ms: number;
  rect?: RectStats;
  pca?: { mode: PcaMode; r: number; requested: number; solver: 'svd' | 'gram' };
  /** why the ΔW was passed through unchanged (PCA of a non-matrix, e.g. a bias) */
  skipped?: string;
}

export type RecordingTransform = DeltaTransform & { readonly records: TransformRecord[] };

/**
 * Build the transform. The returned function also carries `records` (one per call).
 * @example
 * const transformDelta = makeDeltaTransform({ mode: 'rect', keep: 0.4 });
 * rome.apply(model, [req], hp, { tokenizer, transformDelta });
 * transformDelta.records[0].rect!.kthRatio;
 */
export function makeDeltaTransform(opts: DeltaTransformOptions): RecordingTransform {
  const keep = opts.keep ?? 0.4;
  if (!(keep >= 0 && keep <= 1)) throw new Error(`makeDeltaTransform: keep must be a fraction in [0, 1], got ${keep}`);
  const mode = opts.mode;
  if (mode !== 'rect' && mode !== 'random' && mode !== 'pca')
    throw new Error(`makeDeltaTransform: unknown mode "${String(mode)}"`);
  const pcaMode = opts.pcaMode ?? 'paper';
  if (pcaMode !== 'paper' && pcaMode !== 'lowrank') throw new Error(`makeDeltaTransform: unknown pcaMode "${String(pcaMode)}"`);
  const rng = new T.Rng(opts.seed ?? 0);
  const records: TransformRecord[] = [];

  const fn = (name: string, delta: Tensor, current: Tensor): Tensor => {
    const t0 = performance.now();
    const rec: TransformRecord = { name, mode, keep, numel: delta.size, kept: 0, ms: 0 };
    let out: Tensor;
    if (mode === 'rect') {
      const r = rect(delta, current, keep);
      r.mask.dispose();
      out = r.deltaW;
      rec.kept = r.stats.keepCount;
      rec.rect = r.stats;
    } else if (mode === 'random') {
      const r = randomK(delta, keep, rng);
      r.mask.dispose();
      out = r.deltaW;
      rec.kept = r.keptCount;
    } else if (delta.rank !== 2) {
      out = T.clone(delta);
      rec.kept = delta.size;
      rec.skipped = `PCA needs a matrix, ΔW has shape [${delta.shape.join(', ')}]`;
    } else {
      const r = pcaMode === 'paper' ? pcaPaper(delta, keep, opts.pcaSolver) : pcaLowRank(delta, keep, opts.pcaSolver);
      out = r.deltaW;
      rec.kept = r.r;
      rec.pca = { mode: pcaMode, r: r.r, requested: r.requested, solver: r.solver };
    }
    rec.ms = performance.now() - t0;
    records.push(rec);
    opts.onRecord?.(rec);
    return out;
  };
  return Object.assign(fn, { records });
}
