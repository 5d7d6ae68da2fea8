/**
 * Tests of the reference backend: hand-computed cases for every kernel, linear-algebra identities,
 * and gradients against central finite differences in float64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionParams, FloatArray, GemmParams, UnaryOp } from '../../backend.js';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from '../../dtype.js';
import { erf } from './elementwise.js';
import { referenceBackend as R } from './index.js';

// ---- helpers ------------------------------------------------------------------------------

/** Small seeded RNG (mulberry32) returning uniform numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform values in [-1, 1). */
function rand(rng: () => number, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => 2 * rng() - 1);
}

/** An output array filled with NaN, so unwritten elements show up. */
function poison(n: number): Float64Array {
  return new Float64Array(n).fill(NaN);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: expected NaN, got ${a}`);
      continue;
    }
    if (a === e) continue;
    const err = Math.abs(a - e);
    assert.ok(err <= tol * Math.max(1, Math.abs(e)), `${what}[${i}]: ${a} vs ${e} (err ${err}, tol ${tol})`);
  }
}

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Row-major C [m, n] = A [m, k] @ B [k, n] in doubles (for checking identities). */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += a[i * k + l]! * b[l * n + j]!;
      c[i * n + j] = s;
    }
  return c;
}

function transpose(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
}

function identity(n: number): Float64Array {
  const e = new Float64Array(n * n);
  for (let i = 0; i < n; i++) e[i * n + i] = 1;
  return e;
}

/** Central finite-difference gradient of f with respect to every element of x (restored after). */
function numericGrad(f: () => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const old = x[i]!;
    x[i] = old + h;
    const fp = f();
    x[i] = old - h;
    const fm = f();
    x[i] = old;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// ---- info, memory, layout -------------------------------------------------------------------

test('info and alloc', () => {
  assert.deepEqual(R.info(), {
    name: 'reference',
    blas: 'none (pure TypeScript)',
    lapack: 'built-in (TypeScript)',
    threads: 1,
    simd: 'n/a',
  });
  assert.equal(R.name, 'reference');
  assert.ok(R.alloc('float32', 3) instanceof Float32Array);
  assert.ok(R.alloc('float64', 3) instanceof Float64Array);
  assert.ok(R.alloc('bfloat16', 3) instanceof Uint16Array);
  assert.ok(R.alloc('int32', 3) instanceof Int32Array);
  assert.ok(R.alloc('uint8', 3) instanceof Uint8Array);
  assert.deepEqual(Array.from(R.alloc('float64', 4)), [0, 0, 0, 0]);
  R.release(R.alloc('float32', 2));
});

test('copy: strided transpose, offsets, dtype conversion', () => {
  // src [2, 3] = [[1, 2, 3], [4, 5, 6]] copied transposed into dst [3, 2] at offset 1.
  const src = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const dst = poison(7);
  R.copy({
    src,
    srcDtype: 'float64',
    srcOffset: 0,
    srcStrides: [1, 3],
    dst,
    dstDtype: 'float64',
    dstOffset: 1,
    dstStrides: [2, 1],
    shape: [3, 2],
    accumulate: false,
  });
  assert.deepEqual(Array.from(dst.subarray(1)), [1, 4, 2, 5, 3, 6]);
  assert.ok(Number.isNaN(dst[0]!));

  // float -> int truncates toward zero; float64 -> float16/bfloat16 rounds to nearest.
  const vals = Float64Array.from([2.7, -2.7, 1 / 3]);
  const ints = new Int32Array(3);
  R.copy({
    src: vals,
    srcDtype: 'float64',
    srcOffset: 0,
    srcStrides: [1],
    dst: ints,
    dstDtype: 'int32',
    dstOffset: 0,
    dstStrides: [1],
    shape: [3],
    accumulate: false,
  });
  assert.deepEqual(Array.from(ints), [2, -2, 0]);
  const half = new Uint16Array(3);
  R.copy({
    src: vals,
    srcDtype: 'float64',
    srcOffset: 0,
    srcStrides: [1],
    dst: half,
    dstDtype: 'float16',
    dstOffset: 0,
    dstStrides: [1],
    shape: [3],
    accumulate: false,
  });
  assert.deepEqual(Array.from(half), [numberToF16(2.7), numberToF16(-2.7), numberToF16(1 / 3)]);
  assert.equal(f16ToNumber(half[2]!), 0.333251953125);
  const back = poison(3);
  R.copy({
    src: half,
    srcDtype: 'float16',
    srcOffset: 0,
    srcStrides: [1],
    dst: back,
    dstDtype: 'float64',
    dstOffset: 0,
    dstStrides: [1],
    shape: [3],
    accumulate: false,
  });
  assert.deepEqual(Array.from(back), [2.69921875, -2.69921875, 0.333251953125]);
  const bf = new Uint16Array(1);
  R.copy({
    src: vals,
    srcDtype: 'float64',
    srcOffset: 2,
    srcStrides: [1],
    dst: bf,
    dstDtype: 'bfloat16',
    dstOffset: 0,
    dstStrides: [1],
    shape: [1],
    accumulate: false,
  });
  assert.equal(bf16ToNumber(bf[0]!), 0.333984375);

  // scalar shape [] copies one element
  const one = poison(1);
  R.copy({
    src: vals,
    srcDtype: 'float64',
    srcOffset: 1,
    srcStrides: [],
    dst: one,
    dstDtype: 'float64',
    dstOffset: 0,
    dstStrides: [],
    shape: [],
    accumulate: false,
  });
  assert.equal(one[0], -2.7);
});

test('copy: accumulate with stride-0 destination sums broadcast gradients', () => {
  // src [2, 3] summed over dim 0 into dst [3] (stride 0 on dim 0), added to existing values.
  const src = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const dst = Float64Array.from([10, 20, 30]);
  R.copy({
    src,
    srcDtype: 'float64',
    srcOffset: 0,
    srcStrides: [3, 1],
    dst,
    dstDtype: 'float64',
    dstOffset: 0,
    dstStrides: [0, 1],
    shape: [2, 3],
    accumulate: true,
  });
  assert.deepEqual(Array.from(dst), [15, 27, 39]);
  // float32 destination: summed in doubles, rounded once.
  const many = new Float64Array(1000).fill(0.1);
  const d32 = new Float32Array(1);
  R.copy({
    src: many,
    srcDtype: 'float64',
    srcOffset: 0,
    srcStrides: [1],
    dst: d32,
    dstDtype: 'float32',
    dstOffset: 0,
    dstStrides: [0],
    shape: [1000],
    accumulate: true,
  });
  let exact = 0;
  for (let i = 0; i < 1000; i++) exact += 0.1;
  assert.equal(d32[0], Math.fround(exact));
  assert.throws(
    () =>
      R.copy({
        src,
        srcDtype: 'float64',
        srcOffset: 0,
        srcStrides: [1],
        dst: new Int32Array(6),
        dstDtype: 'int32',
        dstOffset: 0,
        dstStrides: [1],
        shape: [6],
        accumulate: true,
      }),
    /copy: accumulate/,
  );
  assert.throws(
    () =>
      R.copy({
        src,
        srcDtype: 'float64',
        srcOffset: 4,
        srcStrides: [1],
        dst: poison(6),
        dstDtype: 'float64',
        dstOffset: 0,
        dstStrides: [1],
        shape: [6],
        accumulate: false,
      }),
    /copy: src/,
  );
  assert.throws(
    () =>
      R.copy({
        src,
        srcDtype: 'float32',
        srcOffset: 0,
        srcStrides: [1],
        dst: poison(6),
        dstDtype: 'float64',
        dstOffset: 0,
        dstStrides: [1],
        shape: [6],
        accumulate: false,
      }),
    /copy: src is a Float64Array, not float32 storage/,
  );
});

test('fill converts the value once per dtype', () => {
  const f = Float64Array.from([1, 2, 3, 4]);
  R.fill(f, 'float64', 1, 2, -0.5);
  assert.deepEqual(Array.from(f), [1, -0.5, -0.5, 4]);
  const h = new Uint16Array(3);
  R.fill(h, 'float16', 0, 3, 1.5);
  assert.deepEqual(Array.from(h), [0x3e00, 0x3e00, 0x3e00]);
  const b = new Uint16Array(2);
  R.fill(b, 'bfloat16', 0, 2, -2);
  assert.deepEqual(Array.from(b), [numberToBf16(-2), numberToBf16(-2)]);
  const i = new Int32Array(2);
  R.fill(i, 'int32', 0, 2, -3.9);
  assert.deepEqual(Array.from(i), [-3, -3]);
  assert.throws(() => R.fill(new Float32Array(2), 'float16', 0, 2, 1), /fill: dst/);
});

// ---- gemm -------------------------------------------------------------------------------------

function gemmParams(over: Partial<GemmParams> & Pick<GemmParams, 'M' | 'N' | 'K' | 'a' | 'b' | 'c'>): GemmParams {
  return {
    transA: false,
    transB: false,
    alpha: 1,
    beta: 0,
    batch: 1,
    aOffset: 0,
    lda: over.transA ? over.M : over.K,
    aBatchStride: 0,
    bDtype: 'float64',
    bOffset: 0,
    ldb: over.transB ? over.K : over.N,
    bBatchStride: 0,
    cOffset: 0,
    ldc: over.N,
    cBatchStride: 0,
    ...over,
  };
}

test('gemm: hand-computed product, transposes, alpha/beta', () => {
  // A [2, 3] = [[1, 2, 3], [4, 5, 6]], B [3, 2] = [[7, 8], [9, 10], [11, 12]]
  const a = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const b = Float64Array.from([7, 8, 9, 10, 11, 12]);
  const c = poison(4); // beta = 0 ignores NaN in C
  R.gemm(gemmParams({ M: 2, N: 2, K: 3, a, b, c }));
  assert.deepEqual(Array.from(c), [58, 64, 139, 154]);

  // Same product from A^T and B^T storage.
  const c2 = poison(4);
  R.gemm(gemmParams({ M: 2, N: 2, K: 3, a: transpose(a, 2, 3), b: transpose(b, 3, 2), c: c2, transA: true, transB: true }));
  assert.deepEqual(Array.from(c2), [58, 64, 139, 154]);

  // C = 2 A B + 0.5 C
  const c3 = Float64Array.from([2, 4, 6, 8]);
  R.gemm(gemmParams({ M: 2, N: 2, K: 3, a, b, c: c3, alpha: 2, beta: 0.5 }));
  assert.deepEqual(Array.from(c3), [117, 130, 281, 312]);

  // K = 0: C = beta C
  const c4 = Float64Array.from([1, 2]);
  R.gemm(gemmParams({ M: 1, N: 2, K: 0, a: new Float64Array(0), b: new Float64Array(0), c: c4, beta: 3 }));
  assert.deepEqual(Array.from(c4), [3, 6]);
});

test('gemm: batches, stride-0 batch, offsets and leading dimensions', () => {
  const rng = mulberry32(1);
  const [batch, M, N, K] = [3, 5, 7, 3];
  // A batches padded: lda = K + 2, batch stride M * (K + 2), offset 4.
  const lda = K + 2;
  const a = rand(rng, 4 + batch * M * lda);
  const b = rand(rng, K * N); // shared by all batches (stride 0)
  const ldc = N + 1;
  const c = poison(2 + batch * M * ldc);
  R.gemm(
    gemmParams({
      M,
      N,
      K,
      batch,
      a,
      aOffset: 4,
      lda,
      aBatchStride: M * lda,
      b,
      bBatchStride: 0,
      c,
      cOffset: 2,
      ldc,
      cBatchStride: M * ldc,
    }),
  );
  for (let bi = 0; bi < batch; bi++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[4 + bi * M * lda + i * lda + k]! * b[k * N + j]!;
        assert.ok(Math.abs(c[2 + bi * M * ldc + i * ldc + j]! - s) < 1e-15);
      }
  // Padding columns of C are untouched.
  assert.ok(Number.isNaN(c[2 + N]!));
});

test('gemm: float16/bfloat16 B, float32 output rounded once', () => {
  const a = Float32Array.from([1, 2]);
  const vals = [0.1, -3.3, 7.77, 0.5]; // B [2, 2]
  const b16 = Uint16Array.from(vals.map(numberToF16));
  const bbf = Uint16Array.from(vals.map(numberToBf16));
  const c = new Float32Array(2).fill(NaN);
  R.gemm(gemmParams({ M: 1, N: 2, K: 2, a, b: b16, bDtype: 'float16', c }));
  const d = vals.map((v) => f16ToNumber(numberToF16(v)));
  assert.deepEqual(Array.from(c), [Math.fround(d[0]! + 2 * d[2]!), Math.fround(d[1]! + 2 * d[3]!)]);
  R.gemm(gemmParams({ M: 1, N: 2, K: 2, a, b: bbf, bDtype: 'bfloat16', c }));
  const e = vals.map((v) => bf16ToNumber(numberToBf16(v)));
  assert.deepEqual(Array.from(c), [Math.fround(e[0]! + 2 * e[2]!), Math.fround(e[1]! + 2 * e[3]!)]);
  assert.throws(() => R.gemm(gemmParams({ M: 1, N: 2, K: 2, a, b: b16, bDtype: 'float32', c })), /gemm: weight/);
});

// ---- elementwise ------------------------------------------------------------------------------

test('erf matches known values', () => {
  const known: [number, number][] = [
    [0, 0],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [-3, -0.9999779095030014],
    [0.1, 0.1124629160182849],
    [2.9, 0.9999589021219005],
    [3.1, 0.9999883513426328],
    [5, 0.9999999999984626],
    [10, 1],
    [-Infinity, -1],
  ];
  for (const [x, e] of known) assert.ok(Math.abs(erf(x) - e) <= 1e-15 * Math.abs(e), `erf(${x}) = ${erf(x)} vs ${e}`);
  assert.ok(Number.isNaN(erf(NaN)));
  // odd symmetry
  for (const x of [0.3, 1.7, 2.5, 4.2]) assert.equal(erf(-x), -erf(x));
});

test('unary: hand-computed values', () => {
  const x = Float64Array.from([-2, -0.5, 0, 0.5, 2]);
  const run = (op: UnaryOp, p0 = 0, p1 = 0, input: FloatArray = x): number[] => {
    const out = poison(input.length);
    R.unary(op, input, out, input.length, p0, p1);
    return Array.from(out);
  };
  assert.deepEqual(run('neg'), [2, 0.5, -0, -0.5, -2]);
  assert.deepEqual(run('abs'), [2, 0.5, 0, 0.5, 2]);
  assert.deepEqual(run('sign'), [-1, -1, 0, 1, 1]);
  assert.deepEqual(run('relu'), [0, 0, 0, 0.5, 2]);
  assert.deepEqual(run('square'), [4, 0.25, 0, 0.25, 4]);
  assert.deepEqual(run('clamp', -1, 1), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(run('pow', 3), [-8, -0.125, 0, 0.125, 8]);
  assert.deepEqual(run('reciprocal'), [-0.5, -2, Infinity, 2, 0.5]);
  const pos = Float64Array.from([0.25, 1, 4]);
  assert.deepEqual(run('sqrt', 0, 0, pos), [0.5, 1, 2]);
  assert.deepEqual(run('rsqrt', 0, 0, pos), [2, 1, 0.5]);
  assert.deepEqual(run('log', 0, 0, Float64Array.from([1, Math.E, 0])), [0, 1, -Infinity]);
  assertClose(run('exp'), x.map(Math.exp), 0);
  assertClose(run('sigmoid'), [0.11920292202211755, 0.3775406687981454, 0.5, 0.6224593312018546, 0.8807970779778823], 1e-15);
  assertClose(run('silu'), [-0.2384058440442351, -0.1887703343990727, 0, 0.3112296656009273, 1.7615941559557646], 1e-15);
  // gelu_erf(x) = x Phi(x); Phi(0.5) = 0.6914624612740131, Phi(2) = 0.9772498680518208
  assertClose(
    run('gelu_erf'),
    [-2 * (1 - 0.9772498680518208), -0.5 * (1 - 0.6914624612740131), 0, 0.5 * 0.6914624612740131, 2 * 0.9772498680518208],
    1e-15,
  );
  // gelu_tanh(1) = 0.5 (1 + tanh(sqrt(2/pi) 1.044715)) = 0.8411919906082768
  assertClose(run('gelu_tanh', 0, 0, Float64Array.from([1, 0])), [0.8411919906082768, 0], 1e-15);
  assertClose(run('tanh'), x.map(Math.tanh), 0);
  assertClose(run('sin'), x.map(Math.sin), 0);
  assertClose(run('cos'), x.map(Math.cos), 0);
  // NaN propagation and C pow corner cases
  const specials = Float64Array.from([NaN]);
  assert.ok(Number.isNaN(run('relu', 0, 0, specials)[0]!));
  assert.ok(Number.isNaN(run('clamp', -1, 1, specials)[0]!));
  assert.deepEqual(run('pow', NaN, 0, Float64Array.from([1])), [1]);
  assert.deepEqual(run('pow', 0, 0, Float64Array.from([NaN])), [1]);
  // float32 output: one rounding of the double result
  const x32 = Float32Array.from([0.3, -1.7]);
  const o32 = new Float32Array(2);
  R.unary('exp', x32, o32, 2, 0, 0);
  assert.deepEqual(Array.from(o32), [Math.fround(Math.exp(x32[0]!)), Math.fround(Math.exp(x32[1]!))]);
});

test('unaryGrad: finite differences for every smooth op, conventions at kinks', () => {
  const ops: [UnaryOp, number, number][] = [
    ['neg', 0, 0],
    ['exp', 0, 0],
    ['log', 0, 0],
    ['sqrt', 0, 0],
    ['rsqrt', 0, 0],
    ['tanh', 0, 0],
    ['abs', 0, 0],
    ['sigmoid', 0, 0],
    ['relu', 0, 0],
    ['silu', 0, 0],
    ['gelu_tanh', 0, 0],
    ['gelu_erf', 0, 0],
    ['square', 0, 0],
    ['reciprocal', 0, 0],
    ['sin', 0, 0],
    ['cos', 0, 0],
    ['pow', 2.5, 0],
    ['pow', -1.5, 0],
    ['clamp', -0.4, 0.6],
    ['sign', 0, 0],
  ];
  // Points away from kinks; positive so that log/sqrt/pow are defined.
  const x = Float64Array.from([0.13, 0.71, 1.37, 2.9, 0.45, 0.9, 3.3]);
  const xs = Float64Array.from([-2.2, -0.77, -0.31, 0.13, 0.71, 1.37, 2.9]);
  const rng = mulberry32(7);
  for (const [op, p0, p1] of ops) {
    const input = op === 'log' || op === 'sqrt' || op === 'rsqrt' || op === 'pow' ? x : xs;
    const gy = rand(rng, input.length);
    const gx = poison(input.length);
    R.unaryGrad(op, input, gy, gx, input.length, p0, p1);
    const expected = input.map((xi, i) => {
      const f = (v: number): number => {
        const o = new Float64Array(1);
        R.unary(op, Float64Array.of(v), o, 1, p0, p1);
        return o[0]!;
      };
      return (gy[i]! * (f(xi + 1e-6) - f(xi - 1e-6))) / 2e-6;
    });
    assertClose(gx, expected, 1e-8, op);
  }
  const at = (op: UnaryOp, v: number, gy: number, p0 = 0, p1 = 0): number => {
    const gx = poison(1);
    R.unaryGrad(op, Float64Array.of(v), Float64Array.of(gy), gx, 1, p0, p1);
    return gx[0]!;
  };
  assert.equal(at('relu', 0, 5), 0);
  assert.equal(at('relu', -1, NaN), 0);
  assert.equal(at('abs', 0, 5), 0);
  assert.equal(at('abs', -2, 5), -5);
  assert.equal(at('sign', 1, NaN), 0);
  assert.equal(at('clamp', -1, 5, -1, 1), 5); // inclusive bounds
  assert.equal(at('clamp', 1, 5, -1, 1), 5);
  assert.equal(at('clamp', 1.01, 5, -1, 1), 0);
  assert.equal(at('pow', 0, 5, 0), 0); // exponent 0: zero gradient, not 0 * Infinity
  assert.equal(at('pow', 3, 2, 3), 54);
  assert.equal(at('sqrt', 4, 1), 0.25);
  assert.equal(at('gelu_erf', 0, 1), 0.5);
  assert.equal(at('gelu_tanh', 0, 1), 0.5);
});

test('binary: broadcast, pow, NaN-propagating maximum/minimum, comparisons', () => {
  // a [2, 3] + b [3] broadcast over rows
  const a = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const b = Float64Array.from([10, 20, 30]);
  const out = poison(6);
  R.binary({ op: 'add', a, aOffset: 0, aStrides: [3, 1], b, bOffset: 0, bStrides: [0, 1], out, shape: [2, 3] });
  assert.deepEqual(Array.from(out), [11, 22, 33, 14, 25, 36]);
  // a [2, 3] * column [2, 1] from an offset
  const col = Float64Array.from([99, 2, -1]);
  R.binary({ op: 'mul', a, aOffset: 0, aStrides: [3, 1], b: col, bOffset: 1, bStrides: [1, 0], out, shape: [2, 3] });
  assert.deepEqual(Array.from(out), [2, 4, 6, -4, -5, -6]);
  const ew = (op: Parameters<typeof R.binary>[0]['op'], x: number[], y: number[]): number[] => {
    const o = poison(x.length);
    R.binary({
      op,
      a: Float64Array.from(x),
      aOffset: 0,
      aStrides: [1],
      b: Float64Array.from(y),
      bOffset: 0,
      bStrides: [1],
      out: o,
      shape: [x.length],
    });
    return Array.from(o);
  };
  assert.deepEqual(ew('sub', [5, 1], [2, 3]), [3, -2]);
  assert.deepEqual(ew('div', [1, 1, -1], [4, 0, 0]), [0.25, Infinity, -Infinity]);
  assert.deepEqual(ew('pow', [2, 9, 1, -1, 4], [10, 0.5, NaN, Infinity, -0.5]), [1024, 3, 1, 1, 0.5]);
  assert.deepEqual(ew('maximum', [1, NaN, 3], [2, 0, NaN]), [2, NaN, NaN]);
  assert.deepEqual(ew('minimum', [1, NaN, 3], [2, 0, NaN]), [1, NaN, NaN]);
  assert.deepEqual(ew('eq', [1, 2, NaN], [1, 3, NaN]), [1, 0, 0]);
  assert.deepEqual(ew('ne', [1, 2, NaN], [1, 3, NaN]), [0, 1, 1]);
  assert.deepEqual(ew('lt', [1, 2, 3], [2, 2, 2]), [1, 0, 0]);
  assert.deepEqual(ew('le', [1, 2, 3], [2, 2, 2]), [1, 1, 0]);
  assert.deepEqual(ew('gt', [1, 2, 3], [2, 2, 2]), [0, 0, 1]);
  assert.deepEqual(ew('ge', [1, 2, 3], [2, 2, 2]), [0, 1, 1]);
  // scalar shape
  const s = poison(1);
  R.binary({
    op: 'mul',
    a: Float64Array.of(3),
    aOffset: 0,
    aStrides: [],
    b: Float64Array.of(4),
    bOffset: 0,
    bStrides: [],
    out: s,
    shape: [],
  });
  assert.equal(s[0], 12);
});

test('where: broadcast condition', () => {
  const cond = Float64Array.from([1, 0, 1]); // [3] broadcast over 2 rows
  const a = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const b = Float64Array.of(-1); // scalar broadcast
  const out = poison(6);
  R.where({
    cond,
    condOffset: 0,
    condStrides: [0, 1],
    a,
    aOffset: 0,
    aStrides: [3, 1],
    b,
    bOffset: 0,
    bStrides: [0, 0],
    out,
    shape: [2, 3],
  });
  assert.deepEqual(Array.from(out), [1, -1, 3, 4, -1, 6]);
});

// ---- reductions -------------------------------------------------------------------------------

test('reduce and argmax over the middle axis', () => {
  // x [2, 3, 2]
  const x = Float64Array.from([1, 6, 2, 5, 3, 4, -1, 0, -3, 7, -2, 7]);
  const out = poison(4);
  R.reduce('sum', x, out, 2, 3, 2);
  assert.deepEqual(Array.from(out), [6, 15, -6, 14]);
  R.reduce('max', x, out, 2, 3, 2);
  assert.deepEqual(Array.from(out), [3, 6, -1, 7]);
  R.reduce('min', x, out, 2, 3, 2);
  assert.deepEqual(Array.from(out), [1, 4, -3, 0]);
  const idx = new Int32Array(4).fill(-9);
  R.argmax(x, idx, 2, 3, 2);
  assert.deepEqual(Array.from(idx), [2, 0, 0, 1]); // first maximum on ties (7 at s = 1 and 2)
  const withNaN = Float64Array.from([1, NaN, 5, NaN]);
  const m = poison(1);
  R.reduce('max', withNaN, m, 1, 4, 1);
  assert.ok(Number.isNaN(m[0]!));
  const i1 = new Int32Array(1);
  R.argmax(withNaN, i1, 1, 4, 1);
  assert.equal(i1[0], 1); // first NaN counts as the maximum
});

// ---- fused rows -------------------------------------------------------------------------------

test('softmax and logSoftmax: values and all -Infinity rows', () => {
  const x = Float64Array.from([1, 2, 3, -Infinity, -Infinity, -Infinity]);
  const out = poison(6);
  R.softmax(x, out, 2, 3, false);
  assertClose(out, [0.09003057317038046, 0.24472847105479767, 0.6652409557748219, NaN, NaN, NaN], 1e-15);
  R.softmax(x, out, 2, 3, true);
  assertClose(out, [-2.4076059644443806, -1.4076059644443806, -0.4076059644443806, NaN, NaN, NaN], 1e-15);
  // masked entry with -Infinity gets probability 0
  const y = poison(3);
  R.softmax(Float64Array.from([0, -Infinity, 0]), y, 1, 3, false);
  assert.deepEqual(Array.from(y), [0.5, 0, 0.5]);
});

test('softmax/logSoftmax grads match finite differences', () => {
  const rng = mulberry32(11);
  const [rows, cols] = [3, 7];
  for (const log of [false, true]) {
    const x = rand(rng, rows * cols).map((v) => 3 * v);
    const G = rand(rng, rows * cols);
    const loss = (): number => {
      const y = new Float64Array(rows * cols);
      R.softmax(x, y, rows, cols, log);
      return dot(y, G);
    };
    const y = new Float64Array(rows * cols);
    R.softmax(x, y, rows, cols, log);
    const gx = poison(rows * cols);
    R.softmaxGrad(y, G, gx, rows, cols, log);
    assertClose(gx, numericGrad(loss, x), 1e-8, `softmaxGrad log=${log}`);
  }
});

test('layerNorm: values and grads against finite differences', () => {
  const out = poison(4);
  const mean = poison(2);
  const rstd = poison(2);
  R.layerNorm(Float64Array.from([1, 3, -2, 2]), null, null, out, mean, rstd, 2, 2, 0);
  assert.deepEqual(Array.from(out), [-1, 1, -1, 1]);
  assert.deepEqual(Array.from(mean), [2, 0]);
  assert.deepEqual(Array.from(rstd), [1, 0.5]);

  const rng = mulberry32(5);
  const [rows, cols, eps] = [5, 7, 1e-5];
  for (const affine of [true, false]) {
    const x = rand(rng, rows * cols);
    const w = affine ? rand(rng, cols) : null;
    const b = affine ? rand(rng, cols) : null;
    const G = rand(rng, rows * cols);
    const loss = (): number => {
      const y = new Float64Array(rows * cols);
      R.layerNorm(x, w, b, y, new Float64Array(rows), new Float64Array(rows), rows, cols, eps);
      return dot(y, G);
    };
    const m = new Float64Array(rows);
    const r = new Float64Array(rows);
    R.layerNorm(x, w, b, new Float64Array(rows * cols), m, r, rows, cols, eps);
    const gx = poison(rows * cols);
    const gw = affine ? Float64Array.from({ length: cols }, () => 1) : null; // accumulates onto 1
    const gb = affine ? Float64Array.from({ length: cols }, () => 1) : null;
    R.layerNormGrad(x, w, m, r, G, gx, gw, gb, rows, cols);
    assertClose(gx, numericGrad(loss, x), 1e-7, 'layerNorm gx');
    if (w && b && gw && gb) {
      assertClose(
        gw,
        numericGrad(loss, w).map((v) => v + 1),
        1e-7,
        'layerNorm gw',
      );
      assertClose(
        gb,
        numericGrad(loss, b).map((v) => v + 1),
        1e-7,
        'layerNorm gb',
      );
    }
  }
});

test('rmsNorm: values and grads against finite differences', () => {
  const out = poison(2);
  const rstd = poison(1);
  R.rmsNorm(Float64Array.from([3, 4]), Float64Array.from([1, 2]), out, rstd, 1, 2, 0);
  const rs = 1 / Math.sqrt(12.5);
  assertClose(out, [3 * rs, 8 * rs], 1e-15);
  assertClose(rstd, [rs], 1e-15);

  const rng = mulberry32(6);
  const [rows, cols, eps] = [3, 9, 1e-6];
  for (const affine of [true, false]) {
    const x = rand(rng, rows * cols);
    const w = affine ? rand(rng, cols) : null;
    const G = rand(rng, rows * cols);
    const loss = (): number => {
      const y = new Float64Array(rows * cols);
      R.rmsNorm(x, w, y, new Float64Array(rows), rows, cols, eps);
      return dot(y, G);
    };
    const r = new Float64Array(rows);
    R.rmsNorm(x, w, new Float64Array(rows * cols), r, rows, cols, eps);
    const gx = poison(rows * cols);
    const gw = affine ? new Float64Array(cols).fill(-2) : null;
    R.rmsNormGrad(x, w, r, G, gx, gw, rows, cols);
    assertClose(gx, numericGrad(loss, x), 1e-7, 'rmsNorm gx');
    if (w && gw)
      assertClose(
        gw,
        numericGrad(loss, w).map((v) => v - 2),
        1e-7,
        'rmsNorm gw',
      );
  }
});

// ---- indexing ---------------------------------------------------------------------------------

test('indexSelect with float and f16/bf16 tables, bounds checked', () => {
  const table = Float64Array.from([0, 1, 10, 11, 20, 21]); // [3, 2]
  const out = poison(6);
  R.indexSelect(table, 'float64', 3, 2, Int32Array.from([2, 0, 2]), out);
  assert.deepEqual(Array.from(out), [20, 21, 0, 1, 20, 21]);
  const vals = [0.1, -2.5, 1e-3, 3];
  const t16 = Uint16Array.from(vals.map(numberToF16));
  const o32 = new Float32Array(2).fill(NaN);
  R.indexSelect(t16, 'float16', 2, 2, Int32Array.from([1]), o32);
  assert.deepEqual(Array.from(o32), [Math.fround(f16ToNumber(t16[2]!)), 3]);
  const tbf = Uint16Array.from(vals.map(numberToBf16));
  const o64 = poison(2);
  R.indexSelect(tbf, 'bfloat16', 2, 2, Int32Array.from([0]), o64);
  assert.deepEqual(Array.from(o64), [bf16ToNumber(tbf[0]!), -2.5]);
  assert.throws(() => R.indexSelect(table, 'float64', 3, 2, Int32Array.from([0, 3]), out), /indexSelect: index 3 at position 1/);
  assert.throws(() => R.indexSelect(table, 'float64', 3, 2, Int32Array.from([-1]), out), /indexSelect: index -1/);
});

test('indexAdd, gather, scatterAdd', () => {
  const g = Float64Array.from([1, 1, 1, 1, 1, 1]); // [3, 2]
  R.indexAdd(Float64Array.from([1, 2, 3, 4, 5, 6]), Int32Array.from([2, 0, 2]), g, 3, 2);
  assert.deepEqual(Array.from(g), [4, 5, 1, 1, 7, 9]);
  assert.throws(() => R.indexAdd(Float64Array.of(1, 2), Int32Array.of(5), g, 3, 2), /indexAdd: index 5/);

  const x = Float64Array.from([10, 11, 12, 20, 21, 22]); // [2, 3]
  const idx = Int32Array.from([2, 0, 1, 1]); // [2, 2]
  const out = poison(4);
  R.gather(x, idx, out, 2, 3, 2);
  assert.deepEqual(Array.from(out), [12, 10, 21, 21]);
  assert.throws(() => R.gather(x, Int32Array.from([0, 3, 0, 0]), out, 2, 3, 2), /gather: index 3 at position 1/);

  const gs = new Float64Array(6);
  R.scatterAdd(Float64Array.from([1, 2, 3, 4]), idx, gs, 2, 3, 2);
  assert.deepEqual(Array.from(gs), [2, 0, 1, 0, 7, 0]);
  assert.throws(
    () => R.scatterAdd(Float64Array.from([1, 2, 3, 4]), Int32Array.from([0, 0, 0, -2]), gs, 2, 3, 2),
    /scatterAdd: index -2/,
  );
});

// ---- rope -------------------------------------------------------------------------------------

test('rope: half and interleaved pairing, partial rotary, inverse', () => {
  // One head, one token at position 1, D = 6, rotaryDim = 4 (two pairs), angles a0, a1.
  const [a0, a1] = [0.3, -1.1];
  const cos = Float64Array.from([1, 1, Math.cos(a0), Math.cos(a1)]); // [P = 2, 2]
  const sin = Float64Array.from([0, 0, Math.sin(a0), Math.sin(a1)]);
  const x = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const rot = (x1: number, x2: number, a: number): [number, number] => [
    x1 * Math.cos(a) - x2 * Math.sin(a),
    x2 * Math.cos(a) + x1 * Math.sin(a),
  ];
  const base = { B: 1, H: 1, T: 1, D: 6, rotaryDim: 4, positions: Int32Array.of(1), cos, sin, inverse: false };
  const half = poison(6);
  R.rope({ ...base, x, out: half, layout: 'half' });
  // pairs (0, 2) with a0 and (1, 3) with a1
  const [h0, h2] = rot(1, 3, a0);
  const [h1, h3] = rot(2, 4, a1);
  assertClose(half, [h0, h1, h2, h3, 5, 6], 1e-15);
  const inter = poison(6);
  R.rope({ ...base, x, out: inter, layout: 'interleaved' });
  // pairs (0, 1) with a0 and (2, 3) with a1
  assertClose(inter, [...rot(1, 2, a0), ...rot(3, 4, a1), 5, 6], 1e-15);
  // inverse undoes the rotation (in place: out aliases x)
  const y = Float64Array.from(inter);
  R.rope({ ...base, x: y, out: y, layout: 'interleaved', inverse: true });
  assertClose(y, x, 1e-15);
  // position 0 has angle 0: identity
  const id = poison(6);
  R.rope({ ...base, positions: Int32Array.of(0), x, out: id, layout: 'half' });
  assert.deepEqual(Array.from(id), Array.from(x));
  assert.throws(() => R.rope({ ...base, positions: Int32Array.of(2), x, out: id, layout: 'half' }), /rope: position 2/);
});

test('rope: batches, heads and per-batch positions', () => {
  const rng = mulberry32(3);
  const [B, H, T, D, rd, P] = [2, 3, 5, 6, 6, 9];
  const half = rd / 2;
  const angles = rand(rng, P * half).map((v) => 4 * v);
  const cos = angles.map(Math.cos);
  const sin = angles.map(Math.sin);
  const positions = Int32Array.from({ length: B * T }, () => Math.floor(rng() * P));
  const x = rand(rng, B * H * T * D);
  const out = poison(x.length);
  R.rope({ x, out, B, H, T, D, rotaryDim: rd, positions, cos, sin, layout: 'half', inverse: false });
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const o = ((b * H + h) * T + t) * D;
        const p = positions[b * T + t]!;
        for (let i = 0; i < half; i++) {
          const a = angles[p * half + i]!;
          const x1 = x[o + i]!;
          const x2 = x[o + i + half]!;
          assert.ok(Math.abs(out[o + i]! - (x1 * Math.cos(a) - x2 * Math.sin(a))) < 1e-15);
          assert.ok(Math.abs(out[o + i + half]! - (x2 * Math.cos(a) + x1 * Math.sin(a))) < 1e-15);
        }
      }
});

// ---- attention --------------------------------------------------------------------------------

/** Naive attention: scores, mask, softmax, weighted sum, one (b, h, i) row at a time. */
function naiveAttention(p: AttentionParams): { out: Float64Array; lse: Float64Array } {
  const { B, H, KVH, Tq, Tk, D } = p;
  const out = new Float64Array(B * H * Tq * D);
  const lse = new Float64Array(B * H * Tq);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kh = Math.floor((h * KVH) / H);
      for (let i = 0; i < Tq; i++) {
        const row = (b * H + h) * Tq + i;
        const scores: number[] = [];
        for (let j = 0; j < Tk; j++) {
          const hidden = (p.causal && j > Tk - Tq + i) || (p.keyMask !== null && p.keyMask[b * Tk + j] === 0);
          let s = 0;
          for (let d = 0; d < D; d++) s += p.q[row * D + d]! * p.k[((b * KVH + kh) * Tk + j) * D + d]!;
          scores.push(hidden ? -Infinity : s * p.scale);
        }
        const m = Math.max(...scores);
        if (m === -Infinity) {
          lse[row] = -Infinity;
          continue;
        }
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, c) => a + c, 0);
        lse[row] = m + Math.log(z);
        for (let j = 0; j < Tk; j++)
          for (let d = 0; d < D; d++)
            out[row * D + d] = out[row * D + d]! + (e[j]! / z) * p.v[((b * KVH + kh) * Tk + j) * D + d]!;
      }
    }
  return { out, lse };
}

function attentionCase(
  seed: number,
  B: number,
  H: number,
  KVH: number,
  Tq: number,
  Tk: number,
  D: number,
  causal: boolean,
  masked: boolean,
): AttentionParams {
  const rng = mulberry32(seed);
  let keyMask: Uint8Array | null = null;
  if (masked) {
    keyMask = Uint8Array.from({ length: B * Tk }, () => (rng() < 0.7 ? 1 : 0));
    keyMask.fill(0, 0, Tk); // batch 0: every key padded -> fully masked rows
    keyMask[Tk] = 1; // batch 1 keeps at least its first key
  }
  return {
    q: rand(rng, B * H * Tq * D),
    k: rand(rng, B * KVH * Tk * D),
    v: rand(rng, B * KVH * Tk * D),
    out: poison(B * H * Tq * D),
    lse: poison(B * H * Tq),
    B,
    H,
    KVH,
    Tq,
    Tk,
    D,
    scale: 1 / Math.sqrt(D),
    causal,
    keyMask,
  };
}

const attentionConfigs: [string, Parameters<typeof attentionCase>][] = [
  ['plain MHA', [21, 1, 2, 2, 5, 5, 3, false, false]],
  ['GQA causal Tq < Tk', [22, 2, 6, 2, 3, 7, 5, true, false]],
  ['MQA causal + padding', [23, 2, 3, 1, 5, 5, 3, true, true]],
  ['GQA padding, Tq != Tk', [24, 2, 4, 2, 3, 6, 4, false, true]],
  ['causal Tq > Tk (leading rows see nothing)', [25, 1, 2, 1, 5, 3, 3, true, false]],
];

test('attention forward matches a naive composition', () => {
  for (const [name, args] of attentionConfigs) {
    const p = attentionCase(...args);
    R.attention(p);
    const ref = naiveAttention(p);
    assertClose(p.out, ref.out, 1e-14, `${name} out`);
    assertClose(p.lse, ref.lse, 1e-14, `${name} lse`);
    for (let i = 0; i < p.lse.length; i++) {
      assert.ok(!Number.isNaN(p.lse[i]!), `${name}: lse NaN`);
      if (p.lse[i] === -Infinity) for (let d = 0; d < p.D; d++) assert.equal(p.out[i * p.D + d], 0);
    }
  }
  // The masked configuration really has fully masked rows.
  const p = attentionCase(...attentionConfigs[2]![1]);
  R.attention(p);
  assert.equal(p.lse[0], -Infinity);
  assert.deepEqual(Array.from(p.out.subarray(0, p.D)), new Array(p.D).fill(0));
});

test('attention backward matches central finite differences', () => {
  for (const [name, args] of attentionConfigs) {
    const p = attentionCase(...args);
    const rng = mulberry32(99);
    const G = rand(rng, p.out.length);
    const loss = (): number => {
      const out = new Float64Array(p.out.length);
      R.attention({ ...p, out, lse: new Float64Array(p.lse.length) });
      return dot(out, G);
    };
    R.attention(p);
    const gq = poison(p.q.length);
    const gk = poison(p.k.length);
    const gv = poison(p.v.length);
    R.attentionGrad({ ...p, gout: G, gq, gk, gv });
    assertClose(gq, numericGrad(loss, p.q as Float64Array), 1e-8, `${name} gq`);
    assertClose(gk, numericGrad(loss, p.k as Float64Array), 1e-8, `${name} gk`);
    assertClose(gv, numericGrad(loss, p.v as Float64Array), 1e-8, `${name} gv`);
  }
});

test('attention float32 agrees with float64 and checks its shapes', () => {
  const p = attentionCase(31, 1, 4, 2, 3, 4, 5, true, false);
  R.attention(p);
  const out32 = new Float32Array(p.out.length);
  const lse32 = new Float32Array(p.lse.length);
  R.attention({ ...p, q: Float32Array.from(p.q), k: Float32Array.from(p.k), v: Float32Array.from(p.v), out: out32, lse: lse32 });
  assertClose(out32, p.out, 1e-6, 'f32 out');
  assertClose(lse32, p.lse, 1e-6, 'f32 lse');
  assert.throws(() => R.attention({ ...p, KVH: 3 }), /attention: H = 4 is not a multiple of KVH = 3/);
});

// ---- linear algebra ---------------------------------------------------------------------------

const SIZES = [1, 2, 7, 33, 64];

function randomSPD(rng: () => number, n: number): Float64Array {
  const m = rand(rng, n * n);
  const a = matmul(m, transpose(m, n, n), n, n, n);
  for (let i = 0; i < n; i++) a[i * n + i] = a[i * n + i]! + n;
  return a;
}

test('cholesky: L L^T = A, L lower triangular; hand case', () => {
  const L2 = poison(4);
  R.cholesky(Float64Array.from([4, 2, 2, 10]), 2, L2);
  assert.deepEqual(Array.from(L2), [2, 0, 1, 3]);
  const rng = mulberry32(41);
  for (const n of SIZES) {
    const a = randomSPD(rng, n);
    const L = poison(n * n);
    R.cholesky(a, n, L);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(L[i * n + j], 0);
    assertClose(matmul(L, transpose(L, n, n), n, n, n), a, 1e-12 * n, `cholesky n=${n}`);
  }
});

test('solveSPD and solve: small residuals', () => {
  const rng = mulberry32(42);
  for (const n of SIZES) {
    for (const nrhs of [1, 3]) {
      const a = randomSPD(rng, n);
      const b = rand(rng, n * nrhs);
      const x = poison(n * nrhs);
      R.solveSPD(a, b, n, nrhs, x);
      assertClose(matmul(a, x, n, n, nrhs), b, 1e-12 * n, `solveSPD n=${n}`);
      const g = rand(rng, n * n); // general (non-symmetric) matrix
      const y = poison(n * nrhs);
      R.solve(g, b, n, nrhs, y);
      assertClose(matmul(g, y, n, n, nrhs), b, 1e-11 * n * Math.max(1, maxAbs(y)), `solve n=${n}`);
    }
  }
  const x = poison(2);
  R.solve(Float64Array.from([0, 2, 3, 0]), Float64Array.from([4, 9]), 2, 1, x); // needs pivoting
  assert.deepEqual(Array.from(x), [3, 2]);
});

test('inverse: A A^-1 = I', () => {
  const rng = mulberry32(43);
  for (const n of SIZES) {
    const a = rand(rng, n * n);
    const inv = poison(n * n);
    R.inverse(a, n, inv);
    assertClose(matmul(a, inv, n, n, n), identity(n), 1e-11 * n * Math.max(1, maxAbs(inv)), `inverse n=${n}`);
  }
  const inv2 = poison(4);
  R.inverse(Float64Array.from([2, 0, 0, 4]), 2, inv2);
  assert.deepEqual(Array.from(inv2), [0.5, 0, 0, 0.25]);
});

test('linear algebra errors: not SPD, singular', () => {
  const notSPD = Float64Array.from([1, 2, 2, 1]);
  const out = poison(4);
  assert.throws(() => R.cholesky(notSPD, 2, out), /cholesky: matrix is not symmetric positive definite/);
  assert.throws(
    () => R.solveSPD(notSPD, Float64Array.of(1, 1), 2, 1, out),
    /solveSPD: matrix is not symmetric positive definite/,
  );
  assert.throws(() => R.cholesky(Float64Array.from([1, NaN, NaN, 1]), 2, out), /not symmetric positive definite/);
  const singular = Float64Array.from([1, 2, 2, 4]);
  assert.throws(() => R.solve(singular, Float64Array.of(1, 1), 2, 1, out), /solve: matrix is singular/);
  assert.throws(() => R.inverse(singular, 2, out), /inverse: matrix is singular/);
  assert.throws(() => R.inverse(new Float64Array(9), 3, poison(9)), /inverse: matrix is singular/);
});

test('eigh: A V = V diag(w), V^T V = I, ascending; lower triangle only', () => {
  const small = R.eigh(Float64Array.from([2, 999, 1, 2]), 2); // upper triangle ignored
  assertClose(small.values, [1, 3], 1e-15);
  const v0 = [small.vectors[0]!, small.vectors[2]!]; // first column
  assertClose([Math.abs(v0[0]!), Math.abs(v0[1]!)], [Math.SQRT1_2, Math.SQRT1_2], 1e-15);
  assert.ok(v0[0]! * v0[1]! < 0);

  const rng = mulberry32(44);
  for (const n of SIZES) {
    const m = rand(rng, n * n);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = m[i * n + j]!;
    const { values, vectors } = R.eigh(a, n);
    assert.ok(values instanceof Float64Array && vectors instanceof Float64Array);
    for (let i = 1; i < n; i++) assert.ok(values[i - 1]! <= values[i]!, 'ascending');
    const av = matmul(a, vectors, n, n, n);
    const vw = Float64Array.from(vectors, (x, idx) => x * values[idx % n]!);
    assertClose(av, vw, 1e-12 * n, `eigh AV n=${n}`);
    assertClose(matmul(transpose(vectors, n, n), vectors, n, n, n), identity(n), 1e-13 * n, `eigh VtV n=${n}`);
  }
  // repeated eigenvalues still give an orthonormal basis
  const rep = R.eigh(identity(7), 7);
  assertClose(rep.values, new Float64Array(7).fill(1), 0);
  assertClose(rep.vectors, identity(7), 0);
  const f32 = R.eigh(Float32Array.from([2, 0, 1, 2]), 2);
  assert.ok(f32.values instanceof Float32Array && f32.vectors instanceof Float32Array);
});

function checkSvd(a: Float64Array, m: number, n: number, what: string): void {
  const k = Math.min(m, n);
  const { u, s, vt } = R.svd(a, m, n);
  assert.equal(u.length, m * k);
  assert.equal(s.length, k);
  assert.equal(vt.length, k * n);
  for (let i = 0; i < k; i++) assert.ok(s[i]! >= 0, `${what}: s >= 0`);
  for (let i = 1; i < k; i++) assert.ok(s[i - 1]! >= s[i]!, `${what}: s descending`);
  const us = Float64Array.from(u, (x, idx) => x * s[idx % k]!);
  const scale = Math.max(1, maxAbs(a));
  assertClose(matmul(us, vt, m, k, n), a, 1e-13 * (m + n) * scale, `${what}: U S Vt = A`);
  assertClose(matmul(transpose(u, m, k), u, k, m, k), identity(k), 1e-13 * (m + n), `${what}: UtU = I`);
  assertClose(matmul(vt, transpose(vt, k, n), k, n, k), identity(k), 1e-13 * (m + n), `${what}: V Vt = I`);
}

test('svd: tall, wide and square matrices', () => {
  const hand = R.svd(Float64Array.from([3, 0, 0, -4]), 2, 2);
  assertClose(hand.s, [4, 3], 1e-15);
  const rng = mulberry32(45);
  for (const n of SIZES) checkSvd(rand(rng, n * n), n, n, `square ${n}`);
  for (const [m, n] of [
    [33, 7],
    [64, 33],
    [7, 1],
    [2, 1],
    [7, 33],
    [33, 64],
    [1, 7],
    [1, 2],
  ] as const) {
    checkSvd(rand(rng, m * n), m, n, `${m}x${n}`);
  }
  // singular values squared are the eigenvalues of A^T A
  const a = rand(rng, 9 * 5);
  const { s } = R.svd(a, 9, 5);
  const w = R.eigh(matmul(transpose(a, 9, 5), a, 5, 9, 5), 5).values;
  assertClose(Array.from(s, (x) => x * x).reverse(), w, 1e-13);
});

test('svd: rank-deficient input still gives orthonormal factors', () => {
  checkSvd(new Float64Array(12), 4, 3, 'zero 4x3');
  checkSvd(new Float64Array(12), 3, 4, 'zero 3x4');
  // rank one: outer product
  const rng = mulberry32(46);
  const x = rand(rng, 7);
  const y = rand(rng, 5);
  const a = Float64Array.from({ length: 35 }, (_, i) => x[Math.floor(i / 5)]! * y[i % 5]!);
  checkSvd(a, 7, 5, 'rank-1 7x5');
  checkSvd(transpose(a, 7, 5), 5, 7, 'rank-1 5x7');
  // duplicate columns
  const d = rand(rng, 6 * 3);
  const dup = new Float64Array(6 * 4);
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 3; j++) dup[i * 4 + j] = d[i * 3 + j]!;
    dup[i * 4 + 3] = d[i * 3]!;
  }
  checkSvd(dup, 6, 4, 'duplicate column');
});

test('float32 linear algebra outputs keep the input type', () => {
  const rng = mulberry32(47);
  const n = 7;
  const a = Float32Array.from(randomSPD(rng, n));
  const L = new Float32Array(n * n);
  R.cholesky(a, n, L);
  assertClose(matmul(L, transpose(L, n, n), n, n, n), a, 1e-5 * n);
  const { u, s, vt } = R.svd(Float32Array.from(rand(rng, 15)), 5, 3);
  assert.ok(u instanceof Float32Array && s instanceof Float32Array && vt instanceof Float32Array);
});
