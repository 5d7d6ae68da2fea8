/**
 * Native-backend-specific checks of code paths the conformance suite does not reach by size:
 * GEMM dispatch (few-row GEMV kernels in both roles, f16/bf16 weights converted in several column
 * panels, leading dims BLAS rejects), long single-row reductions split across threads, in-place
 * rope, release() detaching, float64 attention against a naive loop. Skips without the addon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FloatArray, GemmParams, WeightArray, WeightDType } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from '../dtype.js';
import { drainBufferPool, loadNativeBackend, nativeLoadError, pooledBytes, withoutBufferPool } from './native.js';

const be = loadNativeBackend();
const skip = be === null ? `native backend not available: ${nativeLoadError() ?? '?'}` : false;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randF32(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

function gemmParams(o: Partial<GemmParams> & Pick<GemmParams, 'M' | 'N' | 'K' | 'a' | 'b' | 'c'>): GemmParams {
  return {
    transA: false,
    transB: false,
    alpha: 1,
    beta: 0,
    batch: 1,
    aOffset: 0,
    lda: o.transA ? o.M : o.K,
    aBatchStride: 0,
    bDtype: 'float32',
    bOffset: 0,
    ldb: o.transB ? o.K : o.N,
    bBatchStride: 0,
    cOffset: 0,
    ldc: o.N,
    cBatchStride: 0,
    ...o,
  };
}

/** Naive float64 C = alpha op(A) op(B) + beta C for one matrix (B decoded via `bv`). */
function naiveGemm(p: GemmParams, bv: (i: number) => number): Float64Array {
  const out = new Float64Array(p.M * p.N);
  for (let i = 0; i < p.M; i++)
    for (let j = 0; j < p.N; j++) {
      let s = 0;
      for (let k = 0; k < p.K; k++) {
        const a = p.transA ? p.a[p.aOffset + k * p.lda + i]! : p.a[p.aOffset + i * p.lda + k]!;
        const b = p.transB ? bv(p.bOffset + j * p.ldb + k) : bv(p.bOffset + k * p.ldb + j);
        s += a * b;
      }
      const c0 = p.beta === 0 ? 0 : p.beta * p.c[p.cOffset + i * p.ldc + j]!;
      out[i * p.N + j] = p.alpha * s + c0;
    }
  return out;
}

function assertClose(got: FloatArray, want: Float64Array, ldc: number, N: number, tol: number, what: string): void {
  const M = want.length / N;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      const g = got[i * ldc + j]!;
      const w = want[i * N + j]!;
      if (!(Math.abs(g - w) <= tol * (1 + Math.abs(w)))) assert.fail(`${what}: C[${i},${j}] = ${g}, want ${w} (tol ${tol})`);
    }
}

test('gemm: f16/bf16 weights over several conversion panels, both layouts, many rows', { skip }, () => {
  const r = rng(1);
  const M = 37;
  const K = 1600;
  const N = 2900; // > 2^21 / K columns per panel: three panels
  const a = randF32(M * K, r);
  for (const dt of ['float16', 'bfloat16'] as WeightDType[]) {
    const enc = dt === 'float16' ? numberToF16 : numberToBf16;
    const dec = dt === 'float16' ? f16ToNumber : bf16ToNumber;
    const b = new Uint16Array(K * N);
    for (let i = 0; i < b.length; i++) b[i] = enc(r() * 2 - 1);
    for (const transB of [false, true]) {
      const c = new Float32Array(M * N).fill(NaN);
      const p = gemmParams({ M, N, K, a, b, c, bDtype: dt, transB, alpha: 0.5 });
      be!.gemm(p);
      // check a sample of rows exactly against float64 (every column)
      const want = naiveGemm({ ...p, M: 3, a: a.subarray(0, 3 * K), c: new Float32Array(3 * N) }, (i) => dec(b[i]!));
      assertClose(c, want, N, N, 2e-5, `${dt} transB=${transB}`);
      const last = naiveGemm({ ...p, M: 1, a: a.subarray((M - 1) * K), c: new Float32Array(N) }, (i) => dec(b[i]!));
      assertClose(c.subarray((M - 1) * N), last, N, N, 2e-5, `${dt} transB=${transB} last row`);
    }
  }
});

