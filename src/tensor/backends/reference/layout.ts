/**
 * Memory and layout kernels (alloc, release, strided copy with dtype conversion, fill), plus the
 * two helpers the other reference files share: the N-d strided index walk and length checks.
 */
import type { CopyParams, DType, Storage } from '../../backend.js';
import { newStorage, readElement, storageMatches, writeElement } from '../../dtype.js';

/** Throws `${kernel}: ${name} ...` when an array is shorter than a kernel needs. */
export function requireLength(kernel: string, name: string, arr: { length: number }, need: number): void {
  if (arr.length < need) {
    throw new Error(`${kernel}: ${name} has ${arr.length} elements but ${need} are needed`);
  }
}

/** Throws when an array's runtime type cannot hold the dtype it is declared to have. */
export function requireDtype(kernel: string, name: string, arr: Storage, dtype: DType): void {
  if (!storageMatches(dtype, arr)) throw new Error(`${kernel}: ${name} is a ${arr.constructor.name}, not ${dtype} storage`);
}

/** Number of elements of a shape (1 for the scalar shape []). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Checks that every element a strided view (offset, strides, shape) addresses lies inside arr. */
export function requireStrided(
  kernel: string,
  name: string,
  arr: { length: number },
  offset: number,
  strides: readonly number[],
  shape: readonly number[],
): void {
  if (shapeSize(shape) === 0) return;
  let lo = offset;
  let hi = offset;
  shape.forEach((n, d) => {
    const span = (strides[d] ?? 0) * (n - 1);
    if (span < 0) lo += span;
    else hi += span;
  });
  if (lo < 0 || hi >= arr.length) {
    throw new Error(`${kernel}: ${name} view reaches elements [${lo}, ${hi}] of an array of ${arr.length}`);
  }
}

/**
 * Walks every index of `shape` in row-major order and calls visit(linear, offs), where
 * offs[k] = offsets[k] + index . strides[k] for each operand k. `offs` is reused between calls.
 */
export function forEachStrided(
  kernel: string,
  shape: readonly number[],
  offsets: readonly number[],
  strides: readonly (readonly number[])[],
  visit: (linear: number, offs: number[]) => void,
): void {
  const nd = shape.length;
  for (const s of strides) {
    if (s.length !== nd) throw new Error(`${kernel}: strides of rank ${s.length} for a shape of rank ${nd}`);
  }
  const total = shapeSize(shape);
  if (total === 0) return;
  const index = new Array<number>(nd).fill(0);
  const offs = offsets.slice();
  for (let linear = 0; linear < total; linear++) {
    visit(linear, offs);
    // Advance the index like an odometer, keeping every operand's offset in step.
    for (let d = nd - 1; d >= 0; d--) {
      index[d]! += 1;
      for (let k = 0; k < offs.length; k++) offs[k]! += strides[k]![d]!;
      if (index[d]! < shape[d]!) break;
      for (let k = 0; k < offs.length; k++) offs[k]! -= strides[k]![d]! * shape[d]!;
      index[d] = 0;
    }
  }
}

export function alloc(dtype: DType, n: number): Storage {
  return newStorage(dtype, n);
}

/** The garbage collector frees JS arrays; nothing to do. */
export function release(_buf: Storage): void {}

export function copy(p: CopyParams): void {
  const { src, dst, srcDtype, dstDtype } = p;
  requireDtype('copy', 'src', src, srcDtype);
  requireDtype('copy', 'dst', dst, dstDtype);
  requireStrided('copy', 'src', src, p.srcOffset, p.srcStrides, p.shape);
  requireStrided('copy', 'dst', dst, p.dstOffset, p.dstStrides, p.shape);
  if (!p.accumulate) {
    forEachStrided('copy', p.shape, [p.srcOffset, p.dstOffset], [p.srcStrides, p.dstStrides], (_i, offs) => {
      writeElement(dstDtype, dst, offs[1]!, readElement(srcDtype, src, offs[0]!));
    });
    return;
  }
  if (!(dst instanceof Float32Array || dst instanceof Float64Array)) {
    throw new Error(`copy: accumulate needs a float32/float64 destination, got ${dstDtype}`);
  }
  if (shapeSize(p.shape) === 0) return;
  // Sum in doubles over the touched range of dst, then store once, so a float32 destination
  // gets a single rounding per element even when stride-0 dims sum many values into it.
  let lo = p.dstOffset;
  let hi = p.dstOffset;
  p.shape.forEach((n, d) => {
    const span = (p.dstStrides[d] ?? 0) * (n - 1);
    if (span < 0) lo += span;
    else hi += span;
  });
  const acc = Float64Array.from(dst.subarray(lo, hi + 1));
  forEachStrided('copy', p.shape, [p.srcOffset, p.dstOffset - lo], [p.srcStrides, p.dstStrides], (_i, offs) => {
    acc[offs[1]!] = acc[offs[1]!]! + readElement(srcDtype, src, offs[0]!);
  });
  dst.set(acc, lo);
}

export function fill(dst: Storage, dtype: DType, offset: number, n: number, value: number): void {
  requireDtype('fill', 'dst', dst, dtype);
  requireLength('fill', 'dst', dst, offset + n);
  // Convert once (f16/bf16 encoding, int truncation), then fill the raw element.
  const one = newStorage(dtype, 1);
  writeElement(dtype, one, 0, value);
  dst.fill(one[0]!, offset, offset + n);
}
