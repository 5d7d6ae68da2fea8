/**
 * The native CPU backend: the Backend interface over the C++ N-API addon
 * (build/Release/lmedit_native.node, built by scripts/build-native.mjs).
 *
 * Every call is validated first (./validate.ts) so a bad call throws an `Error` naming the
 * kernel and the sizes instead of reading out of bounds; the addon checks the same bounds again,
 * cheaply, and checks index values (ids, positions) itself.
 *
 * float64 is handed to the addon as is: Float64Array arguments cross N-API without a copy and
 * every kernel runs in double there (addon.cc instantiates each kernel for float and double),
 * so nothing is routed to the reference backend and nothing is rounded through float32.
 *
 * Semantic choices where backend.ts leaves room (PyTorch behaviour, see native/src/*.cc):
 * - gemm: alpha == 0 or K == 0 gives C = beta * C without reading A/B (BLAS semantics).
 * - maximum/minimum/max/min/clamp/relu propagate NaN; binary pow follows C pow (pow(1, NaN) = 1).
 * - sign keeps +-0 and NaN (Math.sign); unaryGrad of pow with exponent 0 is 0 (PyTorch).
 */
import type {
  AttentionGradParams,
  AttentionParams,
  Backend,
  BackendInfo,
  BinaryParams,
  CopyParams,
  DType,
  EighResult,
  FloatArray,
  GemmParams,
  ReduceOp,
  RopeParams,
  Storage,
  SvdResult,
  UnaryOp,
  WeightArray,
  WeightDType,
  WhereParams,
} from '../../backend.js';
import { newStorage, writeElement } from '../../dtype.js';
import { BINARY_CODE, DTYPE_CODE, REDUCE_CODE, UNARY_CODE } from './codes.js';
import { lib, loadAddon } from './load.js';
import { META, attentionMeta, packStrided } from './meta.js';
import { releaseBuffer, takeBuffer } from './pool.js';
import {
  type ComputeDType,
  checkSolve,
  code,
  computeDtype,
  extent,
  fail,
  int,
  need,
  same,
  shapeStrides,
  storageOf,
} from './validate.js';

/** The native backend plus a benchmark hook (not part of the Backend interface). */
export interface NativeBackend extends Backend {
  /**
   * C = A @ B for row-major float32 A [M, K], B [K, N], straight through cblas_sgemm (the
   * built-in kernel without BLAS), bypassing lmedit's dispatch: the baseline bench/ compares to.
   */
  directSgemm(M: number, N: number, K: number, a: Float32Array, b: Float32Array, c: Float32Array): void;
}

