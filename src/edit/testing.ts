/**
 * Test helpers shared by the method folders: bitwise snapshots of every parameter, to check
 * that a failed or restored edit left the model exactly as it was, a relative difference, and
 * stories260K with its statistics and requests it can take.
 */
import assert from 'node:assert/strict';
import * as T from '../tensor/index.js';
import type { CausalLM } from '../models/types.js';
import { openModel } from '../models/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { createStatsProvider, type LayerStatsProvider } from './stats/index.js';
import type { EditRequest } from './types.js';
import { modelDir, sharedPath } from '../testing.js';

/** Bitwise copies of every parameter, by name. */
export function snapshotParams(model: CausalLM): Map<string, T.Snapshot> {
  return new Map([...model.params].map(([name, t]) => [name, T.snapshot(t)]));
}

/** Assert every parameter still has the bytes of `snaps`. */
export function assertParamsUnchanged(model: CausalLM, snaps: Map<string, T.Snapshot>, what = 'changed'): void {
  for (const [name, s] of snaps) assert.deepEqual(T.snapshot(model.param(name)).bytes, s.bytes, `${name} ${what}`);
}

/** max |a − b| / max |b| over two equally long arrays. */
export function maxRelDiff(a: readonly number[], b: readonly number[]): number {
  let d = 0;
  let m = 0;
  a.forEach((x, i) => {
    d = Math.max(d, Math.abs(x - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  });
  return d / m;
}

/** Three requests stories260K can take (its own world of small stories). */
export const STORY_REQUESTS: EditRequest[] = [
  { prompt: 'Tom had a big red', subject: 'Tom', target_new: 'car' },
  { prompt: 'Lily went to the', subject: 'Lily', target_new: 'park' },
  { prompt: 'The cat sat on the', subject: 'The cat', target_new: 'mat' },
];

/** stories260K from ../shared with statistics over WikiText-2 (no disk cache), freed after `fn`. */
export async function withStories260K<R>(
  fn: (m: { model: CausalLM; tokenizer: Tokenizer; stats: LayerStatsProvider }) => Promise<R> | R,
): Promise<R> {
  const dir = modelDir('stories260K');
  const { model, tokenizer } = await openModel(dir);
  const stats = createStatsProvider({
    tokenizer,
    modelId: dir,
    corpus: sharedPath('data', 'wikitext', 'wikitext-2-raw-test.raw'),
    progress: false,
    cacheDir: false,
  });
  try {
    return await fn({ model, tokenizer, stats });
  } finally {
    stats.dispose();
    model.dispose();
  }
}
