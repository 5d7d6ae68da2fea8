/**
 * Argument checks run before every addon call. They repeat the addon's own bounds checks on
 * purpose: the addon's only keep memory safe, while these also say which argument is wrong and
 * the sizes, offsets and strides it was checked against.
 */
import type { DType, FloatArray, Storage } from '../../backend.js';
import { storageMatches } from '../../dtype.js';
import { DTYPE_CODE } from './codes.js';

/** Must equal kMaxRank in native/src/nd.h, which sizes its fixed shape/stride arrays. */
const MAX_RANK = 8;

export function fail(kernel: string, msg: string): never {
  throw new Error(`${kernel}: ${msg}`);
}

export function int(kernel: string, name: string, v: number, min = 0): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    fail(kernel, `${name} must be an integer >= ${min}, got ${String(v)}`);
}

export function code<K extends string>(kernel: string, what: string, table: Record<K, number>, key: K): number {
  const c = (table as Record<string, number | undefined>)[key];
  if (c === undefined) fail(kernel, `unknown ${what} ${String(key)}`);
  return c;
}

export type ComputeDType = 'float32' | 'float64';

export function computeDtype(kernel: string, name: string, a: unknown): ComputeDType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  fail(kernel, `${name} must be a Float32Array or Float64Array`);
}

/** Checks that every given float array has the dtype `dt` (null entries are skipped). */
export function same(kernel: string, dt: ComputeDType, arrays: Record<string, unknown>): void {
  for (const [name, a] of Object.entries(arrays)) {
    if (a === null || a === undefined) continue;
    if (computeDtype(kernel, name, a) !== dt) fail(kernel, `${name} is ${computeDtype(kernel, name, a)}, expected ${dt}`);
  }
}

export function need(kernel: string, name: string, a: { length: number } | null, n: number, detail?: string): void {
  if (a === null) return;
  if (a.length < n) fail(kernel, `${name} has ${a.length} elements, needs ${n}${detail ? ` (${detail})` : ''}`);
}

export function storageOf(kernel: string, name: string, dtype: DType, a: Storage): void {
  if (!(dtype in DTYPE_CODE)) fail(kernel, `unknown dtype ${String(dtype)}`);
  if (!storageMatches(dtype, a)) fail(kernel, `${name} is a ${a?.constructor?.name ?? typeof a}, which cannot hold ${dtype}`);
}

export function shapeStrides(kernel: string, shape: readonly number[], strides: Record<string, readonly number[]>): number {
  if (!Array.isArray(shape)) fail(kernel, 'shape must be an array');
  if (shape.length > MAX_RANK) fail(kernel, `rank ${shape.length} is not supported (at most ${MAX_RANK})`);
  let total = 1;
  for (const s of shape) {
    int(kernel, 'shape entry', s);
    total *= s;
  }
  for (const [name, st] of Object.entries(strides)) {
    if (!Array.isArray(st) || st.length !== shape.length)
      fail(kernel, `${name} has ${Array.isArray(st) ? st.length : 'no'} entries, shape has ${shape.length}`);
    for (const v of st) if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(kernel, `${name} must hold integers`);
  }
  if (!Number.isSafeInteger(total)) fail(kernel, 'shape is too large');
  return total;
}

/** Checks offset + i . strides in [0, length) for every index i of shape. */
export function extent(
  kernel: string,
  name: string,
  len: number,
  offset: number,
  shape: readonly number[],
  strides: readonly number[],
): void {
  int(kernel, `${name} offset`, offset);
  let lo = offset;
  let hi = offset;
  for (let d = 0; d < shape.length; d++) {
    const s = shape[d]!;
    if (s === 0) return;
    const span = (s - 1) * strides[d]!;
    if (span < 0) lo += span;
    else hi += span;
  }
  if (lo < 0 || hi >= len)
    fail(
      kernel,
      `${name} has ${len} elements, needs indices ${lo}..${hi} (offset=${offset}, shape=[${shape.join(', ')}], strides=[${strides.join(', ')}])`,
    );
}

/** The shared checks of solve and solveSPD. */
export function checkSolve(k: string, a: FloatArray, b: FloatArray, n: number, nrhs: number, out: FloatArray): void {
  int(k, 'n', n);
  int(k, 'nrhs', nrhs);
  const dt = computeDtype(k, 'a', a);
  same(k, dt, { b, out });
  need(k, 'a', a, n * n, `n=${n}`);
  need(k, 'b', b, n * nrhs, `n=${n}, nrhs=${nrhs}`);
  need(k, 'out', out, n * nrhs, `n=${n}, nrhs=${nrhs}`);
}
