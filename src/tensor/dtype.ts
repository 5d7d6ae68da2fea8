/**
 * Element types: byte sizes, array constructors and the float16/bfloat16 bit conversions
 * (IEEE 754 binary16 and the upper half of binary32, both rounding to nearest even).
 */
import type { DType, FloatArray, Storage } from './backend.js';

export const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'uint8'];

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'float64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'float16':
    case 'bfloat16':
      return 2;
    case 'uint8':
      return 1;
  }
}

/** True for the dtypes elementwise kernels compute in. */
export function isComputeDtype(dtype: DType): dtype is 'float32' | 'float64' {
  return dtype === 'float32' || dtype === 'float64';
}

/** True for the floating dtypes (storage or compute). */
export function isFloatDtype(dtype: DType): dtype is 'float32' | 'float64' | 'float16' | 'bfloat16' {
  return dtype !== 'int32' && dtype !== 'uint8';
}

/** A new zero-filled JS array for dtype (the reference backend's allocator). */
export function newStorage(dtype: DType, n: number): Storage {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint8':
      return new Uint8Array(n);
  }
}

/** Checks that an array's runtime type can hold dtype (guards against mixing up arrays). */
export function storageMatches(dtype: DType, s: Storage): boolean {
  switch (dtype) {
    case 'float32':
      return s instanceof Float32Array;
    case 'float64':
      return s instanceof Float64Array;
    case 'float16':
    case 'bfloat16':
      return s instanceof Uint16Array;
    case 'int32':
      return s instanceof Int32Array;
    case 'uint8':
      return s instanceof Uint8Array;
  }
}

export function newFloatArray(dtype: 'float32' | 'float64', n: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits -> number. */
export function bf16ToNumber(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** number -> bfloat16 bits, round to nearest even; NaN stays NaN. */
export function numberToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff;
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}

/** float16 bits -> number. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number -> float16 bits, round to nearest even, overflow to Infinity; NaN stays NaN. */
export function numberToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let v = mant >>> shift;
    if (rest > half || (rest === half && (v & 1) === 1)) v += 1;
    return sign | v;
  }
  let v = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (v & 1) === 1)) v += 1;
  return sign | v;
}

/** Reads element i of any storage as a number (f16/bf16 decoded). */
export function readElement(dtype: DType, s: Storage, i: number): number {
  if (dtype === 'float16') return f16ToNumber(s[i]!);
  if (dtype === 'bfloat16') return bf16ToNumber(s[i]!);
  return s[i]!;
}

/** Writes a number into element i of any storage (f16/bf16 encoded, ints truncated). */
export function writeElement(dtype: DType, s: Storage, i: number, x: number): void {
  if (dtype === 'float16') s[i] = numberToF16(x);
  else if (dtype === 'bfloat16') s[i] = numberToBf16(x);
  else if (dtype === 'int32') s[i] = Math.trunc(x);
  else if (dtype === 'uint8') s[i] = Math.trunc(x) & 0xff;
  else s[i] = x;
}
