/**
 * The kernel interface every backend implements: plain loops over flat typed arrays.
 *
 * This file is the contract between the tensor frontend (shapes, views, autograd) and the
 * backends (`reference`: pure TypeScript oracle; `native`: the C++ N-API addon). Every kernel
 * works on row-major data described by explicit sizes, offsets and strides (in elements), so a
 * backend never needs to know about Tensor objects. Kernels write every element of their output
 * (tests poison outputs before each run to catch unwritten elements).
 *
 * Conventions:
 * - "compute" arrays are Float32Array (float32) or Float64Array (float64). A kernel is called
 *   with all its float arrays of one compute dtype, except where a parameter says `weight`:
 *   those may also be float16/bfloat16 bit patterns in a Uint16Array, widened to the compute
 *   dtype as they are read (exactly), so a half-precision model is never converted whole.
 * - Index arrays are Int32Array.
 * - Every backend implements every kernel for both compute dtypes and writes results in that
 *   dtype: float64 work is never handed to another backend or rounded through float32. Kernels
 *   may accumulate in double internally, never in less than the compute dtype.
 */

/** Element types a tensor can hold. f16/bf16 are storage-only (weights); compute is f32/f64. */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32' | 'uint8';

/** Flat storage of a tensor. float16/bfloat16 are raw bit patterns in a Uint16Array. */
export type Storage = Float32Array | Float64Array | Uint16Array | Int32Array | Uint8Array;

/** Arrays elementwise kernels compute in. */
export type FloatArray = Float32Array | Float64Array;

/** Arrays a weight-reading kernel (gemm's B, indexSelect's table) accepts. */
export type WeightArray = Float32Array | Float64Array | Uint16Array;

/** Storage dtypes a weight-reading kernel accepts. */
export type WeightDType = 'float32' | 'float64' | 'float16' | 'bfloat16';

export type UnaryOp =
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'tanh'
  | 'abs'
  | 'sign'
  | 'sigmoid'
  | 'relu'
  | 'silu'
  /** HF `gelu_new`: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
  | 'gelu_tanh'
  /** exact GELU: 0.5 x (1 + erf(x / sqrt 2)) */
  | 'gelu_erf'
  | 'square'
  | 'reciprocal'
  | 'sin'
  | 'cos'
  /** x ** p0 */
  | 'pow'
  /** min(max(x, p0), p1); gradient 1 where p0 <= x <= p1 (PyTorch convention) */
  | 'clamp';

export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  /** a ** b */
  | 'pow'
  | 'maximum'
  | 'minimum'
  /** comparisons write 1 or 0 */
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge';

export type ReduceOp = 'sum' | 'max' | 'min';

/** Rotary embedding layouts: HF LLaMA `rotate_half` pairs (i, i + r/2); GPT-J pairs (2i, 2i + 1). */
export type RopeLayout = 'half' | 'interleaved';

/**
 * C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for b in [0, batch), all row-major.
 * op(A) is M x K (A stored K x M when transA), op(B) is K x N (B stored N x K when transB).
 * Batch strides may be 0 (the same matrix for every batch entry).
 * `a` and `c` have the compute dtype; `b` may be a float16/bfloat16 weight.
 * beta = 0 means C is write-only (its old contents, even NaN, are ignored), as in BLAS.
 */
export interface GemmParams {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  batch: number;
  a: FloatArray;
  aOffset: number;
  lda: number;
  aBatchStride: number;
  b: WeightArray;
  bDtype: WeightDType;
  bOffset: number;
  ldb: number;
  bBatchStride: number;
  c: FloatArray;
  cOffset: number;
  ldc: number;
  cBatchStride: number;
}

/**
 * Strided copy with dtype conversion: for every index i of `shape`,
 * dst[dstOffset + i . dstStrides] (=|+=) convert(src[srcOffset + i . srcStrides]).
 * With `accumulate`, values are added (dst must be a compute dtype); stride-0 destination dims
 * then sum (this is how broadcast gradients are reduced). Conversions between any two dtypes
 * are allowed (float -> int truncates toward zero; f16/bf16 round to nearest even).
 */
export interface CopyParams {
  src: Storage;
  srcDtype: DType;
  srcOffset: number;
  srcStrides: readonly number[];
  dst: Storage;
  dstDtype: DType;
  dstOffset: number;
  dstStrides: readonly number[];
  shape: readonly number[];
  accumulate: boolean;
}

/**
 * Broadcast elementwise: out[i] = op(a[aOffset + i . aStrides], b[bOffset + i . bStrides]) for
 * every index i of `shape`; `out` is contiguous with `shape`. Broadcast dims have stride 0.
 */
export interface BinaryParams {
  op: BinaryOp;
  a: FloatArray;
  aOffset: number;
  aStrides: readonly number[];
  b: FloatArray;
  bOffset: number;
  bStrides: readonly number[];
  out: FloatArray;
  shape: readonly number[];
}