test('gemm: N <= 8 (transposed GEMV roles) with f16 B, every transpose, beta != 0', { skip }, () => {
  const r = rng(2);
  const M = 301;
  const K = 77;
  for (const N of [1, 3, 8]) {
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const a = randF32(M * K, r);
        const b = new Uint16Array(K * N);
        for (let i = 0; i < b.length; i++) b[i] = numberToF16(r() * 2 - 1);
        const c = randF32(M * N, r);
        const p = gemmParams({ M, N, K, a, b, c, bDtype: 'float16', transA, transB, beta: -0.75, alpha: 1.25 });
        const want = naiveGemm(p, (i) => f16ToNumber(b[i]!));
        be!.gemm(p);
        assertClose(c, want, N, N, 2e-5, `N=${N} transA=${transA} transB=${transB}`);
      }
  }
});

test('gemm: M <= 8 GEMV path with offsets, padded leading dims and batch', { skip }, () => {
  const r = rng(3);
  for (const M of [1, 2, 5, 8])
    for (const transB of [false, true]) {
      const K = 203;
      const N = 517;
      const lda = K + 3;
      const ldb = (transB ? K : N) + 5;
      const ldc = N + 2;
      const batch = 3;
      const a = randF32(4 + batch * M * lda, r);
      const b = randF32(7 + (transB ? N : K) * ldb, r);
      const c = new Float32Array(1 + batch * M * ldc).fill(NaN);
      const p = gemmParams({ M, N, K, a, b, c, transB, lda, ldb, ldc, batch, aOffset: 4, bOffset: 7, cOffset: 1 });
      p.aBatchStride = M * lda;
      p.cBatchStride = M * ldc;
      be!.gemm(p);
      for (let bi = 0; bi < batch; bi++) {
        const pb = { ...p, aOffset: 4 + bi * M * lda, cOffset: 0 };
        const want = naiveGemm(pb, (i) => b[i]!);
        assertClose(c.subarray(1 + bi * M * ldc), want, ldc, N, 2e-5, `M=${M} transB=${transB} batch ${bi}`);
      }
    }
});

test('gemm: leading dims BLAS rejects (overlapping rows) fall back to the built-in kernel', { skip }, () => {
  const r = rng(4);
  const M = 40;
  const N = 50;
  const K = 30;
  const a = randF32(M * 10 + K, r); // lda = 10 < K: rows overlap
  const b = randF32(K * N, r);
  const c = new Float32Array(M * N);
  const p = gemmParams({ M, N, K, a, b, c, lda: 10 });
  be!.gemm(p);
  assertClose(
    c,
    naiveGemm(p, (i) => b[i]!),
    N,
    N,
    2e-5,
    'lda < K',
  );
  const p0 = gemmParams({ M, N, K, a, b, c: new Float32Array(M * N), lda: 0 }); // every row = row 0
  be!.gemm(p0);
  assertClose(
    p0.c,
    naiveGemm(p0, (i) => b[i]!),
    N,
    N,
    2e-5,
    'lda = 0',
  );
});

test('gemm: alpha = 0 gives beta C without reading A or B (BLAS semantics)', { skip }, () => {
  const M = 20;
  const N = 30;
  const K = 10;
  const a = new Float32Array(M * K).fill(NaN);
  const b = new Float32Array(K * N).fill(NaN);
  const c = new Float32Array(M * N).fill(2);
  be!.gemm(gemmParams({ M, N, K, a, b, c, alpha: 0, beta: 0.5 }));
  assert.ok(c.every((v) => v === 1));
  const c1 = new Float32Array(3 * 4).fill(NaN);
  be!.gemm(gemmParams({ M: 3, N: 4, K: 5, a: new Float32Array(15).fill(NaN), b: new Float32Array(20), c: c1, alpha: 0 }));
  assert.ok(c1.every((v) => v === 0));
});

test('gemm: float64 few-row and blocked paths', { skip }, () => {
  const r = rng(5);
  for (const M of [1, 6, 70]) {
    const K = 129;
    const N = 211;
    const a = Float64Array.from(randF32(M * K, r));
    const b = Float64Array.from(randF32(K * N, r));
    const c = new Float64Array(M * N).fill(NaN);
    const p = gemmParams({ M, N, K, a, b, c, bDtype: 'float64', transB: false });
    be!.gemm(p);
    assertClose(
      c,
      naiveGemm(p, (i) => b[i]!),
      N,
      N,
      1e-12,
      `f64 M=${M}`,
    );
  }
});

test('gemm: mismatched weight dtype is rejected with the kernel name', { skip }, () => {
  const p = gemmParams({
    M: 2,
    N: 2,
    K: 2,
    a: new Float32Array(4),
    b: new Float64Array(4) as WeightArray,
    c: new Float32Array(4),
    bDtype: 'float64',
  });
  assert.throws(() => be!.gemm(p), /^Error: gemm: b has dtype float64/);
  const q = gemmParams({ M: 3, N: 4, K: 4, a: new Float32Array(10), b: new Float32Array(16), c: new Float32Array(12) });
  assert.throws(() => be!.gemm(q), /gemm: a has 10 elements, needs 12 \(M=3, K=4, lda=4\)/);
});

