/**
 * Creating tensors: from JS values, constants, ranges and a seeded random generator.
 */
import type { DType } from '../backend.js';
import { isFloatDtype, writeElement } from '../dtype.js';
import { Tensor, fmtShape, shapeSize, type Shape } from '../tensor.js';
import { be } from './util.js';

/** Nested arrays of numbers (any depth). */
export type NestedArray = number | readonly NestedArray[];

function inferShape(v: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = (cur as readonly NestedArray[])[0] ?? 0;
  }
  return shape;
}

function flatten(v: NestedArray, out: number[], shape: readonly number[], depth: number): void {
  if (!Array.isArray(v)) {
    if (depth !== shape.length) throw new Error('tensor: ragged nested array');
    out.push(v as number);
    return;
  }
  if (v.length !== shape[depth]) throw new Error(`tensor: ragged nested array at depth ${depth}`);
  for (const x of v as readonly NestedArray[]) flatten(x, out, shape, depth + 1);
}

/**
 * A tensor from nested arrays or a flat array plus shape.
 * @example tensor([[1, 2], [3, 4]]); tensor([1, 2, 3, 4, 5, 6], [2, 3], 'float64')
 */
export function tensor(values: NestedArray | ArrayLike<number>, shape?: Shape, dtype: DType = 'float32'): Tensor {
  let flat: ArrayLike<number>;
  let sh: readonly number[];
  if (shape) {
    if (typeof values === 'number') flat = [values];
    else if (Array.isArray(values) && values.some((x) => Array.isArray(x))) {
      const tmp: number[] = [];
      flatten(values as NestedArray, tmp, inferShape(values as NestedArray), 0);
      flat = tmp;
    } else flat = values as ArrayLike<number>;
    sh = shape;
  } else if (typeof values === 'number' || Array.isArray(values)) {
    sh = inferShape(values as NestedArray);
    const tmp: number[] = [];
    flatten(values as NestedArray, tmp, sh, 0);
    flat = tmp;
  } else {
    flat = values as ArrayLike<number>;
    sh = [flat.length];
  }
  if (flat.length !== shapeSize(sh)) {
    throw new Error(`tensor: ${flat.length} values do not fill shape ${fmtShape(sh)}`);
  }
  const t = Tensor.zeros(sh, dtype);
  const s = t.storage;
  if (dtype === 'float32' || dtype === 'float64' || dtype === 'int32') {
    for (let i = 0; i < flat.length; i++) s[i] = dtype === 'int32' ? Math.trunc(flat[i]!) : flat[i]!;
  } else {
    for (let i = 0; i < flat.length; i++) writeElement(dtype, s, i, flat[i]!);
  }
  return t;
}

/** A scalar (rank 0) tensor. */
export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return tensor([value], [], dtype);
}

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return Tensor.zeros(shape, dtype);
}

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const t = Tensor.zeros(shape, dtype);
  if (value !== 0) be().fill(t.storage, dtype, 0, t.size, value);
  return t;
}

export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}

export function zerosLike(t: Tensor): Tensor {
  return Tensor.zeros(t.shape, t.dtype);
}

export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1, t.dtype);
}

/** [start, start + step, ...) below end. */
export function arange(start: number, end?: number, step = 1, dtype: DType = 'int32'): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  const t = Tensor.zeros([n], dtype);
  for (let i = 0; i < n; i++) writeElement(dtype, t.storage, i, start + i * step);
  return t;
}

/** Identity matrix. */
export function eye(n: number, dtype: DType = 'float32'): Tensor {
  const t = Tensor.zeros([n, n], dtype);
  for (let i = 0; i < n; i++) writeElement(dtype, t.storage, i * n + i, 1);
  return t;
}

/**
 * Seeded pseudo-random numbers (xoshiro128**), reproducible across runs and platforms.
 * @example const rng = new Rng(42); const w = rng.normal([64, 64], 0.02);
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  constructor(seed: number) {
    // splitmix32 to spread the seed over the state
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() || 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box-Muller). */
  nextNormal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A tensor of N(mean, std^2) samples. */
  normal(shape: Shape, std = 1, mean = 0, dtype: DType = 'float32'): Tensor {
    if (!isFloatDtype(dtype)) throw new Error(`Rng.normal: dtype must be floating, got ${dtype}`);
    const t = Tensor.zeros(shape, dtype);
    for (let i = 0; i < t.size; i++) writeElement(dtype, t.storage, i, mean + std * this.nextNormal());
    return t;
  }

  /** A tensor of U(lo, hi) samples. */
  uniform(shape: Shape, lo = 0, hi = 1, dtype: DType = 'float32'): Tensor {
    const t = Tensor.zeros(shape, dtype);
    for (let i = 0; i < t.size; i++) writeElement(dtype, t.storage, i, lo + (hi - lo) * this.next());
    return t;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