/** out[i] = cond[i] != 0 ? a[i] : b[i], all broadcast by strides like BinaryParams. */
export interface WhereParams {
  cond: FloatArray;
  condOffset: number;
  condStrides: readonly number[];
  a: FloatArray;
  aOffset: number;
  aStrides: readonly number[];
  b: FloatArray;
  bOffset: number;
  bStrides: readonly number[];
  out: FloatArray;
  shape: readonly number[];
}

/**
 * Fused scaled-dot-product attention, the shape every model here needs.
 * q: [B, H, Tq, D]; k, v: [B, KVH, Tk, D]; out: [B, H, Tq, D]; lse: [B, H, Tq] (log-sum-exp of
 * the scaled, masked scores, saved for the backward). All contiguous.
 * - GQA: query head h reads key/value head floor(h / (H / KVH)).
 * - causal: query i (0-based among Tq) sits at key position (Tk - Tq + i) and sees keys j <= it.
 * - keyMask: optional [B, Tk] (1 = real token, 0 = padding); masked keys get no weight.
 * - A query row with no visible key outputs zeros and lse = -Infinity (never NaN), so padding
 *   rows cannot poison real ones.
 * - kvCapacity (forward only, default Tk): k and v are [B, KVH, kvCapacity, D] buffers of which
 *   the first Tk positions are read — a preallocated KV cache attended without a copy.
 */
export interface AttentionParams {
  q: FloatArray;
  k: FloatArray;
  v: FloatArray;
  out: FloatArray;
  lse: FloatArray;
  B: number;
  H: number;
  KVH: number;
  Tq: number;
  Tk: number;
  D: number;
  scale: number;
  causal: boolean;
  keyMask: Uint8Array | null;
  /** forward only: positions allocated per (batch, kv head) in k and v (>= Tk; default Tk) */
  kvCapacity?: number;
}

/**
 * Backward of `attention` given its inputs, output and lse. gq/gk/gv are written (not
 * accumulated); shapes as in AttentionParams.
 */
export interface AttentionGradParams extends AttentionParams {
  gout: FloatArray;
  gq: FloatArray;
  gk: FloatArray;
  gv: FloatArray;
}

/**
 * Rotary position embedding on x: [B, H, T, D] (contiguous) -> out (same shape).
 * Only the first `rotaryDim` features of each head rotate; the rest are copied.
 * positions: [B, T] int32. cos/sin: [P, rotaryDim / 2] (f32 or f64 like x), row p holds the
 * angles of position p, so any frequency schedule or scaling is prepared by the caller.
 * 'half': pairs (i, i + rotaryDim/2); 'interleaved': pairs (2i, 2i + 1). For pair (x1, x2) and
 * angle a: (x1 cos a - x2 sin a, x2 cos a + x1 sin a). `inverse` rotates by -a (the backward).
 */
export interface RopeParams {
  x: FloatArray;
  out: FloatArray;
  B: number;
  H: number;
  T: number;
  D: number;
  rotaryDim: number;
  positions: Int32Array;
  cos: FloatArray;
  sin: FloatArray;
  layout: RopeLayout;
  inverse: boolean;
}

/** What `lmedit doctor` prints about a backend. */
export interface BackendInfo {
  name: 'native' | 'reference';
  /** e.g. "OpenBLAS 0.3.21 (cblas_sgemm)", "built-in kernels", "none (pure TypeScript)" */
  blas: string;
  /** "LAPACK (OpenBLAS)" or "built-in" */
  lapack: string;
  threads: number;
  /** e.g. "avx512f", "avx2+fma", "sse2", "n/a" */
  simd: string;
}

/** Result of a symmetric eigendecomposition: values ascending, vectors as columns. */
export interface EighResult {
  values: FloatArray;
  vectors: FloatArray;
}

/** Thin SVD of an m x n matrix, k = min(m, n): u [m, k], s [k] (descending), vt [k, n]. */
export interface SvdResult {
  u: FloatArray;
  s: FloatArray;
  vt: FloatArray;
}

/**
 * The kernel set. Sizes are element counts; all matrices row-major and contiguous unless the
 * parameters carry strides. Errors are thrown as `Error` with a message naming the kernel.
 */
export interface Backend {
  readonly name: 'native' | 'reference';
  info(): BackendInfo;

  // ---- memory -------------------------------------------------------------------------
  /** A zero-filled array of n elements of dtype. */
  alloc(dtype: DType, n: number): Storage;
  /**
   * Free the array's memory now where the backend can (the native backend detaches the
   * ArrayBuffer, releasing its memory immediately). The array must not be used afterwards.
   */
  release(buf: Storage): void;
  /**
   * Optional: storage whose contents are unspecified (a recycled buffer is not zeroed), for the
   * outputs of kernels that write every element. Backends without it fall back to alloc.
   */
  allocUninit?(dtype: DType, n: number): Storage;

