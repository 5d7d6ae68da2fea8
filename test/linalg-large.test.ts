/**
 * Native float64 Cholesky / solveSPD at n = 1500: residuals checked with random probe vectors
 * (O(n^2) per probe, so the check itself stays cheap).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend, nativeLoadError } from '../src/tensor/backends/native.js';

const native = loadNativeBackend();
const N = 1500;

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

/**
 * SPD test matrix: symmetric S with entries uniform(-1, 1) plus 60 I. The spectrum of S lies in
 * about +-2 sqrt(n / 3) = +-44.7, so A's eigenvalues are in about [15, 105]: SPD, cond ~ 7.
 */
function spd(n: number, rng: () => number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const v = 2 * rng() - 1;
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
    a[i * n + i] = 60 + (2 * rng() - 1);
  }
  return a;
}

/** y = M x for M [n, n] row-major (lowerOnly: treat M as lower triangular). */
function matvec(m: Float64Array, x: Float64Array, n: number, lowerOnly = false): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const end = lowerOnly ? i + 1 : n;
    for (let j = 0; j < end; j++) s += m[i * n + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}
/** y = M^T x for lower-triangular M. */
function matvecLowerT(m: Float64Array, x: Float64Array, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    for (let j = 0; j <= i; j++) y[j]! += m[i * n + j]! * xi;
  }
  return y;
}
const norm = (v: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
};

if (native === null) {
  const why = `native backend not available (nativeLoadError(): ${nativeLoadError() ?? 'no reason given'})`;
  if (process.env['LMEDIT_REQUIRE_NATIVE'] === '1')
    test('native backend loads (LMEDIT_REQUIRE_NATIVE=1)', () => assert.fail(why));
  else test(`native float64 linalg at n = ${N}`, { skip: why }, () => {});
} else {
  const be = native;
  const rng = mulberry32(0x1a29e);
  const a = spd(N, rng);
  const aCopy = a.slice();

  test(`native float64 cholesky n=${N}: L (L^T x) = A x for random probes, upper triangle zero`, () => {
    const L = new Float64Array(N * N).fill(NaN);
    be.cholesky(a, N, L);
    assert.deepEqual(Buffer.compare(Buffer.from(a.buffer), Buffer.from(aCopy.buffer)), 0, 'input modified');
    for (let i = 0; i < N; i++) {
      assert.ok(L[i * N + i]! > 0, `L[${i}][${i}] = ${L[i * N + i]}`);
      for (let j = i + 1; j < N; j++) if (L[i * N + j] !== 0) assert.fail(`upper L[${i}][${j}] = ${L[i * N + j]}`);
    }
    for (let probe = 0; probe < 3; probe++) {
      const x = Float64Array.from({ length: N }, () => 2 * rng() - 1);
      const lhs = matvec(L, matvecLowerT(L, x, N), N, true);
      const rhs = matvec(a, x, N);
      const r = norm(lhs.map((v, i) => v - rhs[i]!)) / norm(rhs);
      assert.ok(r < 1e-12, `|L L^T x - A x| / |A x| = ${r}`);
    }
  });

  test(`native float64 solveSPD n=${N}, nrhs=3: |A X - B| / |B| small`, () => {
    const nrhs = 3;
    const b = Float64Array.from({ length: N * nrhs }, () => 2 * rng() - 1);
    const bCopy = b.slice();
    const x = new Float64Array(N * nrhs).fill(NaN);
    be.solveSPD(a, b, N, nrhs, x);
    assert.deepEqual(Buffer.compare(Buffer.from(a.buffer), Buffer.from(aCopy.buffer)), 0, 'A modified');
    assert.deepEqual(Buffer.compare(Buffer.from(b.buffer), Buffer.from(bCopy.buffer)), 0, 'B modified');
    for (let c = 0; c < nrhs; c++) {
      const xc = Float64Array.from({ length: N }, (_, i) => x[i * nrhs + c]!);
      const bc = Float64Array.from({ length: N }, (_, i) => b[i * nrhs + c]!);
      const ax = matvec(a, xc, N);
      const r = norm(ax.map((v, i) => v - bc[i]!)) / norm(bc);
      assert.ok(r < 1e-12, `column ${c}: residual ${r}`);
    }
  });
}