test('reduce: one long row is split across threads (sum, max with NaN, min)', { skip }, () => {
  const n = 1_000_003;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (i % 7) - 3;
  const out = new Float32Array(1);
  be!.reduce('sum', x, out, 1, n, 1);
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i]!;
  assert.equal(out[0], s);
  x[n - 2] = 100;
  be!.reduce('max', x, out, 1, n, 1);
  assert.equal(out[0], 100);
  x[5] = NaN;
  be!.reduce('max', x, out, 1, n, 1);
  assert.ok(Number.isNaN(out[0]));
  be!.reduce('min', x, out, 1, n, 1);
  assert.ok(Number.isNaN(out[0]));
});

test('rope: in place (out === x) equals out of place', { skip }, () => {
  const r = rng(6);
  const B = 2;
  const H = 3;
  const T = 5;
  const D = 12;
  const rot = 8;
  const P = 16;
  const x = randF32(B * H * T * D, r);
  const cos = randF32(P * (rot / 2), r);
  const sin = randF32(P * (rot / 2), r);
  const positions = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % P);
  for (const layout of ['half', 'interleaved'] as const) {
    const out = new Float32Array(x.length);
    be!.rope({ x, out, B, H, T, D, rotaryDim: rot, positions, cos, sin, layout, inverse: false });
    const y = x.slice();
    be!.rope({ x: y, out: y, B, H, T, D, rotaryDim: rot, positions, cos, sin, layout, inverse: false });
    assert.deepEqual(y, out);
    // inverse undoes the rotation when cos^2 + sin^2 = 1
    const c2 = new Float32Array(cos.length);
    const s2 = new Float32Array(sin.length);
    for (let i = 0; i < c2.length; i++) {
      c2[i] = Math.cos(i);
      s2[i] = Math.sin(i);
    }
    const fwd = new Float32Array(x.length);
    const back = new Float32Array(x.length);
    be!.rope({ x, out: fwd, B, H, T, D, rotaryDim: rot, positions, cos: c2, sin: s2, layout, inverse: false });
    be!.rope({ x: fwd, out: back, B, H, T, D, rotaryDim: rot, positions, cos: c2, sin: s2, layout, inverse: true });
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i]! - x[i]!) < 1e-6);
  }
  const bad = Int32Array.from(positions);
  bad[3] = P;
  assert.throws(
    () =>
      be!.rope({
        x,
        out: new Float32Array(x.length),
        B,
        H,
        T,
        D,
        rotaryDim: rot,
        positions: bad,
        cos,
        sin,
        layout: 'half',
        inverse: false,
      }),
    /rope: position 16 at index 3 is out of range/,
  );
});

test('attention float64 (multi-block causal, GQA, Tq < Tk, mask) matches a naive loop', { skip }, () => {
  const r = rng(7);
  const B = 2;
  const H = 4;
  const KVH = 2;
  const Tq = 70;
  const Tk = 150;
  const D = 24;
  const scale = 0.37;
  const f = (n: number): Float64Array => Float64Array.from({ length: n }, () => r() * 2 - 1);
  const q = f(B * H * Tq * D);
  const k = f(B * KVH * Tk * D);
  const v = f(B * KVH * Tk * D);
  const keyMask = Uint8Array.from({ length: B * Tk }, (_, i) => (i % 11 === 3 ? 0 : 1));
  const out = new Float64Array(q.length).fill(NaN);
  const lse = new Float64Array(B * H * Tq).fill(NaN);
  be!.attention({ q, k, v, out, lse, B, H, KVH, Tq, Tk, D, scale, causal: true, keyMask });
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Tq; i += 7) {
        const kv = b * KVH + Math.floor(h / (H / KVH));
        const qi = ((b * H + h) * Tq + i) * D;
        const s: number[] = [];
        let m = -Infinity;
        for (let j = 0; j <= Tk - Tq + i; j++) {
          if (!keyMask[b * Tk + j]) continue;
          let d = 0;
          for (let c = 0; c < D; c++) d += q[qi + c]! * k[(kv * Tk + j) * D + c]!;
          s[j] = d * scale;
          m = Math.max(m, s[j]!);
        }
        let z = 0;
        const o = new Float64Array(D);
        for (let j = 0; j < s.length; j++) {
          if (s[j] === undefined) continue;
          const p = Math.exp(s[j]! - m);
          z += p;
          for (let c = 0; c < D; c++) o[c]! += p * v[(kv * Tk + j) * D + c]!;
        }
        assert.ok(Math.abs(lse[(b * H + h) * Tq + i]! - (m + Math.log(z))) < 1e-12);
        for (let c = 0; c < D; c++) assert.ok(Math.abs(out[qi + c]! - o[c]! / z) < 1e-12);
      }
});