export const nativeBackend: NativeBackend = {
  name: 'native',

  directSgemm(M: number, N: number, K: number, a: Float32Array, b: Float32Array, c: Float32Array): void {
    const k = 'directSgemm';
    int(k, 'M', M);
    int(k, 'N', N);
    int(k, 'K', K);
    for (const [name, x] of [
      ['a', a],
      ['b', b],
      ['c', c],
    ] as const)
      if (!(x instanceof Float32Array)) fail(k, `${name} must be a Float32Array`);
    need(k, 'a', a, M * K, `M=${M}, K=${K}`);
    need(k, 'b', b, K * N, `K=${K}, N=${N}`);
    need(k, 'c', c, M * N, `M=${M}, N=${N}`);
    lib().directSgemm(M, N, K, a, b, c);
  },

  info(): BackendInfo {
    const i = lib().info();
    return { name: 'native', blas: i.blas, lapack: i.lapack, threads: i.threads, simd: i.simd };
  },

  // ---- memory ----

  alloc(dtype: DType, n: number): Storage {
    int('alloc', 'n', n);
    if (!(dtype in DTYPE_CODE)) fail('alloc', `unknown dtype ${String(dtype)}`);
    const recycled = takeBuffer(dtype, n);
    if (recycled) {
      lib().zero(recycled);
      return recycled;
    }
    return newStorage(dtype, n);
  },

  allocUninit(dtype: DType, n: number): Storage {
    int('allocUninit', 'n', n);
    if (!(dtype in DTYPE_CODE)) fail('allocUninit', `unknown dtype ${String(dtype)}`);
    return takeBuffer(dtype, n) ?? newStorage(dtype, n);
  },

  release(buf: Storage): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer)) return; // SharedArrayBuffer: not ours to free
    // only a whole buffer: detaching under a view would pull the memory from its other views
    if (buf.byteOffset !== 0 || buf.byteLength !== ab.byteLength || ab.byteLength === 0) return;
    releaseBuffer(buf);
  },

  // ---- layout ----

  copy(p: CopyParams): void {
    const k = 'copy';
    storageOf(k, 'src', p.srcDtype, p.src);
    storageOf(k, 'dst', p.dstDtype, p.dst);
    if (p.accumulate && p.dstDtype !== 'float32' && p.dstDtype !== 'float64')
      fail(k, `accumulate needs a float32/float64 destination, got ${p.dstDtype}`);
    const total = shapeStrides(k, p.shape, { srcStrides: p.srcStrides, dstStrides: p.dstStrides });
    if (total === 0) return;
    extent(k, 'src', p.src.length, p.srcOffset, p.shape, p.srcStrides);
    extent(k, 'dst', p.dst.length, p.dstOffset, p.shape, p.dstStrides);
    const meta = packStrided([p.shape.length, p.srcOffset, p.dstOffset], p.shape, [p.srcStrides, p.dstStrides]);
    lib().copy(p.src, DTYPE_CODE[p.srcDtype], p.dst, DTYPE_CODE[p.dstDtype], p.accumulate, meta);
  },

  fill(dst: Storage, dtype: DType, offset: number, n: number, value: number): void {
    const k = 'fill';
    storageOf(k, 'dst', dtype, dst);
    int(k, 'offset', offset);
    int(k, 'n', n);
    need(k, 'dst', dst, offset + n, `offset=${offset}, n=${n}`);
    if (n === 0) return;
    const one = newStorage(dtype, 1);
    writeElement(dtype, one, 0, value);
    dst.fill(one[0]!, offset, offset + n);
  },

  // ---- matrix products ----

  gemm(p: GemmParams): void {
    const k = 'gemm';
    for (const f of ['M', 'N', 'K', 'batch', 'aOffset', 'lda', 'aBatchStride', 'bOffset', 'ldb', 'bBatchStride'] as const)
      int(k, f, p[f]);
    for (const f of ['cOffset', 'ldc', 'cBatchStride'] as const) int(k, f, p[f]);
    if (typeof p.alpha !== 'number' || typeof p.beta !== 'number') fail(k, 'alpha and beta must be numbers');
    const dt = computeDtype(k, 'a', p.a);
    same(k, dt, { c: p.c });
    storageOf(k, 'b', p.bDtype, p.b);
    if (p.bDtype !== dt && p.bDtype !== 'float16' && p.bDtype !== 'bfloat16')
      fail(k, `b has dtype ${p.bDtype}; with ${dt} compute it must be ${dt}, float16 or bfloat16`);
    const { M, N, K, batch } = p;
    if (batch === 0 || M === 0 || N === 0) return;
    const matNeed = (off: number, bs: number, rows: number, cols: number, ld: number): number =>
      rows === 0 || cols === 0 ? 0 : off + (batch - 1) * bs + (rows - 1) * ld + cols;
    const aRows = p.transA ? K : M;
    const aCols = p.transA ? M : K;
    const bRows = p.transB ? N : K;
    const bCols = p.transB ? K : N;
    const bt = batch > 1 ? `, batch=${batch}` : '';
    need(
      k,
      'a',
      p.a,
      matNeed(p.aOffset, p.aBatchStride, aRows, aCols, p.lda),
      `M=${M}, K=${K}, lda=${p.lda}${p.transA ? ', transA' : ''}${p.aOffset ? `, aOffset=${p.aOffset}` : ''}${bt}${batch > 1 ? `, aBatchStride=${p.aBatchStride}` : ''}`,
    );
    need(
      k,
      'b',
      p.b,
      matNeed(p.bOffset, p.bBatchStride, bRows, bCols, p.ldb),
      `K=${K}, N=${N}, ldb=${p.ldb}${p.transB ? ', transB' : ''}${p.bOffset ? `, bOffset=${p.bOffset}` : ''}${bt}${batch > 1 ? `, bBatchStride=${p.bBatchStride}` : ''}`,
    );
    need(
      k,
      'c',
      p.c,
      matNeed(p.cOffset, p.cBatchStride, M, N, p.ldc),
      `M=${M}, N=${N}, ldc=${p.ldc}${p.cOffset ? `, cOffset=${p.cOffset}` : ''}${bt}${batch > 1 ? `, cBatchStride=${p.cBatchStride}` : ''}`,
    );
    const m = META;
    m[0] = p.transA ? 1 : 0;
    m[1] = p.transB ? 1 : 0;
    m[2] = M;
    m[3] = N;
    m[4] = K;
    m[5] = p.alpha;
    m[6] = p.beta;
    m[7] = batch;
    m[8] = p.aOffset;
    m[9] = p.lda;
    m[10] = p.aBatchStride;
    m[11] = p.bOffset;
    m[12] = p.ldb;
    m[13] = p.bBatchStride;
    m[14] = p.cOffset;
    m[15] = p.ldc;
    m[16] = p.cBatchStride;
    lib().gemm(p.a, p.b, DTYPE_CODE[p.bDtype], p.c, m);
  },

  // ---- elementwise ----

  unary(op: UnaryOp, x: FloatArray, out: FloatArray, n: number, p0: number, p1: number): void {
    const k = `unary(${op})`;
    const c = code(k, 'op', UNARY_CODE, op);
    int(k, 'n', n);
    const dt = computeDtype(k, 'x', x);
    same(k, dt, { out });
    need(k, 'x', x, n);
    need(k, 'out', out, n);
    if (n === 0) return;
    lib().unary(c, x, out, n, +p0 || 0, +p1 || 0);
  },

  unaryGrad(op: UnaryOp, x: FloatArray, gy: FloatArray, gx: FloatArray, n: number, p0: number, p1: number): void {
    const k = `unaryGrad(${op})`;
    const c = code(k, 'op', UNARY_CODE, op);
    int(k, 'n', n);
    const dt = computeDtype(k, 'x', x);
    same(k, dt, { gy, gx });
    need(k, 'x', x, n);
    need(k, 'gy', gy, n);
    need(k, 'gx', gx, n);
    if (n === 0) return;
    lib().unaryGrad(c, x, gy, gx, n, +p0 || 0, +p1 || 0);
  },

  binary(p: BinaryParams): void {
    const k = `binary(${p.op})`;
    const c = code(k, 'op', BINARY_CODE, p.op);
    const dt = computeDtype(k, 'a', p.a);
    same(k, dt, { b: p.b, out: p.out });
    const total = shapeStrides(k, p.shape, { aStrides: p.aStrides, bStrides: p.bStrides });
    need(k, 'out', p.out, total, `shape=[${p.shape.join(', ')}]`);
    if (total === 0) return;
    extent(k, 'a', p.a.length, p.aOffset, p.shape, p.aStrides);
    extent(k, 'b', p.b.length, p.bOffset, p.shape, p.bStrides);
    const meta = packStrided([p.shape.length, p.aOffset, p.bOffset], p.shape, [p.aStrides, p.bStrides]);
    lib().binary(c, p.a, p.b, p.out, meta);
  },

  where(p: WhereParams): void {
    const k = 'where';
    const dt = computeDtype(k, 'a', p.a);
    same(k, dt, { cond: p.cond, b: p.b, out: p.out });
    const total = shapeStrides(k, p.shape, {
      condStrides: p.condStrides,
      aStrides: p.aStrides,
      bStrides: p.bStrides,
    });
    need(k, 'out', p.out, total, `shape=[${p.shape.join(', ')}]`);
    if (total === 0) return;
    extent(k, 'cond', p.cond.length, p.condOffset, p.shape, p.condStrides);
    extent(k, 'a', p.a.length, p.aOffset, p.shape, p.aStrides);
    extent(k, 'b', p.b.length, p.bOffset, p.shape, p.bStrides);
    const meta = packStrided([p.shape.length, p.condOffset, p.aOffset, p.bOffset], p.shape, [
      p.condStrides,
      p.aStrides,
      p.bStrides,
    ]);
    lib().where(p.cond, p.a, p.b, p.out, meta);
  },

  // ---- reductions ----

  reduce(op: ReduceOp, x: FloatArray, out: FloatArray, outer: number, size: number, inner: number): void {
    const k = `reduce(${op})`;
    const c = code(k, 'op', REDUCE_CODE, op);
    int(k, 'outer', outer);
    int(k, 'size', size, 1);
    int(k, 'inner', inner);
    const dt = computeDtype(k, 'x', x);
    same(k, dt, { out });
    need(k, 'x', x, outer * size * inner, `outer=${outer}, size=${size}, inner=${inner}`);
    need(k, 'out', out, outer * inner, `outer=${outer}, inner=${inner}`);
    if (outer * inner === 0) return;
    lib().reduce(c, x, out, outer, size, inner);
  },

  argmax(x: FloatArray, out: Int32Array, outer: number, size: number, inner: number): void {
    const k = 'argmax';
    int(k, 'outer', outer);
    int(k, 'size', size, 1);
    int(k, 'inner', inner);
    computeDtype(k, 'x', x);
    if (!(out instanceof Int32Array)) fail(k, 'out must be an Int32Array');
    need(k, 'x', x, outer * size * inner, `outer=${outer}, size=${size}, inner=${inner}`);
    need(k, 'out', out, outer * inner, `outer=${outer}, inner=${inner}`);
    if (outer * inner === 0) return;
    lib().argmax(x, out, outer, size, inner);
  },

  // ---- fused rows ----

  softmax(x: FloatArray, out: FloatArray, rows: number, cols: number, log: boolean): void {
    const k = log ? 'softmax(log)' : 'softmax';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    const dt = computeDtype(k, 'x', x);
    same(k, dt, { out });
    need(k, 'x', x, rows * cols, `rows=${rows}, cols=${cols}`);
    need(k, 'out', out, rows * cols, `rows=${rows}, cols=${cols}`);
    if (rows * cols === 0) return;
    lib().softmax(x, out, rows, cols, !!log);
  },

  softmaxGrad(y: FloatArray, gy: FloatArray, gx: FloatArray, rows: number, cols: number, log: boolean): void {
    const k = log ? 'softmaxGrad(log)' : 'softmaxGrad';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    const dt = computeDtype(k, 'y', y);
    same(k, dt, { gy, gx });
    const d = `rows=${rows}, cols=${cols}`;
    need(k, 'y', y, rows * cols, d);
    need(k, 'gy', gy, rows * cols, d);
    need(k, 'gx', gx, rows * cols, d);
    if (rows * cols === 0) return;
    lib().softmaxGrad(y, gy, gx, rows, cols, !!log);
  },

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
  ): void {
    const k = 'layerNorm';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    const dt = computeDtype(k, 'x', x);
    same(k, dt, { w, b, out, mean, rstd });
    const d = `rows=${rows}, cols=${cols}`;
    need(k, 'x', x, rows * cols, d);
    need(k, 'out', out, rows * cols, d);
    need(k, 'w', w, cols, d);
    need(k, 'b', b, cols, d);
    need(k, 'mean', mean, rows, d);
    need(k, 'rstd', rstd, rows, d);
    if (rows === 0) return;
    lib().layerNorm(x, w ?? null, b ?? null, out, mean, rstd, rows, cols, +eps);
  },

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
  ): void {
    const k = 'layerNormGrad';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    const dt = computeDtype(k, 'x', x);
    same(k, dt, { w, mean, rstd, gy, gx, gw, gb });
    const d = `rows=${rows}, cols=${cols}`;
    need(k, 'x', x, rows * cols, d);
    need(k, 'gy', gy, rows * cols, d);
    need(k, 'gx', gx, rows * cols, d);
    need(k, 'w', w, cols, d);
    need(k, 'gw', gw, cols, d);
    need(k, 'gb', gb, cols, d);
    need(k, 'mean', mean, rows, d);
    need(k, 'rstd', rstd, rows, d);
    if (rows * cols === 0) return;
    lib().layerNormGrad(x, w ?? null, mean, rstd, gy, gx, gw ?? null, gb ?? null, rows, cols);
  },

  rmsNorm(x: FloatArray, w: FloatArray | null, out: FloatArray, rstd: FloatArray, rows: number, cols: number, eps: number): void {
    const k = 'rmsNorm';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    const dt = computeDtype(k, 'x', x);
    same(k, dt, { w, out, rstd });
    const d = `rows=${rows}, cols=${cols}`;
    need(k, 'x', x, rows * cols, d);
    need(k, 'out', out, rows * cols, d);
    need(k, 'w', w, cols, d);
    need(k, 'rstd', rstd, rows, d);
    if (rows === 0) return;
    lib().rmsNorm(x, w ?? null, out, rstd, rows, cols, +eps);
  },

  rmsNormGrad(
    x: FloatArray,
    w: FloatArray | null,
    rstd: FloatArray,
    gy: FloatArray,
    gx: FloatArray,
    gw: FloatArray | null,
    rows: number,
    cols: number,
  ): void {
    const k = 'rmsNormGrad';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    const dt = computeDtype(k, 'x', x);
    same(k, dt, { w, rstd, gy, gx, gw });
    const d = `rows=${rows}, cols=${cols}`;
    need(k, 'x', x, rows * cols, d);
    need(k, 'gy', gy, rows * cols, d);
    need(k, 'gx', gx, rows * cols, d);
    need(k, 'w', w, cols, d);
    need(k, 'gw', gw, cols, d);
    need(k, 'rstd', rstd, rows, d);
    if (rows * cols === 0) return;
    lib().rmsNormGrad(x, w ?? null, rstd, gy, gx, gw ?? null, rows, cols);
  },

  // ---- indexing ----

  indexSelect(table: WeightArray, tableDtype: WeightDType, rows: number, cols: number, ids: Int32Array, out: FloatArray): void {
    const k = 'indexSelect';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    storageOf(k, 'table', tableDtype, table);
    computeDtype(k, 'out', out); // any float table converts to the output's dtype
    if (!(ids instanceof Int32Array)) fail(k, 'ids must be an Int32Array');
    need(k, 'table', table, rows * cols, `rows=${rows}, cols=${cols}`);
    need(k, 'out', out, ids.length * cols, `ids=${ids.length}, cols=${cols}`);
    if (ids.length === 0) return;
    lib().indexSelect(table, DTYPE_CODE[tableDtype], rows, cols, ids, out);
  },

  indexAdd(src: FloatArray, ids: Int32Array, g: FloatArray, rows: number, cols: number): void {
    const k = 'indexAdd';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    const dt = computeDtype(k, 'src', src);
    same(k, dt, { g });
    if (!(ids instanceof Int32Array)) fail(k, 'ids must be an Int32Array');
    need(k, 'src', src, ids.length * cols, `ids=${ids.length}, cols=${cols}`);
    need(k, 'g', g, rows * cols, `rows=${rows}, cols=${cols}`);
    if (ids.length === 0) return;
    lib().indexAdd(src, ids, g, rows, cols);
  },

  gather(x: FloatArray, idx: Int32Array, out: FloatArray, rows: number, cols: number, kk: number): void {
    const k = 'gather';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    int(k, 'k', kk);
    const dt = computeDtype(k, 'x', x);
    same(k, dt, { out });
    if (!(idx instanceof Int32Array)) fail(k, 'idx must be an Int32Array');
    const d = `rows=${rows}, cols=${cols}, k=${kk}`;
    need(k, 'x', x, rows * cols, d);
    need(k, 'idx', idx, rows * kk, d);
    need(k, 'out', out, rows * kk, d);
    if (rows * kk === 0) return;
    lib().gather(x, idx, out, rows, cols, kk);
  },

  scatterAdd(src: FloatArray, idx: Int32Array, g: FloatArray, rows: number, cols: number, kk: number): void {
    const k = 'scatterAdd';
    int(k, 'rows', rows);
    int(k, 'cols', cols);
    int(k, 'k', kk);
    const dt = computeDtype(k, 'src', src);
    same(k, dt, { g });
    if (!(idx instanceof Int32Array)) fail(k, 'idx must be an Int32Array');
    const d = `rows=${rows}, cols=${cols}, k=${kk}`;
    need(k, 'src', src, rows * kk, d);
    need(k, 'idx', idx, rows * kk, d);
    need(k, 'g', g, rows * cols, d);
    if (rows * kk === 0) return;
    lib().scatterAdd(src, idx, g, rows, cols, kk);
  },

  // ---- transformer blocks ----

  rope(p: RopeParams): void {
    const k = 'rope';
    for (const f of ['B', 'H', 'T', 'D', 'rotaryDim'] as const) int(k, f, p[f]);
    if (p.rotaryDim % 2 !== 0 || p.rotaryDim > p.D) fail(k, `rotaryDim=${p.rotaryDim} must be even and <= D=${p.D}`);
    if (p.layout !== 'half' && p.layout !== 'interleaved') fail(k, `unknown layout ${String(p.layout)}`);
    const dt = computeDtype(k, 'x', p.x);
    same(k, dt, { out: p.out, cos: p.cos, sin: p.sin });
    if (!(p.positions instanceof Int32Array)) fail(k, 'positions must be an Int32Array');
    const n = p.B * p.H * p.T * p.D;
    const d = `B=${p.B}, H=${p.H}, T=${p.T}, D=${p.D}`;
    need(k, 'x', p.x, n, d);
    need(k, 'out', p.out, n, d);
    need(k, 'positions', p.positions, p.B * p.T, `B=${p.B}, T=${p.T}`);
    if (p.cos.length !== p.sin.length) fail(k, `cos has ${p.cos.length} elements but sin has ${p.sin.length}`);
    const half = p.rotaryDim / 2;
    if (half > 0 && p.cos.length % half !== 0) fail(k, `cos has ${p.cos.length} elements, not a multiple of rotaryDim/2=${half}`);
    if (n === 0) return;
    const m = META;
    m[0] = p.B;
    m[1] = p.H;
    m[2] = p.T;
    m[3] = p.D;
    m[4] = p.rotaryDim;
    m[5] = p.layout === 'interleaved' ? 1 : 0;
    m[6] = p.inverse ? 1 : 0;
    lib().rope(p.x, p.out, p.positions, p.cos, p.sin, m);
  },

  attention(p: AttentionParams): void {
    const m = attentionMeta('attention', p);
    if (m === null) return;
    lib().attention(p.q, p.k, p.v, p.out, p.lse, p.keyMask ?? null, m);
  },

  attentionGrad(p: AttentionGradParams): void {
    const k = 'attentionGrad';
    if (p.kvCapacity !== undefined && p.kvCapacity !== p.Tk)
      fail(k, 'kvCapacity is forward-only (k and v must be [B, KVH, Tk, D])');
    const dt = computeDtype(k, 'q', p.q);
    same(k, dt, { gout: p.gout, gq: p.gq, gk: p.gk, gv: p.gv });
    const nq = p.B * p.H * p.Tq * p.D;
    const nk = p.B * p.KVH * p.Tk * p.D;
    need(k, 'gout', p.gout, nq, `B=${p.B}, H=${p.H}, Tq=${p.Tq}, D=${p.D}`);
    need(k, 'gq', p.gq, nq, `B=${p.B}, H=${p.H}, Tq=${p.Tq}, D=${p.D}`);
    need(k, 'gk', p.gk, nk, `B=${p.B}, KVH=${p.KVH}, Tk=${p.Tk}, D=${p.D}`);
    need(k, 'gv', p.gv, nk, `B=${p.B}, KVH=${p.KVH}, Tk=${p.Tk}, D=${p.D}`);
    const m = attentionMeta(k, p);
    if (m === null) {
      // nothing to compute, but gk/gv are outputs: zero them
      p.gk.fill(0, 0, nk);
      p.gv.fill(0, 0, nk);
      return;
    }
    lib().attentionGrad(p.q, p.k, p.v, p.out, p.lse, p.keyMask ?? null, p.gout, p.gq, p.gk, p.gv, m);
  },

  // ---- linear algebra ----

  cholesky(a: FloatArray, n: number, out: FloatArray): void {
    const k = 'cholesky';
    int(k, 'n', n);
    const dt = computeDtype(k, 'a', a);
    same(k, dt, { out });
    need(k, 'a', a, n * n, `n=${n}`);
    need(k, 'out', out, n * n, `n=${n}`);
    if (n === 0) return;
    lib().cholesky(a, n, out);
  },

  solveSPD(a: FloatArray, b: FloatArray, n: number, nrhs: number, out: FloatArray): void {
    const k = 'solveSPD';
    checkSolve(k, a, b, n, nrhs, out);
    if (n === 0 || nrhs === 0) return;
    lib().solveSPD(a, b, n, nrhs, out);
  },

  solve(a: FloatArray, b: FloatArray, n: number, nrhs: number, out: FloatArray): void {
    const k = 'solve';
    checkSolve(k, a, b, n, nrhs, out);
    if (n === 0 || nrhs === 0) return;
    lib().solve(a, b, n, nrhs, out);
  },

  inverse(a: FloatArray, n: number, out: FloatArray): void {
    const k = 'inverse';
    int(k, 'n', n);
    const dt = computeDtype(k, 'a', a);
    same(k, dt, { out });
    need(k, 'a', a, n * n, `n=${n}`);
    need(k, 'out', out, n * n, `n=${n}`);
    if (n === 0) return;
    lib().inverse(a, n, out);
  },

  eigh(a: FloatArray, n: number): EighResult {
    const k = 'eigh';
    int(k, 'n', n);
    const dt = computeDtype(k, 'a', a);
    need(k, 'a', a, n * n, `n=${n}`);
    const values = newFloat(dt, n);
    const vectors = newFloat(dt, n * n);
    if (n > 0) lib().eigh(a, n, values, vectors);
    return { values, vectors };
  },

  svd(a: FloatArray, m: number, n: number): SvdResult {
    const k = 'svd';
    int(k, 'm', m);
    int(k, 'n', n);
    const dt = computeDtype(k, 'a', a);
    need(k, 'a', a, m * n, `m=${m}, n=${n}`);
    const kk = Math.min(m, n);
    const u = newFloat(dt, m * kk);
    const s = newFloat(dt, kk);
    const vt = newFloat(dt, kk * n);
    if (kk > 0) lib().svd(a, m, n, u, s, vt);
    return { u, s, vt };
  },
};

function newFloat(dt: ComputeDType, n: number): FloatArray {
  return dt === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

/** The native backend, or null when the addon is missing or fails to load (see nativeLoadError). */
export function loadNativeBackend(): Backend | null {
  return loadAddon() ? nativeBackend : null;
}
