/**
 * Streaming reads of big weight matrices in float64 chunks (any float storage dtype), and the
 * RECT ratio stream δ_ij = |ΔW_ij| / |W_ij| built on them — so a 16384×4096 matrix is never
 * materialised as a float64 array.
 */
import { endianness } from 'node:os';
import * as T from '../../tensor/index.js';
import type { Storage, Tensor } from '../../tensor/index.js';

/** Elements per chunk: 512 KiB of float64, small enough to stay in cache. */
export const CHUNK = 1 << 16;

if (endianness() !== 'LE') throw new Error('edit/rect: float64 bit tricks assume a little-endian platform');

let f16Table: Float32Array | null = null;
/** All 65536 float16 values (built once; 256 KiB). */
function f16Lut(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = T.f16ToNumber(h);
  }
  return f16Table;
}

/**
 * Row-major float64 reader over a tensor of any float dtype. Non-contiguous views are copied
 * once (the copy is freed by `dispose`).
 * @example
 * const r = new F64Reader(W); const buf = new Float64Array(CHUNK);
 * r.read(0, Math.min(CHUNK, r.size), buf); r.dispose();
 */
export class F64Reader {
  readonly size: number;
  /** contiguous storage and the index of element 0 in it */
  readonly data: Storage;
  readonly offset: number;
  private readonly owned: Tensor | null;
  private scratch32 = new Uint32Array(0);
  private scratchF = new Float32Array(0);

  constructor(readonly tensor: Tensor) {
    tensor.assertAlive('F64Reader');
    if (!T.isFloatDtype(tensor.dtype)) throw new Error(`F64Reader: need a float tensor, got ${tensor.dtype}`);
    this.owned = tensor.isContiguous() ? null : T.keep(T.noGrad(() => T.clone(tensor)));
    const src = this.owned ?? tensor;
    this.data = src.storage;
    this.offset = this.owned ? 0 : tensor.offset;
    this.size = tensor.size;
  }

  /** Elements [start, start + n) into out[0..n) as float64. */
  read(start: number, n: number, out: Float64Array): void {
    const o = this.offset + start;
    const d = this.data;
    switch (this.tensor.dtype) {
      case 'float32':
      case 'float64':
        out.set((d as Float32Array | Float64Array).subarray(o, o + n));
        break;
      case 'float16': {
        const lut = f16Lut();
        for (let j = 0; j < n; j++) out[j] = lut[d[o + j]!]!;
        break;
      }
      case 'bfloat16': {
        // bf16 is the upper half of a float32: shift the bits in, read them back as float32
        if (this.scratch32.length < n) {
          this.scratch32 = new Uint32Array(Math.max(n, CHUNK));
          this.scratchF = new Float32Array(this.scratch32.buffer);
        }
        const u = this.scratch32;
        const fl = this.scratchF;
        const h = d as Uint16Array;
        for (let j = 0; j < n; j++) u[j] = h[o + j]! << 16;
        out.set(fl.subarray(0, n));
        break;
      }
      default:
        throw new Error(`F64Reader: unsupported dtype ${this.tensor.dtype}`);
    }
  }

  dispose(): void {
    this.owned?.dispose();
  }
}

/**
 * One matrix's change: either the update and the weight it is measured against
 * (`{delta, base}`), or two states of the weight (`{after, before}`: delta = after − before,
 * base = before, computed in float64).
 */
export type ChangePair = { delta: Tensor; base: Tensor } | { after: Tensor; before: Tensor };

/** Called per chunk: δ values, the same buffer as 32-bit words (lo, hi per element), ΔW values, count, flat start index within the pair, pair index. */
export type RatioVisitor = (
  ratio: Float64Array,
  words: Uint32Array,
  delta: Float64Array,
  n: number,
  start: number,
  pair: number,
) => void;

/** A re-runnable stream of non-negative float64 values (see select.ts). */
export type Float64Stream = (visit: (values: Float64Array, words: Uint32Array, n: number) => void) => void;

function checkShapes(what: string, a: Tensor, b: Tensor): void {
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
}

/**
 * Walk δ_ij = |ΔW_ij| / |W_ij| (float64) over the pairs in order, in chunks. W_ij = 0 gives
 * +∞ when ΔW_ij ≠ 0 and 0 when ΔW_ij = 0 (never NaN); a NaN (non-finite inputs) throws.
 * @example
 * let s = 0; forEachRatio([{ delta: dW, base: W }], (r, _w, _d, n) => { for (let j = 0; j < n; j++) s += r[j]!; });
 */
export function forEachRatio(pairs: readonly ChangePair[], visit: RatioVisitor, what = 'rect'): void {
  const ratio = new Float64Array(CHUNK);
  const words = new Uint32Array(ratio.buffer);
  const delta = new Float64Array(CHUNK);
  const base = new Float64Array(CHUNK);
  pairs.forEach((p, pi) => {
    const isDelta = 'delta' in p;
    const a = new F64Reader(isDelta ? p.delta : p.after);
    const b = new F64Reader(isDelta ? p.base : p.before);
    try {
      checkShapes(what, a.tensor, b.tensor);
      for (let start = 0; start < a.size; start += CHUNK) {
        const n = Math.min(CHUNK, a.size - start);
        a.read(start, n, delta);
        b.read(start, n, base);
        if (!isDelta) for (let j = 0; j < n; j++) delta[j] = delta[j]! - base[j]!;
        for (let j = 0; j < n; j++) {
          const x = Math.abs(delta[j]!);
          const w = Math.abs(base[j]!);
          const r = w !== 0 ? x / w : x !== 0 ? Infinity : 0;
          if (r !== r) throw new Error(`${what}: |ΔW/W| is NaN at flat index ${start + j} (non-finite ΔW or W)`);
          ratio[j] = r;
        }
        visit(ratio, words, delta, n, start, pi);
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  });
}

/** The δ values of the pairs as a Float64Stream (for order statistics). */
export function ratioStream(pairs: readonly ChangePair[], what = 'rect'): Float64Stream {
  return (visit) => forEachRatio(pairs, (r, w, _d, n) => visit(r, w, n), what);
}
