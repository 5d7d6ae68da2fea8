/**
 * The shape of the raw addon (native/src/addon.cc). Hand-written rather than generated, so it
 * must change together with addon.cc; ABI_VERSION is what catches a stale build at load time.
 */
import type { FloatArray, Storage, WeightArray } from '../../backend.js';

/** Must equal kAbiVersion in native/src/addon.cc; bump both when a signature below changes. */
export const ABI_VERSION = 3;

/** One method per LM_KERNEL binding in addon.cc. */
export interface NativeAddon {
  info(): {
    abi: number;
    blas: string;
    lapack: string;
    threads: number;
    simd: string;
    simdRuntime: string;
    hasBlas: boolean;
    hasLapack: boolean;
  };
  detach(buffer: ArrayBuffer): boolean;
  zero(buf: Storage): void;
  copy(src: Storage, srcDtype: number, dst: Storage, dstDtype: number, accumulate: boolean, meta: Float64Array): void;
  gemm(a: FloatArray, b: WeightArray, bDtype: number, c: FloatArray, meta: Float64Array): void;
  directSgemm(M: number, N: number, K: number, a: Float32Array, b: Float32Array, c: Float32Array): void;
  unary(op: number, x: FloatArray, out: FloatArray, n: number, p0: number, p1: number): void;
  unaryGrad(op: number, x: FloatArray, gy: FloatArray, gx: FloatArray, n: number, p0: number, p1: number): void;
  binary(op: number, a: FloatArray, b: FloatArray, out: FloatArray, meta: Float64Array): void;
  where(cond: FloatArray, a: FloatArray, b: FloatArray, out: FloatArray, meta: Float64Array): void;
  reduce(op: number, x: FloatArray, out: FloatArray, outer: number, size: number, inner: number): void;
  argmax(x: FloatArray, out: Int32Array, outer: number, size: number, inner: number): void;
  softmax(x: FloatArray, out: FloatArray, rows: number, cols: number, log: boolean): void;
  softmaxGrad(y: FloatArray, gy: FloatArray, gx: FloatArray, rows: number, cols: number, log: boolean): void;
  layerNorm(
    x: FloatArray,
    w: FloatArray | null,
    b: FloatArray | null,
    out: FloatArray,
    mean: FloatArray,
    rstd: FloatArray,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  layerNormGrad(
    x: FloatArray,
    w: FloatArray | null,
    mean: FloatArray,
    rstd: FloatArray,
    gy: FloatArray,
    gx: FloatArray,
    gw: FloatArray | null,
    gb: FloatArray | null,
    rows: number,
    cols: number,
  ): void;
  rmsNorm(x: FloatArray, w: FloatArray | null, out: FloatArray, rstd: FloatArray, rows: number, cols: number, eps: number): void;
  rmsNormGrad(
    x: FloatArray,
    w: FloatArray | null,
    rstd: FloatArray,
    gy: FloatArray,
    gx: FloatArray,
    gw: FloatArray | null,
    rows: number,
    cols: number,
  ): void;
  indexSelect(table: WeightArray, tableDtype: number, rows: number, cols: number, ids: Int32Array, out: FloatArray): void;
  indexAdd(src: FloatArray, ids: Int32Array, g: FloatArray, rows: number, cols: number): void;
  gather(x: FloatArray, idx: Int32Array, out: FloatArray, rows: number, cols: number, k: number): void;
  scatterAdd(src: FloatArray, idx: Int32Array, g: FloatArray, rows: number, cols: number, k: number): void;
  rope(x: FloatArray, out: FloatArray, positions: Int32Array, cos: FloatArray, sin: FloatArray, meta: Float64Array): void;
  attention(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    out: FloatArray,
    lse: FloatArray,
    keyMask: Uint8Array | null,
    meta: Float64Array,
  ): void;
  attentionGrad(
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    out: FloatArray,
    lse: FloatArray,
    keyMask: Uint8Array | null,
    gout: FloatArray,
    gq: FloatArray,
    gk: FloatArray,
    gv: FloatArray,
    meta: Float64Array,
  ): void;
  cholesky(a: FloatArray, n: number, out: FloatArray): void;
  solveSPD(a: FloatArray, b: FloatArray, n: number, nrhs: number, out: FloatArray): void;
  solve(a: FloatArray, b: FloatArray, n: number, nrhs: number, out: FloatArray): void;
  inverse(a: FloatArray, n: number, out: FloatArray): void;
  eigh(a: FloatArray, n: number, values: FloatArray, vectors: FloatArray): void;
  svd(a: FloatArray, m: number, n: number, u: FloatArray, s: FloatArray, vt: FloatArray): void;
}