  // ---- layout -------------------------------------------------------------------------
  copy(p: CopyParams): void;
  /** dst[offset .. offset + n) = value (converted to dtype). */
  fill(dst: Storage, dtype: DType, offset: number, n: number, value: number): void;

  // ---- matrix products ----------------------------------------------------------------
  gemm(p: GemmParams): void;

  // ---- elementwise --------------------------------------------------------------------
  /** out[i] = op(x[i]) for i < n (p0, p1: parameters of pow/clamp). */
  unary(op: UnaryOp, x: FloatArray, out: FloatArray, n: number, p0: number, p1: number): void;
  /** gx[i] = gy[i] * op'(x[i]) for i < n. */
  unaryGrad(op: UnaryOp, x: FloatArray, gy: FloatArray, gx: FloatArray, n: number, p0: number, p1: number): void;
  binary(p: BinaryParams): void;
  where(p: WhereParams): void;

  // ---- reductions ---------------------------------------------------------------------
  /** x viewed as [outer, size, inner]; out[o, i] = op over s of x[o, s, i]. size >= 1. */
  reduce(op: ReduceOp, x: FloatArray, out: FloatArray, outer: number, size: number, inner: number): void;
  /** Index of the first maximum along the middle axis, as reduce. NaN counts as maximal. */
  argmax(x: FloatArray, out: Int32Array, outer: number, size: number, inner: number): void;

  // ---- fused rows ---------------------------------------------------------------------
  /** Row-wise (log_)softmax of x [rows, cols]. Rows of all -Infinity give NaN like PyTorch. */
  softmax(x: FloatArray, out: FloatArray, rows: number, cols: number, log: boolean): void;
  /** Backward from the forward's output y: softmax gx = y (gy - sum(gy y)); log: gx = gy - exp(y) sum(gy). */
  softmaxGrad(y: FloatArray, gy: FloatArray, gx: FloatArray, rows: number, cols: number, log: boolean): void;
  /**
   * out = (x - mean) * rstd * w + b per row of x [rows, cols]; w/b may be null (1 / 0).
   * mean and rstd [rows] are written for the backward. rstd = 1 / sqrt(var + eps), biased var.
   */
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
  /** Writes gx; accumulates (+=) into gw and gb when they are given. */
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
  /** out = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps) per row; w may be null. */
  rmsNorm(x: FloatArray, w: FloatArray | null, out: FloatArray, rstd: FloatArray, rows: number, cols: number, eps: number): void;
  /** Writes gx; accumulates (+=) into gw when given. */
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

  // ---- indexing -----------------------------------------------------------------------
  /**
   * out[i, :] = table[ids[i], :] for a table [rows, cols] that may be a f16/bf16 weight.
   * Every id must be in [0, rows) (checked; throws naming the bad id).
   */
  indexSelect(table: WeightArray, tableDtype: WeightDType, rows: number, cols: number, ids: Int32Array, out: FloatArray): void;
  /** g[ids[i], :] += src[i, :] for g [rows, cols] (the backward of indexSelect). Ids checked. */
  indexAdd(src: FloatArray, ids: Int32Array, g: FloatArray, rows: number, cols: number): void;
  /** out[r, j] = x[r, idx[r, j]] for x [rows, cols], idx [rows, k]. Indices checked. */
  gather(x: FloatArray, idx: Int32Array, out: FloatArray, rows: number, cols: number, k: number): void;
  /** g[r, idx[r, j]] += src[r, j] (the backward of gather). Indices checked. */
  scatterAdd(src: FloatArray, idx: Int32Array, g: FloatArray, rows: number, cols: number, k: number): void;

  // ---- transformer blocks -------------------------------------------------------------
  rope(p: RopeParams): void;
  attention(p: AttentionParams): void;
  attentionGrad(p: AttentionGradParams): void;

  // ---- linear algebra (row-major, f32 or f64; inputs are not modified) ----------------
  /** Lower Cholesky factor L (upper triangle zero) of SPD a [n, n]; throws when not SPD. */
  cholesky(a: FloatArray, n: number, out: FloatArray): void;
  /** Solve A X = B for SPD A [n, n], B [n, nrhs]; writes X. Throws when not SPD. */
  solveSPD(a: FloatArray, b: FloatArray, n: number, nrhs: number, out: FloatArray): void;
  /** Solve A X = B for general square A (LU with partial pivoting). Throws when singular. */
  solve(a: FloatArray, b: FloatArray, n: number, nrhs: number, out: FloatArray): void;
  /** A^-1 of a general square matrix. Throws when singular. */
  inverse(a: FloatArray, n: number, out: FloatArray): void;
  /** Symmetric eigendecomposition (only the lower triangle of a is read). */
  eigh(a: FloatArray, n: number): EighResult;
  /** Thin SVD of a [m, n]. */
  svd(a: FloatArray, m: number, n: number): SvdResult;
}