test('release: small buffers are detached, large ones pooled and handed out again zeroed; views are ignored', { skip }, () => {
  drainBufferPool();
  const small = be!.alloc('float32', 1000) as Float32Array;
  be!.release(small);
  assert.equal(small.length, 0, 'a small buffer is freed at once');
  const a = be!.alloc('float32', 1 << 20) as Float32Array;
  const view = a.subarray(1, 5);
  be!.release(view);
  assert.equal(a.length, 1 << 20);
  a.fill(7);
  be!.release(a);
  assert.equal(pooledBytes(), 4 << 20, 'a large buffer is kept for reuse');
  const b = be!.alloc('float32', 1 << 20) as Float32Array;
  assert.equal(b, a, 'the same length gets the pooled buffer');
  assert.equal(pooledBytes(), 0);
  assert.ok(
    b.every((x) => x === 0),
    'a recycled buffer reads as zeros',
  );
  const c = be!.alloc('float64', 1 << 19) as Float64Array; // same bytes, other dtype: fresh
  assert.notEqual(c.buffer, a.buffer);
  be!.release(b);
  be!.release(c);
  assert.equal(drainBufferPool(), 8 << 20);
  assert.equal(a.length, 0, 'draining frees the buffers');
  assert.equal(pooledBytes(), 0);
  be!.release(a); // already detached: no-op
  const d = be!.alloc('float32', 1 << 20) as Float32Array;
  withoutBufferPool(() => be!.release(d));
  assert.equal(d.length, 0, 'withoutBufferPool frees at once');
  assert.equal(pooledBytes(), 0);
});

test('info describes the build', { skip }, () => {
  const info = be!.info();
  assert.equal(info.name, 'native');
  assert.ok(info.threads >= 1);
  assert.ok(info.blas.length > 0 && info.lapack.length > 0 && info.simd.length > 0);
});

test(
  'allocUninit hands out a pooled buffer as it is; op outputs built on poisoned recycled buffers are right',
  { skip },
  async () => {
    const T = await import('../index.js');
    drainBufferPool();
    const a = be!.alloc('float32', 1 << 18) as Float32Array;
    a.fill(5);
    be!.release(a);
    const b = be!.allocUninit!('float32', 1 << 18) as Float32Array;
    assert.equal(b, a, 'the pooled buffer comes back');
    assert.equal(b[123], 5, 'not zeroed');
    be!.release(b);
    drainBufferPool();
    // every op below writes a [R, C] output of 256 Ki floats; the pool holds NaN-filled buffers of that size
    const R = 256;
    const C = 1024;
    const poison = (): void => {
      for (let i = 0; i < 4; i++) {
        const t = T.Tensor.zeros([R, C]);
        (t.storage as Float32Array).fill(NaN);
        t.dispose();
      }
    };
    const rng = new T.Rng(7);
    const x = rng.normal([R, C]);
    const y = rng.normal([R, C]);
    const w = rng.normal([C, C], 0.05);
    const g = rng.normal([C]);
    const q = rng.normal([1, 4, R, 256]);
    const ops: [string, () => Tensor][] = [
      ['matmul', () => T.matmul(x, w)],
      ['gelu', () => T.gelu(x)],
      ['add', () => T.add(x, y)],
      ['where', () => T.where(T.gt(x, 0), x, y)],
      ['layerNorm', () => T.layerNorm(x, g, null, 1e-5)],
      ['rmsNorm', () => T.rmsNorm(x, g, 1e-5)],
      ['softmax', () => T.softmax(x, -1)],
      ['attention', () => T.reshape(T.attention(q, q, q), [R, C])],
    ];
    for (const [name, op] of ops) {
      poison();
      const got = T.noGrad(op);
      const want = T.withBackend('reference', () => T.noGrad(op));
      const ga = got.toArray();
      const wa = want.toArray();
      let worst = 0;
      for (let i = 0; i < ga.length; i++) worst = Math.max(worst, Math.abs(ga[i]! - wa[i]!));
      assert.ok(worst < 1e-3, `${name}: max |native − reference| ${worst}`);
      got.dispose();
      want.dispose();
    }
    drainBufferPool();
  },
);
