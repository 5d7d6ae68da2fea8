/**
 * Test helpers shared by the method folders: bitwise snapshots of every parameter, to check
 * that a failed or restored edit left the model exactly as it was, and a relative difference.
 */
import assert from 'node:assert/strict';
import * as T from '../tensor/index.js';
import type { CausalLM } from '../models/types.js';

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
