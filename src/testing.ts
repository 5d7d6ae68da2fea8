/**
 * Test support (not part of the published build): locating ../shared (real data and PyTorch
 * goldens) for tests, which skip with a clear message when it is absent. Unit tests under src/
 * and the cross-implementation tests in test/ both import it from here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from './tensor/index.js';
import type { Tensor } from './tensor/index.js';
import { loadSafetensors } from './io/safetensors.js';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Absolute path of ../shared (or $LMEDIT_SHARED). */
export const SHARED = process.env['LMEDIT_SHARED'] ?? resolve(repoRoot, '..', 'shared');

export const haveShared = existsSync(join(SHARED, 'reference', 'README.md'));

/** node:test `skip` value: false when ../shared exists, else the reason. */
export const skipNoShared: string | false = haveShared ? false : `../shared not found at ${SHARED} (set LMEDIT_SHARED)`;

export function sharedPath(...parts: string[]): string {
  return join(SHARED, ...parts);
}

/** A model directory used by the goldens: tiny-gpt2, tiny-llama (reference/models) or stories260K. */
export function modelDir(name: string): string {
  return name === 'stories260K' ? sharedPath('data', 'stories260K', 'hf') : sharedPath('reference', 'models', name);
}

export function readJson<T = Record<string, unknown>>(...parts: string[]): T {
  return JSON.parse(readFileSync(sharedPath(...parts), 'utf8')) as T;
}

export function goldenTensors(...parts: string[]): Map<string, Tensor> {
  return loadSafetensors(sharedPath(...parts), { dtype: 'keep' }).tensors;
}

/** max |a - b| and max |b| over the elements where `where(i)` holds. */
export function compare(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  where: (i: number) => boolean = () => true,
): { maxAbs: number; maxRef: number } {
  if (a.length !== b.length) throw new Error(`compare: ${a.length} vs ${b.length} elements`);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    if (!where(i)) continue;
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    maxRef = Math.max(maxRef, Math.abs(b[i]!));
  }
  return { maxAbs, maxRef };
}

/** The seed of a randomised test: LMEDIT_TEST_SEED, else a fresh one (print it in the test name). */
export function testSeed(): number {
  return Number(process.env['LMEDIT_TEST_SEED'] ?? Date.now() % 100000);
}

/** A standard-normal float64 matrix drawn from `rng`. */
export function randn(rng: T.Rng, shape: [number, number]): Tensor {
  return T.tensor(
    Array.from({ length: shape[0] * shape[1] }, () => rng.nextNormal()),
    shape,
    'float64',
  );
}
