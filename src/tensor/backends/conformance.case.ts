/**
 * Backend conformance suite: runs every kernel of the `Backend` interface on a candidate backend
 * and on an oracle backend (normally the reference backend, in float64) with the same seeded
 * random inputs and compares.
 *
 * Usage (from a *.test.ts file): `runConformance(candidate, oracle, { skip: { gemm: 'why' } })`.
 * A skip key is either a kernel group name (e.g. "gemm") or a full test id ("gemm: 3x5x7 …");
 * every skip must carry a reason, and unknown keys fail the suite (no stale skips).
 *
 * Every test derives its seed from LMEDIT_TEST_SEED (default 0x1eed5eed) and its id; failure
 * messages print both, so `LMEDIT_TEST_SEED=<base> node --import tsx --test FILE` reproduces.
 *
 * Conventions used throughout:
 * - Candidate outputs are poisoned (NaN for floats, sentinel values for ints / regions that must
 *   stay untouched) before each call, so unwritten elements are caught.
 * - Inputs are snapshotted byte-for-byte before each candidate call and checked afterwards.
 * - The candidate runs in float32 (and float64 for a subset) while the oracle runs in float64 on
 *   the very same (float32-representable) values; the oracle's result is rounded to float32
 *   before comparing. Tolerances are stated per kernel as `rtol * |want| + atol * max|want|`.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type {
  Backend,
  BinaryOp,
  DType,
  FloatArray,
  GemmParams,
  ReduceOp,
  RopeLayout,
  Storage,
  UnaryOp,
  WeightArray,
  WeightDType,
} from '../backend.js';
import {
  DTYPES,
  bf16ToNumber,
  f16ToNumber,
  numberToBf16,
  numberToF16,
  readElement,
  storageMatches,
  writeElement,
} from '../dtype.js';

export interface ConformanceOptions {
  /** kernel group name or full test id -> reason for skipping it */
  skip?: Record<string, string>;
}

// =============================================================================================
// Random numbers, arrays, comparisons
// =============================================================================================

type Rng = () => number;
type CDT = 'float32' | 'float64';

function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const ENV_SEED = process.env['LMEDIT_TEST_SEED'];
const BASE_SEED = ENV_SEED !== undefined && ENV_SEED !== '' ? Number(ENV_SEED) >>> 0 : 0x1eed5eed;

const fr = Math.fround;
const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng();
const randInt = (rng: Rng, lo: number, hiExcl: number): number => lo + Math.floor(rng() * (hiExcl - lo));
function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
/** n float32-representable values uniform in [lo, hi). */
function fvals(rng: Rng, n: number, lo: number, hi: number): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = fr(uniform(rng, lo, hi));
  return v;
}
/** n small integers in [lo, hi] as floats (exact in every float dtype we use). */
function ivals(rng: Rng, n: number, lo: number, hi: number): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = randInt(rng, lo, hi + 1);
  return v;
}
function mk(dt: CDT, v: ArrayLike<number>): FloatArray {
  return dt === 'float32' ? Float32Array.from(v) : Float64Array.from(v);
}
function nans(dt: CDT, n: number): FloatArray {
  const a = dt === 'float32' ? new Float32Array(n) : new Float64Array(n);
  a.fill(NaN);
  return a;
}
function shuffle<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randInt(rng, 0, i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}
const prod = (s: readonly number[]): number => s.reduce((x, y) => x * y, 1);
function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i]!);
    if (Number.isFinite(x) && x > m) m = x;
  }
  return m;
}

function bytesOf(s: Storage): Uint8Array {
  return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
}

/** Snapshots inputs; the returned function asserts they are byte-for-byte unchanged. */
function guard(inputs: Record<string, Storage | null>): (what: string) => void {
  const snaps: [string, Storage, Uint8Array][] = [];
  for (const [k, v] of Object.entries(inputs)) if (v !== null) snaps.push([k, v, bytesOf(v).slice()]);
  return (what) => {
    for (const [k, v, snap] of snaps) {
      const now = bytesOf(v);
      if (now.length !== snap.length || Buffer.compare(now, snap) !== 0)
        assert.fail(`${what}: input '${k}' was modified by the call`);
    }
  };
}

interface Tol {
  rtol: number;
  /** relative to max |want| over the finite wanted values */
  atol: number;
}

/**
 * Elementwise comparison. NaN must match NaN, +-Infinity must match exactly; a Float32Array
 * `got` is compared against want rounded to float32. `tol` is either a Tol or per-element limits.
 */
function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: Tol | ArrayLike<number>,
  what: string,
  atolScale?: number,
): void {
  assert.equal(got.length, want.length, `${what}: length ${got.length} vs ${want.length}`);
  const round = got instanceof Float32Array;
  const per = !('rtol' in tol) ? (tol as ArrayLike<number>) : null;
  const t = 'rtol' in tol ? (tol as Tol) : { rtol: 0, atol: 0 };
  const scale = per ? 0 : Math.max(maxAbs(want), atolScale ?? 0);
  let bad = 0;
  let worst = 0;
  const msgs: string[] = [];
  for (let i = 0; i < got.length; i++) {
    let w = want[i]!;
    if (round) w = fr(w);
    const g = got[i]!;
    let ok: boolean;
    let lim = 0;
    if (Number.isNaN(w)) ok = Number.isNaN(g);
    else if (!Number.isFinite(w)) ok = g === w;
    else if (!Number.isFinite(g)) ok = false;
    else {
      lim = per ? per[i]! : t.rtol * Math.abs(w) + t.atol * scale;
      const e = Math.abs(g - w);
      ok = e <= lim;
      if (!ok && lim > 0) worst = Math.max(worst, e / lim);
    }
    if (!ok) {
      bad++;
      if (msgs.length < 6) msgs.push(`[${i}] got ${g} want ${w}${lim > 0 ? ` (limit ${lim.toExponential(2)})` : ''}`);
    }
  }
  if (bad > 0) {
    const tolText = per ? 'per-element limits' : `rtol ${t.rtol}, atol ${t.atol} x max|want| ${scale.toExponential(3)}`;
    assert.fail(
      `${what}: ${bad}/${got.length} elements differ (${tolText}${worst > 0 ? `, worst ${worst.toFixed(1)}x limit` : ''}): ${msgs.join('; ')}`,
    );
  }
}

const EXACT: Tol = { rtol: 0, atol: 0 };

/** Exact storage equality (bit patterns), except that any NaN matches any NaN. */
function assertSameStorage(dtype: DType, got: Storage, want: Storage, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let bad = 0;
  const msgs: string[] = [];
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    let ok: boolean;
    if (dtype === 'float16' || dtype === 'bfloat16') {
      const gv = readElement(dtype, got, i);
      const wv = readElement(dtype, want, i);
      ok = (Number.isNaN(gv) && Number.isNaN(wv)) || g === w;
    } else if (dtype === 'float32' || dtype === 'float64') {
      ok = (Number.isNaN(g) && Number.isNaN(w)) || Object.is(g, w);
    } else ok = g === w;
    if (!ok) {
      bad++;
      if (msgs.length < 6) {
        const fmt = (x: number): string =>
          dtype === 'float16' || dtype === 'bfloat16'
            ? `0x${x.toString(16)} (${readElement(dtype, new Uint16Array([x]), 0)})`
            : String(x);
        msgs.push(`[${i}] got ${fmt(g)} want ${fmt(w)}`);
      }
    }
  }
  if (bad > 0) assert.fail(`${what}: ${bad}/${got.length} elements differ: ${msgs.join('; ')}`);
}

function assertNoNaN(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i]!)) assert.fail(`${what}: NaN at [${i}]`);
}

function assertThrowsNaming(fn: () => void, kernel: string, what: string, alsoMentions?: string): void {
  let threw: unknown = undefined;
  let did = false;
  try {
    fn();
  } catch (e) {
    did = true;
    threw = e;
  }
  if (!did) assert.fail(`${what}: expected ${kernel} to throw, it returned normally`);
  if (!(threw instanceof Error)) assert.fail(`${what}: ${kernel} threw a non-Error: ${String(threw)}`);
  assert.ok(
    threw.message.includes(kernel),
    `${what}: error message should name the kernel '${kernel}': ${JSON.stringify(threw.message)}`,
  );
  if (alsoMentions !== undefined)
    assert.ok(
      threw.message.includes(alsoMentions),
      `${what}: error message should mention '${alsoMentions}': ${JSON.stringify(threw.message)}`,
    );
}

function forEachIndex(shape: readonly number[], cb: (idx: number[]) => void): void {
  const r = shape.length;
  if (shape.some((d) => d === 0)) return;
  const idx = new Array<number>(r).fill(0);
  for (;;) {
    cb(idx);
    let d = r - 1;
    while (d >= 0) {
      idx[d]!++;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}
const dot = (idx: readonly number[], st: readonly number[]): number => {
  let s = 0;
  for (let i = 0; i < idx.length; i++) s += idx[i]! * st[i]!;
  return s;
};

/** A strided operand: storage values, offset, strides; storage elements never read are NaN. */
interface Operand {
  vals: Float64Array;
  offset: number;
  strides: number[];
}
type Mode = 'contig' | 'bcast' | 'scalar' | 'permuted' | 'padded';

function makeOperand(rng: Rng, shape: readonly number[], mode: Mode, gen: () => number): Operand {
  const r = shape.length;
  const bcastDims = new Array<boolean>(r).fill(false);
  if (mode === 'scalar') bcastDims.fill(true);
  if (mode === 'bcast') {
    for (let i = 0; i < r; i++) bcastDims[i] = shape[i]! > 1 && rng() < 0.5;
    const cand = shape.map((d, i) => (d > 1 ? i : -1)).filter((i) => i >= 0);
    if (!bcastDims.some((b) => b) && cand.length > 0) bcastDims[cand[randInt(rng, 0, cand.length)]!] = true;
  }
  const bd = shape.map((d, i) => (bcastDims[i] ? 1 : d));
  const order = [...Array(r).keys()];
  if (mode === 'permuted' || (mode === 'padded' && rng() < 0.5)) shuffle(rng, order);
  const pad = mode === 'padded' ? randInt(rng, 1, 4) : 0;
  const strides = new Array<number>(r).fill(0);
  let acc = 1;
  for (let j = r - 1; j >= 0; j--) {
    const dim = order[j]!;
    strides[dim] = bcastDims[dim] ? 0 : acc;
    acc *= bd[dim]! + (j === r - 1 ? pad : 0);
  }
  const offset = mode === 'contig' ? 0 : randInt(rng, 0, 4);
  let extent = offset + 1;
  for (let i = 0; i < r; i++) extent += (bd[i]! - 1) * strides[i]!;
  const len = extent + (mode === 'contig' ? 0 : randInt(rng, 0, 3));
  const vals = new Float64Array(len).fill(NaN);
  forEachIndex(bd, (idx) => {
    vals[offset + dot(idx, strides)] = gen();
  });
  return { vals, offset, strides };
}

// Decode tables for f16 / bf16 bit patterns.
const F16_LUT = new Float64Array(65536);
const BF16_LUT = new Float64Array(65536);
for (let h = 0; h < 65536; h++) {
  F16_LUT[h] = f16ToNumber(h);
  BF16_LUT[h] = bf16ToNumber(h);
}
function decodeWeights(dt: WeightDType, w: WeightArray): Float64Array {
  if (dt === 'float16' || dt === 'bfloat16') {
    const lut = dt === 'float16' ? F16_LUT : BF16_LUT;
    const out = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) out[i] = lut[w[i]!]!;
    return out;
  }
  return Float64Array.from(w);
}
/** Encodes float32-representable values as a weight array of dt (f16/bf16 rounded). */
function encodeWeights(dt: WeightDType, v: ArrayLike<number>): WeightArray {
  if (dt === 'float32') return Float32Array.from(v);
  if (dt === 'float64') return Float64Array.from(v);
  const out = new Uint16Array(v.length);
  const enc = dt === 'float16' ? numberToF16 : numberToBf16;
  for (let i = 0; i < v.length; i++) out[i] = enc(v[i]!);
  return out;
}

// Dense f64 matrix helpers (row-major) for identity checks.
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      if (av === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j]! += av * b[p * n + j]!;
    }
  return c;
}
function transpose(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
}
function frob(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}
function frobDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}
function eye(n: number): Float64Array {
  const e = new Float64Array(n * n);
  for (let i = 0; i < n; i++) e[i * n + i] = 1;
  return e;
}

// =============================================================================================
// The suite
// =============================================================================================

export function runConformance(candidate: Backend, oracle: Backend, opts: ConformanceOptions = {}): void {
  const C = candidate;
  const O = oracle;
  const skip = opts.skip ?? {};
  for (const [k, r] of Object.entries(skip))
    if (typeof r !== 'string' || r.trim() === '')
      throw new Error(`runConformance: skip '${k}' must carry a non-empty reason string`);
  const usedSkips = new Set<string>();
  let group = '';

  const kernel = (name: string, body: () => void): void => {
    describe(name, () => {
      group = name;
      body();
    });
  };
  const check = (name: string, fn: (rng: Rng) => void): void => {
    const id = `${group}: ${name}`;
    let reason: string | undefined;
    for (const key of [group, id]) {
      const r = skip[key];
      if (r !== undefined) {
        usedSkips.add(key);
        reason ??= r;
      }
    }
    const seed = (BASE_SEED ^ fnv1a(id)) >>> 0;
    test(name, reason !== undefined ? { skip: reason } : {}, () => {
      const rng = mulberry32(seed);
      try {
        fn(rng);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new Error(`${C.name} vs ${O.name} | ${id} | seed ${seed} (LMEDIT_TEST_SEED=${BASE_SEED}): ${msg}`, {
          cause: e,
        });
      }
    });
  };

  // ===========================================================================================
  // memory
  // ===========================================================================================
  function memoryTests(): void {
    kernel('info', () => {
      check('describes the backend', () => {
        const inf = C.info();
        assert.equal(inf.name, C.name, 'info().name');
        for (const k of ['blas', 'lapack', 'simd'] as const)
          assert.ok(typeof inf[k] === 'string' && inf[k].length > 0, `info().${k} should be a non-empty string`);
        assert.ok(Number.isInteger(inf.threads) && inf.threads >= 1, `info().threads = ${inf.threads}`);
      });
    });
    kernel('alloc', () => {
      check('zero-filled arrays of every dtype and size (incl. 0 and 4 MiB)', () => {
        for (const dt of DTYPES)
          for (const n of [0, 1, 17, 1 << 20]) {
            const s = C.alloc(dt, n);
            assert.ok(storageMatches(dt, s), `alloc(${dt}, ${n}) returned ${s.constructor.name}`);
            assert.equal(s.length, n, `alloc(${dt}, ${n}).length`);
            for (let i = 0; i < n; i++) if (s[i] !== 0) assert.fail(`alloc(${dt}, ${n})[${i}] = ${s[i]}, not 0`);
            if (n > 0) {
              s[n - 1] = 1;
              assert.equal(s[n - 1], 1, `alloc(${dt}, ${n}) is writable`);
            }
            C.release(s);
          }
      });
      check('release accepts its own and plain JS arrays', () => {
        C.release(C.alloc('float32', 1000));
        C.release(new Float32Array(10));
        C.release(new Uint16Array(10));
        // the backend still works afterwards
        const s = C.alloc('float64', 3);
        assert.equal(s.length, 3);
      });
    });
  }

  // ===========================================================================================
  // fill (exact vs oracle; untouched outside [offset, offset + n))
  // ===========================================================================================
  function fillTests(): void {
    kernel('fill', () => {
      const values: Record<DType, number[]> = {
        float32: [0, -0, 1.5, 0.1, -3.7, 1e5, 3.4028234663852886e38, 1e300, 1e-46, NaN, Infinity, -Infinity],
        float64: [0, -0, 1.5, 0.1, -3.7, 1e300, 5e-324, NaN, Infinity, -Infinity],
        float16: [0, -0, 1.5, 0.1, -3.7, 65504, 65519, 65520, 1e5, 1e-7, 3e-8, NaN, Infinity, -Infinity],
        bfloat16: [0, -0, 1.5, 0.1, -3.7, 3.39e38, 1e39, 1e-40, NaN, Infinity, -Infinity],
        int32: [0, 7, -7, 3.7, -3.7, 2147483647, -2147483648],
        uint8: [0, 1, 255, 3.7, 200.9],
      };
      for (const dt of DTYPES)
        check(`${dt}: conversions, offset, n`, () => {
          for (const v of values[dt]) {
            const len = 37;
            const mkDst = (): Storage => {
              const s = C.alloc(dt, len);
              for (let i = 0; i < len; i++) writeElement(dt, s, i, (i % 5) + 2);
              return s;
            };
            const got = mkDst();
            const want = mkDst();
            C.fill(got, dt, 3, 30, v);
            O.fill(want, dt, 3, 30, v);
            assertSameStorage(dt, got, want, `fill(${dt}, offset 3, n 30, value ${v})`);
          }
        });
      check('70001 elements (above threading thresholds), f32 and f16', () => {
        for (const dt of ['float32', 'float16'] as const) {
          const n = 70001;
          const got = C.alloc(dt, n + 5);
          const want = O.alloc(dt, n + 5);
          got.fill(7);
          want.fill(7);
          C.fill(got, dt, 2, n, -0.3);
          O.fill(want, dt, 2, n, -0.3);
          assertSameStorage(dt, got, want, `fill(${dt}, 2, ${n})`);
        }
      });
      check('n = 0 writes nothing', () => {
        const got = new Float32Array([1, 2, 3]);
        C.fill(got, 'float32', 1, 0, 9);
        assert.deepEqual(Array.from(got), [1, 2, 3]);
      });
    });
  }

  // ===========================================================================================
  // copy
  // ===========================================================================================
  function copyTests(): void {
    /** Source numbers for a conversion src -> dst, respecting the destination's valid range. */
    function copySourceValues(rng: Rng, src: DType, dst: DType, n: number): Storage {
      const s = C.alloc(src, n);
      const toInt = dst === 'int32' || dst === 'uint8';
      const specials = [
        0,
        -0,
        1,
        -1,
        0.5,
        255,
        1 + 2 ** -11,
        1 + 3 * 2 ** -11,
        1 + 2 ** -8,
        1 + 3 * 2 ** -8,
        1 + 2 ** -9,
        2049,
        2051,
        65504,
        65519,
        65520,
        70000,
        -65536,
        2 ** -24,
        1.5 * 2 ** -24,
        2 ** -25,
        1.0001 * 2 ** -25,
        6.1e-5,
        1e-40,
        3.3895313892515355e38,
        3.4028234663852886e38,
        1e39,
        1e-46,
        NaN,
        Infinity,
        -Infinity,
        16777217,
        2147483520,
        -2147483648,
        123456789,
        3.7,
        -3.7,
        0.1,
        1 / 3,
      ];
      const f32Exact = (dst === 'float16' || dst === 'bfloat16') && src === 'float64';
      const intExact24 = (dst === 'float16' || dst === 'bfloat16') && src === 'int32';
      const inRange = (x: number): boolean => {
        if (!toInt) return true;
        if (!Number.isFinite(x)) return false;
        if (dst === 'uint8') return x >= 0 && x < 256;
        return x > -2147483648 && x < 2147483520;
      };
      for (let i = 0; i < n; i++) {
        let x: number;
        const r = rng();
        if (i < specials.length) x = specials[i]!;
        else if (r < 0.3) x = normal(rng) * 10 ** randInt(rng, -8, 6);
        else if (r < 0.5) x = randInt(rng, -300, 300);
        else if (r < 0.6) x = randInt(rng, -2147483648, 2147483647);
        else if (r < 0.7) x = randInt(rng, 0, 256) + (rng() < 0.5 ? 0.5 : 0.25);
        else if (r < 0.85) x = uniform(rng, -2, 2);
        else x = normal(rng) * 2 ** randInt(rng, -30, 30);
        // f64 -> f16/bf16: use float32-representable values. Values that are not would expose a
        // double-rounding ambiguity (f64 -> f32 -> f16 vs direct) that the spec does not settle.
        if (f32Exact) x = fr(x);
        // int32 -> f16/bf16: keep |x| < 2^24 for the same reason (exact in float32).
        if (intExact24 && Math.abs(x) >= 2 ** 24) x = (x % 2 ** 24) | 0;
        if (src === 'uint8') x = Number.isFinite(x) ? Math.abs(Math.trunc(x)) % 256 : 7;
        writeElement(src, s, i, x);
        if (!inRange(readElement(src, s, i))) writeElement(src, s, i, dst === 'uint8' ? 200 : -12345);
      }
      return s;
    }
    const sentinel = (dt: DType, s: Storage): void => {
      for (let i = 0; i < s.length; i++) writeElement(dt, s, i, dt === 'uint8' ? 123 : 12345);
    };

    kernel('copy', () => {
      for (const src of DTYPES)
        check(`convert ${src} -> each dtype (exact bits; NaN matches any NaN)`, (rng) => {
          for (const dst of DTYPES) {
            const n = 400;
            const s = copySourceValues(rng, src, dst, n);
            for (const layout of ['contiguous', 'strided'] as const) {
              // strided: shape [20, 20] read transposed with an offset, written with padded rows
              const shape = layout === 'contiguous' ? [n] : [20, 20];
              const srcStrides = layout === 'contiguous' ? [1] : [1, 20];
              const dstStrides = layout === 'contiguous' ? [1] : [23, 1];
              const dstOffset = layout === 'contiguous' ? 0 : 2;
              const dstLen = layout === 'contiguous' ? n : 2 + 19 * 23 + 20 + 3;
              const got = C.alloc(dst, dstLen);
              const want = O.alloc(dst, dstLen);
              sentinel(dst, got);
              sentinel(dst, want);
              const g = guard({ src: s });
              const p = {
                src: s,
                srcDtype: src,
                srcOffset: 0,
                srcStrides,
                dstDtype: dst,
                dstOffset,
                dstStrides,
                shape,
                accumulate: false,
              };
              C.copy({ ...p, dst: got });
              g(`copy ${src}->${dst}`);
              O.copy({ ...p, dst: want });
              assertSameStorage(dst, got, want, `copy ${src} -> ${dst} (${layout})`);
            }
          }
        });
      check('f16/bf16 rounding: ties to even, subnormals, overflow (vs dtype.ts encoders)', () => {
        const xs = [
          1 + 2 ** -11,
          1 + 3 * 2 ** -11,
          2 ** -25,
          3 * 2 ** -25,
          65519,
          65520,
          1 + 2 ** -8,
          1 + 3 * 2 ** -8,
          3.4e38,
          -0,
        ];
        const src = Float32Array.from(xs);
        for (const dst of ['float16', 'bfloat16'] as const) {
          const got = new Uint16Array(xs.length);
          C.copy({
            src,
            srcDtype: 'float32',
            srcOffset: 0,
            srcStrides: [1],
            dst: got,
            dstDtype: dst,
            dstOffset: 0,
            dstStrides: [1],
            shape: [xs.length],
            accumulate: false,
          });
          const want = Uint16Array.from(xs.map((x) => (dst === 'float16' ? numberToF16(x) : numberToBf16(x))));
          assertSameStorage(dst, got, want, `f32 -> ${dst}`);
        }
      });
      check('every f16 / bf16 bit pattern -> float32 / float64 (exact, NaN stays NaN)', () => {
        const all = new Uint16Array(65536);
        for (let i = 0; i < 65536; i++) all[i] = i;
        for (const sdt of ['float16', 'bfloat16'] as const)
          for (const ddt of ['float32', 'float64'] as const) {
            const got = nans(ddt, 65536);
            C.copy({
              src: all,
              srcDtype: sdt,
              srcOffset: 0,
              srcStrides: [1],
              dst: got,
              dstDtype: ddt,
              dstOffset: 0,
              dstStrides: [1],
              shape: [65536],
              accumulate: false,
            });
            const lut = sdt === 'float16' ? F16_LUT : BF16_LUT;
            assertSameStorage(ddt, got, mk(ddt, lut), `${sdt} -> ${ddt}`);
          }
      });
      check('random float32 bit patterns (all exponents, subnormals, NaN, Inf) -> f16 / bf16 (exact vs dtype.ts)', (rng) => {
        const n = 70001;
        const bits = new Uint32Array(n);
        for (let i = 0; i < n; i++) bits[i] = (rng() * 4294967296) >>> 0;
        // bias part of the values to the f16 range and to exact rounding ties
        for (let i = 0; i < n; i += 3) bits[i] = (bits[i]! & 0x80ffffff) | ((100 + (i % 50)) << 23);
        for (let i = 1; i < n; i += 7) bits[i] = (bits[i]! & 0xffffe000) | 0x1000;
        for (let i = 2; i < n; i += 11) bits[i] = (bits[i]! & 0xffff0000) | 0x8000;
        const src = new Float32Array(bits.buffer);
        for (const ddt of ['float16', 'bfloat16'] as const) {
          const got = new Uint16Array(n).fill(0x1234);
          const g = guard({ src });
          C.copy({
            src,
            srcDtype: 'float32',
            srcOffset: 0,
            srcStrides: [1],
            dst: got,
            dstDtype: ddt,
            dstOffset: 0,
            dstStrides: [1],
            shape: [n],
            accumulate: false,
          });
          g('copy');
          const enc = ddt === 'float16' ? numberToF16 : numberToBf16;
          const want = Uint16Array.from(src, (x) => enc(x));
          assertSameStorage(ddt, got, want, `float32 -> ${ddt}`);
        }
      });
      check('non-contiguous sources: rank-3 permuted strides, offsets, padded destination', (rng) => {
        for (const dt of ['float32', 'float64', 'float16'] as const) {
          const shape = [5, 6, 7];
          const op = makeOperand(rng, shape, 'permuted', () => fr(normal(rng)));
          const src = C.alloc(dt, op.vals.length);
          for (let i = 0; i < op.vals.length; i++) writeElement(dt, src, i, op.vals[i]!);
          const dstStrides = [6 * 9, 9, 1];
          const dstLen = 3 + 5 * 6 * 9;
          for (const dst of ['float32', 'bfloat16', 'int32'] as const) {
            const got = C.alloc(dst, dstLen);
            const want = O.alloc(dst, dstLen);
            sentinel(dst, got);
            sentinel(dst, want);
            const p = {
              src,
              srcDtype: dt,
              srcOffset: op.offset,
              srcStrides: op.strides,
              dstDtype: dst,
              dstOffset: 3,
              dstStrides,
              shape,
              accumulate: false,
            };
            const g = guard({ src });
            C.copy({ ...p, dst: got });
            g('copy');
            O.copy({ ...p, dst: want });
            assertSameStorage(dst, got, want, `copy ${dt} -> ${dst} strides ${JSON.stringify(op.strides)}`);
          }
        }
      });
      check('rank 4 permuted [8, 16, 32, 17] (70k) f32 -> f32 / bf16 and f16 -> f32', (rng) => {
        const shape = [8, 16, 32, 17];
        for (const [sdt, ddt] of [
          ['float32', 'float32'],
          ['float32', 'bfloat16'],
          ['float16', 'float32'],
        ] as const) {
          const op = makeOperand(rng, shape, 'permuted', () => fr(normal(rng)));
          const src = C.alloc(sdt, op.vals.length);
          for (let i = 0; i < op.vals.length; i++) writeElement(sdt, src, i, op.vals[i]!);
          const n = prod(shape);
          const got = C.alloc(ddt, n + 1);
          const want = O.alloc(ddt, n + 1);
          sentinel(ddt, got);
          sentinel(ddt, want);
          const dstStrides = [16 * 32 * 17, 32 * 17, 17, 1];
          const p = {
            src,
            srcDtype: sdt,
            srcOffset: op.offset,
            srcStrides: op.strides,
            dstDtype: ddt,
            dstOffset: 1,
            dstStrides,
            shape,
            accumulate: false,
          };
          C.copy({ ...p, dst: got });
          O.copy({ ...p, dst: want });
          assertSameStorage(ddt, got, want, `copy ${sdt} -> ${ddt} strides ${JSON.stringify(op.strides)}`);
        }
      });
      check('transposed 300x257 (77k elements) f32 -> f32 and f32 -> f16', (rng) => {
        const [R, Cc] = [300, 257];
        const v = fvals(rng, R * Cc, -3, 3);
        const src = Float32Array.from(v);
        for (const dst of ['float32', 'float16'] as const) {
          const got = C.alloc(dst, R * Cc);
          const want = O.alloc(dst, R * Cc);
          sentinel(dst, got);
          sentinel(dst, want);
          // dst[j, i] = src[i, j]
          const p = {
            src,
            srcDtype: 'float32' as const,
            srcOffset: 0,
            srcStrides: [1, Cc],
            dstDtype: dst,
            dstOffset: 0,
            dstStrides: [R, 1],
            shape: [Cc, R],
            accumulate: false,
          };
          C.copy({ ...p, dst: got });
          O.copy({ ...p, dst: want });
          assertSameStorage(dst, got, want, `transpose -> ${dst}`);
        }
      });
      check('rank 0 (scalar) and size-1 dims', (rng) => {
        const src = Float32Array.from(fvals(rng, 8, -1, 1));
        for (const shape of [[], [1], [1, 1, 1]]) {
          const got = new Float32Array(4).fill(NaN);
          const want = new Float32Array(4).fill(NaN);
          const strides = shape.map(() => 3);
          const p = {
            src,
            srcDtype: 'float32' as const,
            srcOffset: 5,
            srcStrides: strides,
            dstDtype: 'float32' as const,
            dstOffset: 2,
            dstStrides: strides,
            shape,
            accumulate: false,
          };
          C.copy({ ...p, dst: got });
          O.copy({ ...p, dst: want });
          assertSameStorage('float32', got, want, `shape ${JSON.stringify(shape)}`);
        }
      });
      // accumulate: f32 candidate vs oracle accumulating into float64 (tolerance: sums of up to
      // `size` terms, |err| <= 1e-6 * sqrt(terms) * sum |terms| per element); exact when each
      // destination element receives exactly one term.
      check('accumulate, one term per element: transposed sources, all src dtypes, exact', (rng) => {
        for (const sdt of DTYPES) {
          const shape = [13, 17];
          const sv =
            sdt === 'uint8'
              ? ivals(rng, 13 * 17, 0, 255)
              : sdt === 'int32'
                ? ivals(rng, 221, -1000, 1000)
                : fvals(rng, 221, -4, 4);
          const src = C.alloc(sdt, 221);
          for (let i = 0; i < 221; i++) writeElement(sdt, src, i, sv[i]!);
          for (const ddt of ['float32', 'float64'] as const) {
            const init = fvals(rng, 221 + 4, -1, 1);
            const got = mk(ddt, init);
            const want = mk(ddt, init);
            const p = {
              src,
              srcDtype: sdt,
              srcOffset: 0,
              srcStrides: [1, 13],
              dstDtype: ddt,
              dstOffset: 4,
              dstStrides: [17, 1],
              shape,
              accumulate: true,
            };
            const g = guard({ src });
            C.copy({ ...p, dst: got });
            g('copy accumulate');
            O.copy({ ...p, dst: want });
            assertClose(got, want, EXACT, `accumulate ${sdt} -> ${ddt}`);
          }
        }
      });
      const reductionCases: { shape: number[]; dstStrides: number[]; name: string }[] = [
        { shape: [4, 33, 7], dstStrides: [7, 0, 1], name: 'sum over middle dim [4,33,7] -> [4,1,7]' },
        { shape: [5, 6], dstStrides: [0, 0], name: 'full reduction to a scalar [5,6]' },
        { shape: [70001], dstStrides: [0], name: 'full reduction of 70001 elements' },
        { shape: [257, 300], dstStrides: [0, 1], name: 'bias-gradient style [257,300] -> [300] (77k)' },
        { shape: [3, 1, 4, 5, 2], dstStrides: [0, 0, 2, 0, 1], name: 'rank 5, mixed stride-0 dims' },
      ];
      for (const rc of reductionCases)
        check(`accumulate with stride-0 destination dims: ${rc.name}`, (rng) => {
          for (const sdt of ['float32', 'float16', 'bfloat16'] as const) {
            const n = prod(rc.shape);
            const v = fvals(rng, n, -2, 2);
            const src = C.alloc(sdt, n);
            for (let i = 0; i < n; i++) writeElement(sdt, src, i, v[i]!);
            const srcStrides = rc.shape.map((_, i) => prod(rc.shape.slice(i + 1)));
            let dstLen = 1;
            for (let i = 0; i < rc.shape.length; i++) dstLen += (rc.shape[i]! - 1) * rc.dstStrides[i]!;
            const init = fvals(rng, dstLen, -1, 1);
            const got = mk('float32', init);
            const want = mk('float64', init);
            const absSum = new Float64Array(dstLen);
            const terms = n / dstLen;
            const base = {
              src,
              srcDtype: sdt,
              srcOffset: 0,
              srcStrides,
              dstDtype: 'float32' as const,
              dstOffset: 0,
              dstStrides: rc.dstStrides,
              shape: rc.shape,
              accumulate: true,
            };
            const g = guard({ src });
            C.copy({ ...base, dst: got });
            g('copy accumulate');
            O.copy({ ...base, dst: want, dstDtype: 'float64' });
            // |terms| sums via the oracle on |src|
            const absSrc = new Float64Array(n);
            for (let i = 0; i < n; i++) absSrc[i] = Math.abs(readElement(sdt, src, i));
            O.copy({ ...base, src: absSrc, srcDtype: 'float64', dst: absSum, dstDtype: 'float64' });
            const lim = Array.from(absSum, (s, i) => 1e-6 * Math.sqrt(terms) * (s + Math.abs(init[i]!)) + 1e-7);
            assertClose(got, want, lim, `accumulate ${sdt} -> float32`);
          }
        });
      check('accumulate full reduction of 70001 small integers is exact', (rng) => {
        const n = 70001;
        const v = ivals(rng, n, -3, 3);
        const src = Float32Array.from(v);
        const got = new Float32Array([5]);
        let s = 5;
        for (let i = 0; i < n; i++) s += v[i]!;
        C.copy({
          src,
          srcDtype: 'float32',
          srcOffset: 0,
          srcStrides: [1],
          dst: got,
          dstDtype: 'float32',
          dstOffset: 0,
          dstStrides: [0],
          shape: [n],
          accumulate: true,
        });
        assert.equal(got[0], s, 'sum');
      });
    });
  }

  // ===========================================================================================
  // gemm
  // ===========================================================================================
  interface GemmCase {
    M: number;
    N: number;
    K: number;
    batch?: number;
    transA?: boolean;
    transB?: boolean;
    alpha?: number;
    beta?: number;
    bDtype?: WeightDType;
    padA?: number;
    padB?: number;
    padC?: number;
    aOff?: number;
    bOff?: number;
    cOff?: number;
    aStride0?: boolean;
    bStride0?: boolean;
    gap?: number;
    /** small integer inputs: the float32 result must be exact */
    int?: boolean;
  }
  interface GemmData {
    M: number;
    N: number;
    K: number;
    batch: number;
    transA: boolean;
    transB: boolean;
    alpha: number;
    beta: number;
    bDtype: WeightDType;
    aOffset: number;
    lda: number;
    aBatchStride: number;
    bOffset: number;
    ldb: number;
    bBatchStride: number;
    cOffset: number;
    ldc: number;
    cBatchStride: number;
    aVals: Float64Array;
    bStore: WeightArray;
    bDec: Float64Array;
    int: boolean;
  }
  const SENT = 777;

  function buildGemm(rng: Rng, c: GemmCase): GemmData {
    const batch = c.batch ?? 1;
    const tA = c.transA ?? false;
    const tB = c.transB ?? false;
    const bDtype = c.bDtype ?? 'float32';
    const int = c.int ?? false;
    const { M, N, K } = c;
    const gap = c.gap ?? 0;
    const aRows = tA ? K : M;
    const aCols = tA ? M : K;
    const lda = Math.max(1, aCols + (c.padA ?? 0));
    const aMat = aRows * aCols === 0 ? 0 : (aRows - 1) * lda + aCols;
    const aBatchStride = c.aStride0 ? 0 : aRows * lda + gap;
    const aOffset = c.aOff ?? 0;
    const aLen = aOffset + (batch - 1) * aBatchStride + aMat;
    const aVals = new Float64Array(aLen).fill(NaN); // padding is NaN: must never be read
    for (let bi = 0; bi < (c.aStride0 ? 1 : batch); bi++)
      for (let r = 0; r < aRows; r++)
        for (let q = 0; q < aCols; q++)
          aVals[aOffset + bi * aBatchStride + r * lda + q] = int ? randInt(rng, -3, 4) : fr(uniform(rng, -1, 1));
    const bRows = tB ? N : K;
    const bCols = tB ? K : N;
    const ldb = Math.max(1, bCols + (c.padB ?? 0));
    const bMat = bRows * bCols === 0 ? 0 : (bRows - 1) * ldb + bCols;
    const bBatchStride = c.bStride0 ? 0 : bRows * ldb + gap;
    const bOffset = c.bOff ?? 0;
    const bLen = bOffset + (batch - 1) * bBatchStride + bMat;
    let bStore: WeightArray;
    if (bDtype === 'float16' || bDtype === 'bfloat16') {
      const u = new Uint16Array(bLen).fill(bDtype === 'float16' ? 0x7e00 : 0x7fc0);
      const intBits = [-2, -1, 0, 1, 2].map((x) => (bDtype === 'float16' ? numberToF16(x) : numberToBf16(x)));
      for (let bi = 0; bi < (c.bStride0 ? 1 : batch); bi++)
        for (let r = 0; r < bRows; r++) {
          const base = bOffset + bi * bBatchStride + r * ldb;
          for (let q = 0; q < bCols; q++) {
            // one random draw per element (B can have 10M elements): sign, exponent, mantissa bits
            const r = (rng() * 4294967296) >>> 0;
            let bits: number;
            if (int) bits = intBits[(r >>> 16) % 5]!;
            else if (bDtype === 'float16')
              bits = (r & 0x83ff) | ((12 + ((r >>> 10) & 3)) << 10); // |x| in [2^-3, 2)
            else bits = (r & 0x807f) | ((124 + ((r >>> 7) & 3)) << 7); // |x| in [2^-3, 2)
            u[base + q] = bits;
          }
        }
      bStore = u;
    } else {
      const f = bDtype === 'float32' ? new Float32Array(bLen) : new Float64Array(bLen);
      f.fill(NaN);
      for (let bi = 0; bi < (c.bStride0 ? 1 : batch); bi++)
        for (let r = 0; r < bRows; r++) {
          const base = bOffset + bi * bBatchStride + r * ldb;
          for (let q = 0; q < bCols; q++) f[base + q] = int ? randInt(rng, -2, 3) : fr(uniform(rng, -1, 1));
        }
      bStore = f;
    }
    const ldc = Math.max(1, N + (c.padC ?? 0));
    return {
      M,
      N,
      K,
      batch,
      transA: tA,
      transB: tB,
      alpha: c.alpha ?? 1,
      beta: c.beta ?? 0,
      bDtype,
      aOffset,
      lda,
      aBatchStride,
      bOffset,
      ldb,
      bBatchStride,
      cOffset: c.cOff ?? 0,
      ldc,
      cBatchStride: M * ldc + gap,
      aVals,
      bStore,
      bDec: decodeWeights(bDtype, bStore),
      int,
    };
  }

  /** f64 value and error scale (|alpha| sum |a b| + |beta c0|) of one C entry. */
  function gemmEntry(d: GemmData, cInit: Float64Array, bi: number, m: number, n: number): [number, number] {
    const aBase = d.aOffset + bi * d.aBatchStride;
    const bBase = d.bOffset + bi * d.bBatchStride;
    const aV = d.aVals;
    const bV = d.bDec;
    let s = 0;
    let sa = 0;
    for (let k = 0; k < d.K; k++) {
      const av = d.transA ? aV[aBase + k * d.lda + m]! : aV[aBase + m * d.lda + k]!;
      const bv = d.transB ? bV[bBase + n * d.ldb + k]! : bV[bBase + k * d.ldb + n]!;
      const p = av * bv;
      s += p;
      sa += Math.abs(p);
    }
    const c0 = d.beta === 0 ? 0 : cInit[d.cOffset + bi * d.cBatchStride + m * d.ldc + n]!;
    return [d.alpha * s + d.beta * c0, Math.abs(d.alpha) * sa + Math.abs(d.beta * c0)];
  }

  /**
   * Runs the candidate on d and checks C.
   * Tolerance (float32): per entry |got - want| <= 1e-6 * max(1, sqrt K) * (|alpha| sum_k |a b| + |beta c0|);
   * float64: 1e-13 * ...; int inputs: exact. Elements of C outside the output (ldc padding,
   * gaps between batches, before the offset, after the end) must stay untouched.
   * `how`: 'oracle' compares every entry with the oracle run in float64; 'full' computes every
   * entry directly in JS; 'sample' checks ~400 entries (corners included) directly in JS.
   */
  function runGemm(rng: Rng, d: GemmData, cdt: CDT, how: 'oracle' | 'full' | 'sample', label: string): void {
    const { M, N, K, batch } = d;
    const cLen = d.cOffset + (batch - 1) * d.cBatchStride + (M - 1) * d.ldc + N + 2;
    const inRegion = new Uint8Array(cLen);
    const cInit = new Float64Array(cLen).fill(SENT);
    for (let bi = 0; bi < batch; bi++)
      for (let m = 0; m < M; m++)
        for (let n = 0; n < N; n++) {
          const ci = d.cOffset + bi * d.cBatchStride + m * d.ldc + n;
          inRegion[ci] = 1;
          cInit[ci] = d.beta === 0 ? NaN : d.int ? randInt(rng, -3, 4) : fr(uniform(rng, -1, 1));
        }
    const a = mk(cdt, d.aVals);
    let b: WeightArray = d.bStore;
    let bDtype = d.bDtype;
    if (cdt === 'float64' && bDtype === 'float32') {
      b = Float64Array.from(d.bStore);
      bDtype = 'float64';
    }
    const c = mk(cdt, cInit);
    const params: GemmParams = {
      transA: d.transA,
      transB: d.transB,
      M,
      N,
      K,
      alpha: d.alpha,
      beta: d.beta,
      batch,
      a,
      aOffset: d.aOffset,
      lda: d.lda,
      aBatchStride: d.aBatchStride,
      b,
      bDtype,
      bOffset: d.bOffset,
      ldb: d.ldb,
      bBatchStride: d.bBatchStride,
      c,
      cOffset: d.cOffset,
      ldc: d.ldc,
      cBatchStride: d.cBatchStride,
    };
    const desc = `${label} [${cdt}, B ${d.bDtype}, M${M} N${N} K${K} batch${batch} tA=${d.transA} tB=${d.transB} alpha=${d.alpha} beta=${d.beta} lda${d.lda} ldb${d.ldb} ldc${d.ldc}]`;
    const g = guard({ a, b });
    C.gemm(params);
    g(`gemm ${desc}`);
    const eps = d.int ? 0 : cdt === 'float32' ? 1e-6 : 1e-13;
    const tolFactor = eps * Math.max(1, Math.sqrt(K));
    let oracleC: Float64Array | null = null;
    if (how === 'oracle') {
      oracleC = Float64Array.from(cInit);
      const ob: WeightArray = d.bDtype === 'float32' ? Float64Array.from(d.bStore) : d.bStore;
      O.gemm({
        ...params,
        a: Float64Array.from(d.aVals),
        b: ob,
        bDtype: d.bDtype === 'float32' ? 'float64' : d.bDtype,
        c: oracleC,
      });
    }
    const msgs: string[] = [];
    let bad = 0;
    const fail = (s: string): void => {
      bad++;
      if (msgs.length < 6) msgs.push(s);
    };
    for (let i = 0; i < cLen; i++) {
      const got = c[i]!;
      if (!inRegion[i]) {
        if (got !== SENT) fail(`c[${i}] outside the output was changed to ${got}`);
      } else if (!Number.isFinite(got)) fail(`c[${i}] = ${got} (unwritten or NaN leaked)`);
    }
    const checkEntry = (bi: number, m: number, n: number): void => {
      const ci = d.cOffset + bi * d.cBatchStride + m * d.ldc + n;
      const [v, scale] = gemmEntry(d, cInit, bi, m, n);
      let want = oracleC ? oracleC[ci]! : v;
      if (cdt === 'float32') want = fr(want);
      const got = c[ci]!;
      const lim = tolFactor * scale;
      if (!(Math.abs(got - want) <= lim))
        fail(`C[batch ${bi}][${m}][${n}] got ${got} want ${want} (limit ${lim.toExponential(2)})`);
    };
    if (how === 'sample') {
      const pts: [number, number, number][] = [];
      for (const bi of [0, batch - 1]) for (const m of [0, M - 1]) for (const n of [0, N - 1]) pts.push([bi, m, n]);
      for (let s = 0; s < 400; s++) pts.push([randInt(rng, 0, batch), randInt(rng, 0, M), randInt(rng, 0, N)]);
      for (const [bi, m, n] of pts) checkEntry(bi, m, n);
    } else for (let bi = 0; bi < batch; bi++) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) checkEntry(bi, m, n);
    if (bad > 0) assert.fail(`gemm ${desc}: ${bad} problems: ${msgs.join('; ')}`);
  }

  function gemmCase(rng: Rng, c: GemmCase, cdt: CDT = 'float32', label = ''): void {
    const d = buildGemm(rng, c);
    const macs = d.batch * d.M * d.N * d.K;
    runGemm(rng, d, cdt, macs <= 3e6 ? 'oracle' : d.int && macs <= 6e7 ? 'full' : 'sample', label);
  }

  function gemmTests(): void {
    kernel('gemm', () => {
      const TT: [boolean, boolean][] = [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ];
      const AB: [number, number][] = [
        [1, 0],
        [0.5, 1],
        [-2, 0.25],
        [0, 1],
        [0, 0],
      ];
      check('tiny and degenerate shapes (1x1x1, M/N/K = 1), all transposes', (rng) => {
        for (const [M, N, K] of [
          [1, 1, 1],
          [1, 7, 5],
          [6, 1, 5],
          [6, 7, 1],
          [1, 1, 9],
        ] as const)
          for (const [tA, tB] of TT) gemmCase(rng, { M, N, K, transA: tA, transB: tB });
      });
      check('3x5x7: all transposes x alpha/beta (beta=0 ignores NaN in C)', (rng) => {
        for (const [tA, tB] of TT)
          for (const [alpha, beta] of AB) gemmCase(rng, { M: 3, N: 5, K: 7, transA: tA, transB: tB, alpha, beta });
      });
      check('17x13x31 with offsets and leading dims larger than the row length', (rng) => {
        for (const [tA, tB] of TT)
          for (const [alpha, beta] of [
            [1, 0],
            [0.75, -1.5],
          ] as const)
            gemmCase(rng, {
              M: 17,
              N: 13,
              K: 31,
              transA: tA,
              transB: tB,
              alpha,
              beta,
              padA: 3,
              padB: 5,
              padC: 2,
              aOff: 4,
              bOff: 7,
              cOff: 3,
            });
      });
      check('batched: strides incl. 0 (shared A or B), gaps between batch entries', (rng) => {
        for (const [tA, tB] of TT)
          for (const [a0, b0] of [
            [false, false],
            [true, false],
            [false, true],
            [true, true],
          ] as const)
            gemmCase(rng, {
              M: 4,
              N: 5,
              K: 6,
              batch: 3,
              transA: tA,
              transB: tB,
              aStride0: a0,
              bStride0: b0,
              gap: 2,
              padA: 1,
              padC: 1,
              beta: 0.5,
              aOff: 1,
              cOff: 2,
            });
      });
      check('64x65x66 and 33x127x129 (blocking edges), all transposes', (rng) => {
        for (const [tA, tB] of TT) {
          gemmCase(rng, { M: 64, N: 65, K: 66, transA: tA, transB: tB });
          gemmCase(rng, { M: 33, N: 127, K: 129, transA: tA, transB: tB, beta: 1 });
        }
      });
      for (const bDtype of ['float16', 'bfloat16'] as const) {
        check(`B in ${bDtype}: all transposes x alpha/beta, padded, batched`, (rng) => {
          for (const [tA, tB] of TT) {
            for (const [alpha, beta] of AB) gemmCase(rng, { M: 7, N: 9, K: 11, transA: tA, transB: tB, alpha, beta, bDtype });
            gemmCase(rng, {
              M: 5,
              N: 19,
              K: 23,
              transA: tA,
              transB: tB,
              bDtype,
              padB: 3,
              bOff: 5,
              padC: 2,
              batch: 2,
              bStride0: true,
            });
            gemmCase(rng, { M: 5, N: 19, K: 23, transA: tA, transB: tB, bDtype, batch: 3, gap: 1 });
          }
        });
      }
      check('257x1031x300 (multi-threaded), f32 B all transposes, f16/bf16 B transB (sampled)', (rng) => {
        for (const [tA, tB] of TT) gemmCase(rng, { M: 257, N: 1031, K: 300, transA: tA, transB: tB, beta: tA ? 0.5 : 0 });
        gemmCase(rng, { M: 257, N: 1031, K: 300, transB: true, bDtype: 'float16' });
        gemmCase(rng, { M: 257, N: 1031, K: 300, transB: false, bDtype: 'bfloat16', padC: 3 });
        gemmCase(rng, { M: 257, N: 1031, K: 300, transA: true, transB: true, bDtype: 'bfloat16', alpha: 0.5, beta: 2 });
        gemmCase(rng, { M: 129, N: 515, K: 300, transA: true, transB: false, bDtype: 'float16', padA: 3, padB: 1 });
      });
      check('batched 8 x (64x65x128), shared B (stride 0) and per-batch B, f32 and f16 (sampled)', (rng) => {
        for (const bDtype of ['float32', 'float16'] as const)
          for (const [tA, tB] of TT) {
            gemmCase(rng, { M: 64, N: 65, K: 128, batch: 8, transA: tA, transB: tB, bDtype, bStride0: true, gap: 3 });
            gemmCase(rng, { M: 64, N: 65, K: 128, batch: 8, transA: tA, transB: tB, bDtype, beta: 1, padC: 1 });
          }
      });
      check('257x1031x64 small integers: every entry exact (f32, f16, bf16 B)', (rng) => {
        for (const bDtype of ['float32', 'float16', 'bfloat16'] as const)
          gemmCase(rng, { M: 257, N: 1031, K: 64, transB: bDtype !== 'float32', bDtype, int: true });
      });
      for (const bDtype of ['float32', 'float16', 'bfloat16'] as const)
        check(`GEMV-like M=1..8, K=1600, N=6401 (odd), B ${bDtype}, transB and not`, (rng) => {
          // One B buffer of N*K elements serves as [N, K] (transB) and as [K, N] (not transB).
          const big = buildGemm(rng, { M: 8, N: 6401, K: 1600, transB: true, bDtype });
          for (const d of [big, { ...big, transB: false, ldb: 6401 }]) {
            for (let M = 1; M <= 8; M++) runGemm(rng, { ...d, M }, 'float32', 'sample', `M=${M}`);
            runGemm(rng, { ...d, M: 3, beta: 1, alpha: 0.5 }, 'float32', 'sample', 'alpha/beta');
          }
          // exact check of every entry with integer data
          const exact = buildGemm(rng, { M: 7, N: 6401, K: 1600, transB: true, bDtype, int: true });
          runGemm(rng, exact, 'float32', 'full', 'int');
          runGemm(rng, { ...exact, transB: false, ldb: 6401 }, 'float32', 'full', 'int, not transB');
        });
      check('f16 / bf16 B covering every finite bit pattern, A = I: C = decoded B exactly', () => {
        for (const bDtype of ['float16', 'bfloat16'] as const) {
          const finite: number[] = [];
          for (let h = 0; h < 65536; h++) if (Number.isFinite((bDtype === 'float16' ? F16_LUT : BF16_LUT)[h]!)) finite.push(h);
          const K = 256;
          const N = finite.length / K; // 248 (f16) / 255 (bf16)
          assert.ok(Number.isInteger(N));
          const b = Uint16Array.from(finite);
          const dec = decodeWeights(bDtype, b);
          for (const tB of [false, true]) {
            // transB reads b as [N, K]: C[m][n] = b[n * K + m]
            const want = new Float64Array(K * N);
            for (let m = 0; m < K; m++) for (let n = 0; n < N; n++) want[m * N + n] = tB ? dec[n * K + m]! : dec[m * N + n]!;
            const a = new Float32Array(K * K);
            for (let i = 0; i < K; i++) a[i * K + i] = 1;
            const c = nans('float32', K * N);
            C.gemm({
              transA: false,
              transB: tB,
              M: K,
              N,
              K,
              alpha: 1,
              beta: 0,
              batch: 1,
              a,
              aOffset: 0,
              lda: K,
              aBatchStride: 0,
              b,
              bDtype,
              bOffset: 0,
              ldb: tB ? K : N,
              bBatchStride: 0,
              c,
              cOffset: 0,
              ldc: N,
              cBatchStride: 0,
            });
            assertClose(c, want, EXACT, `gemm A=I, B ${bDtype} transB=${tB}`);
          }
        }
      });
      check('K = 0: C = beta C (beta = 0 gives zeros even over NaN)', (rng) => {
        for (const beta of [0, 0.5]) gemmCase(rng, { M: 3, N: 4, K: 0, beta });
      });
      check('float64 compute (tolerance 1e-13 sqrt(K) scaled), incl. f16 B', (rng) => {
        for (const [tA, tB] of TT) {
          gemmCase(
            rng,
            { M: 17, N: 13, K: 31, transA: tA, transB: tB, alpha: 0.5, beta: 2, padA: 2, padC: 1, cOff: 1 },
            'float64',
          );
          gemmCase(rng, { M: 5, N: 9, K: 40, transA: tA, transB: tB, batch: 2, bStride0: true }, 'float64');
        }
        gemmCase(rng, { M: 4, N: 7, K: 9, transB: true, bDtype: 'float16' }, 'float64');
        gemmCase(rng, { M: 4, N: 7, K: 9, bDtype: 'bfloat16', beta: 1 }, 'float64');
      });
    });
  }

  // ===========================================================================================
  // unary / unaryGrad
  // ===========================================================================================
  interface UnarySpec {
    op: UnaryOp;
    gen: (rng: Rng) => number;
    specials?: number[];
    /** values where the forward is defined but the gradient is not tested (e.g. log at 0) */
    fwdOnly?: number[];
    params?: [number, number][];
  }
  const sym = (r: number) => (rng: Rng) => fr(uniform(rng, -r, r));
  const UNARY: UnarySpec[] = [
    { op: 'neg', gen: sym(6), specials: [0] },
    { op: 'exp', gen: sym(30), specials: [0, 88, -87], fwdOnly: [100, -200] },
    { op: 'log', gen: (rng) => fr(Math.exp(uniform(rng, -7, 5))), specials: [1], fwdOnly: [0] },
    { op: 'sqrt', gen: (rng) => fr(Math.exp(uniform(rng, -7, 5))), specials: [1, 4], fwdOnly: [0] },
    { op: 'rsqrt', gen: (rng) => fr(Math.exp(uniform(rng, -7, 5))), specials: [1, 4], fwdOnly: [0] },
    { op: 'tanh', gen: sym(6), specials: [0, 20, -20] },
    { op: 'abs', gen: sym(6) },
    { op: 'sign', gen: sym(6), fwdOnly: [0] },
    { op: 'sigmoid', gen: sym(12), specials: [0, 50, -50] },
    { op: 'relu', gen: sym(6) },
    { op: 'silu', gen: sym(12), specials: [0, 50, -50] },
    { op: 'gelu_tanh', gen: sym(6), specials: [0, 20, -20] },
    { op: 'gelu_erf', gen: sym(6), specials: [0, 20, -20] },
    { op: 'square', gen: sym(6), specials: [0] },
    { op: 'reciprocal', gen: (rng) => fr((rng() < 0.5 ? -1 : 1) * Math.exp(uniform(rng, -2.3, 2.3))), specials: [1, -1] },
    { op: 'sin', gen: sym(8), specials: [0] },
    { op: 'cos', gen: sym(8), specials: [0] },
    {
      op: 'pow',
      gen: (rng) => fr(Math.exp(uniform(rng, -2.3, 1.4))),
      specials: [1],
      params: [
        [2, 0],
        [0.5, 0],
        [-1.5, 0],
        [3, 0],
        [1, 0],
      ],
    },
    // clamp: boundaries included (gradient 1 at x == p0 and x == p1)
    {
      op: 'clamp',
      gen: sym(2),
      specials: [-0.5, 0.75, 0],
      params: [
        [-0.5, 0.75],
        [0, 6],
      ],
    },
  ];
  function unaryInputs(rng: Rng, s: UnarySpec, n: number, grad: boolean): Float64Array {
    const x = new Float64Array(n);
    const sp = [...(s.specials ?? []), ...(grad ? [] : (s.fwdOnly ?? []))];
    for (let i = 0; i < n; i++) x[i] = i < sp.length && n > 2 * sp.length ? fr(sp[i]!) : s.gen(rng);
    return Float64Array.from(shuffle(rng, Array.from(x)));
  }

  function unaryTests(): void {
    // float32 tolerance: rtol 1e-5, atol 1e-6 x max|want| (libm-quality or good vectorized
    // approximations); float64: rtol 1e-12, atol 1e-13.
    const tolFor = (dt: CDT): Tol => (dt === 'float32' ? { rtol: 1e-5, atol: 1e-6 } : { rtol: 1e-12, atol: 1e-13 });
    const sizes: [CDT, number][] = [
      ['float32', 1],
      ['float32', 7],
      ['float32', 1023],
      ['float32', 70001],
      ['float64', 1031],
    ];
    kernel('unary', () => {
      for (const s of UNARY)
        check(`${s.op} (sizes 1, 7, 1023, 70001 f32; 1031 f64; n < array length)`, (rng) => {
          for (const [p0, p1] of s.params ?? [[0, 0]])
            for (const [dt, n] of sizes) {
              const xv = unaryInputs(rng, s, n, false);
              const x = mk(dt, [...xv, 1, 2, 3]); // array longer than n
              const out = nans(dt, n + 3);
              const want = nans('float64', n + 3);
              const g = guard({ x });
              C.unary(s.op, x, out, n, p0, p1);
              g(`unary ${s.op}`);
              O.unary(s.op, Float64Array.from(x), want, n, p0, p1);
              assertClose(out, want, tolFor(dt), `unary ${s.op}(p0=${p0}, p1=${p1}) ${dt} n=${n}`);
            }
        });
    });
    kernel('unaryGrad', () => {
      for (const s of UNARY)
        check(`${s.op}' (sizes 1, 7, 1023, 70001 f32; 1031 f64)`, (rng) => {
          for (const [p0, p1] of s.params ?? [[0, 0]])
            for (const [dt, n] of sizes) {
              const x = mk(dt, [...unaryInputs(rng, s, n, true), 0.5]);
              const gy = mk(dt, [...fvals(rng, n, -2, 2), 1]);
              const gx = nans(dt, n + 1);
              const want = nans('float64', n + 1);
              const g = guard({ x, gy });
              C.unaryGrad(s.op, x, gy, gx, n, p0, p1);
              g(`unaryGrad ${s.op}`);
              O.unaryGrad(s.op, Float64Array.from(x), Float64Array.from(gy), want, n, p0, p1);
              // atol is relative to max(|want|, |gy|): e.g. tanh' = 1 - tanh^2 is computed with
              // absolute (not relative) accuracy where it is tiny, as PyTorch does
              assertClose(gx, want, tolFor(dt), `unaryGrad ${s.op}(p0=${p0}, p1=${p1}) ${dt} n=${n}`, maxAbs(gy));
            }
        });
      check("clamp' is 1 at the boundaries (PyTorch convention), 0 outside", () => {
        for (const dt of ['float32', 'float64'] as const) {
          const x = mk(dt, [-1, -0.5, 0, 0.75, 1]);
          const gy = mk(dt, [1, 1, 1, 1, 1]);
          const gx = nans(dt, 5);
          C.unaryGrad('clamp', x, gy, gx, 5, -0.5, 0.75);
          assert.deepEqual(Array.from(gx), [0, 1, 1, 1, 0], `clamp' ${dt}`);
        }
      });
    });
  }

  // ===========================================================================================
  // binary / where
  // ===========================================================================================
  const BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
  function binaryGens(op: BinaryOp, rng: Rng): [() => number, () => number] {
    switch (op) {
      case 'div':
        return [() => fr(uniform(rng, -4, 4)), () => fr((rng() < 0.5 ? -1 : 1) * uniform(rng, 0.25, 4))];
      case 'pow':
        return [() => fr(uniform(rng, 0.1, 4)), () => fr(uniform(rng, -2, 3))];
      case 'eq':
      case 'ne':
      case 'lt':
      case 'le':
      case 'gt':
      case 'ge':
      case 'maximum':
      case 'minimum':
        // many equal values so ties/equality are exercised
        return [
          () => (rng() < 0.8 ? randInt(rng, -2, 3) : fr(uniform(rng, -2, 2))),
          () => (rng() < 0.8 ? randInt(rng, -2, 3) : fr(uniform(rng, -2, 2))),
        ];
      default:
        return [() => fr(uniform(rng, -4, 4)), () => fr(uniform(rng, -4, 4))];
    }
  }
  // float32 tolerance: arithmetic within ~2 ulp (rtol 3e-7), comparisons / max / min exact,
  // pow rtol 1e-5 + atol 1e-6 x max. float64: rtol 1e-13 (pow 1e-12).
  function binaryTol(op: BinaryOp, dt: CDT): Tol {
    if (dt === 'float64') return op === 'pow' ? { rtol: 1e-12, atol: 1e-13 } : { rtol: 1e-13, atol: 0 };
    if (op === 'pow') return { rtol: 1e-5, atol: 1e-6 };
    if (op === 'add' || op === 'sub' || op === 'mul' || op === 'div') return { rtol: 3e-7, atol: 0 };
    return EXACT;
  }
  function randomShape(rng: Rng, maxRank = 5, maxSize = 3000): number[] {
    const dims = [1, 2, 3, 4, 5, 7];
    for (;;) {
      const r = randInt(rng, 1, maxRank + 1);
      const s = Array.from({ length: r }, () => dims[randInt(rng, 0, dims.length)]!);
      if (prod(s) <= maxSize) return s;
    }
  }
  const MODES: Mode[] = ['contig', 'bcast', 'scalar', 'permuted', 'padded'];
  interface BCase {
    shape: number[];
    ma: Mode;
    mb: Mode;
    dt: CDT;
  }
  function binaryCases(rng: Rng): BCase[] {
    const cases: BCase[] = [
      { shape: [1], ma: 'contig', mb: 'contig', dt: 'float32' },
      { shape: [7], ma: 'contig', mb: 'scalar', dt: 'float32' },
      { shape: [70001], ma: 'contig', mb: 'contig', dt: 'float32' },
      { shape: [257, 300], ma: 'contig', mb: 'bcast', dt: 'float32' },
      { shape: [300, 257], ma: 'permuted', mb: 'contig', dt: 'float32' },
      { shape: [3, 4], ma: 'bcast', mb: 'bcast', dt: 'float32' },
      { shape: [2, 3, 4, 5, 2], ma: 'padded', mb: 'bcast', dt: 'float32' },
      { shape: [5, 1, 3], ma: 'scalar', mb: 'permuted', dt: 'float32' },
      { shape: [4, 5, 3], ma: 'bcast', mb: 'padded', dt: 'float64' },
      { shape: [16, 70, 71], ma: 'permuted', mb: 'bcast', dt: 'float32' },
      { shape: [4, 64, 300], ma: 'padded', mb: 'bcast', dt: 'float32' },
      { shape: [2, 3, 50, 7, 37], ma: 'bcast', mb: 'permuted', dt: 'float32' },
    ];
    for (let i = 0; i < 12; i++)
      cases.push({
        shape: randomShape(rng),
        ma: MODES[randInt(rng, 0, 5)]!,
        mb: MODES[randInt(rng, 0, 5)]!,
        dt: i < 10 ? 'float32' : 'float64',
      });
    return cases;
  }
  function binaryTests(): void {
    kernel('binary', () => {
      for (const op of BINARY)
        check(`${op}: broadcasting (stride 0, scalars), permuted/padded strides, rank 1..5, 70k+`, (rng) => {
          const [ga, gb] = binaryGens(op, rng);
          for (const bc of binaryCases(rng)) {
            const A = makeOperand(rng, bc.shape, bc.ma, ga);
            const B = makeOperand(rng, bc.shape, bc.mb, gb);
            const n = prod(bc.shape);
            const a = mk(bc.dt, A.vals);
            const b = mk(bc.dt, B.vals);
            const out = nans(bc.dt, n);
            const want = nans('float64', n);
            const p = { op, aOffset: A.offset, aStrides: A.strides, bOffset: B.offset, bStrides: B.strides, shape: bc.shape };
            const g = guard({ a, b });
            C.binary({ ...p, a, b, out });
            g(`binary ${op}`);
            O.binary({ ...p, a: Float64Array.from(a), b: Float64Array.from(b), out: want });
            assertClose(
              out,
              want,
              binaryTol(op, bc.dt),
              `binary ${op} ${bc.dt} shape ${JSON.stringify(bc.shape)} a(${bc.ma}, off ${A.offset}, strides ${JSON.stringify(A.strides)}) b(${bc.mb}, off ${B.offset}, strides ${JSON.stringify(B.strides)})`,
            );
          }
        });
    });
  }
  function whereTests(): void {
    kernel('where', () => {
      check('broadcast cond/a/b (stride 0, scalars, permuted), cond values 0, -0, 1, 0.5, -2; exact', (rng) => {
        const condVals = [0, -0, 1, 0.5, -2];
        for (const bc of binaryCases(rng)) {
          const mc = MODES[randInt(rng, 0, 5)]!;
          const Cd = makeOperand(rng, bc.shape, mc, () => condVals[randInt(rng, 0, condVals.length)]!);
          const A = makeOperand(rng, bc.shape, bc.ma, () => fr(uniform(rng, -3, 3)));
          const B = makeOperand(rng, bc.shape, bc.mb, () => fr(uniform(rng, -3, 3)));
          const n = prod(bc.shape);
          const cond = mk(bc.dt, Cd.vals);
          const a = mk(bc.dt, A.vals);
          const b = mk(bc.dt, B.vals);
          const out = nans(bc.dt, n);
          const want = nans('float64', n);
          const p = {
            condOffset: Cd.offset,
            condStrides: Cd.strides,
            aOffset: A.offset,
            aStrides: A.strides,
            bOffset: B.offset,
            bStrides: B.strides,
            shape: bc.shape,
          };
          const g = guard({ cond, a, b });
          C.where({ ...p, cond, a, b, out });
          g('where');
          O.where({ ...p, cond: Float64Array.from(cond), a: Float64Array.from(a), b: Float64Array.from(b), out: want });
          assertClose(out, want, EXACT, `where ${bc.dt} shape ${JSON.stringify(bc.shape)} cond ${mc} a ${bc.ma} b ${bc.mb}`);
        }
      });
    });
  }

  // ===========================================================================================
  // reduce / argmax
  // ===========================================================================================
  const RSHAPES: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 1],
    [3, 5, 1],
    [1, 5, 3],
    [4, 6, 5],
    [5, 1, 7],
    [2, 257, 131],
    [1, 70001, 1],
    [300, 3, 77],
    [70001, 1, 1],
  ];
  function reduceTests(): void {
    kernel('reduce', () => {
      for (const op of ['sum', 'max', 'min'] as ReduceOp[])
        check(`${op} over [outer, size, inner] shapes incl. 70001 (f32; f64)`, (rng) => {
          for (const [dt, shapes] of [
            ['float32', RSHAPES],
            ['float64', [[3, 50, 7] as [number, number, number], [1, 1001, 1] as [number, number, number]]],
          ] as const)
            for (const [o, s, i] of shapes) {
              const n = o * s * i;
              const xv = fvals(rng, n, -3, 3);
              const x = mk(dt, xv);
              const out = nans(dt, o * i + 2);
              const want = nans('float64', o * i + 2);
              const g = guard({ x });
              C.reduce(op, x, out, o, s, i);
              g(`reduce ${op}`);
              O.reduce(op, Float64Array.from(x), want, o, s, i);
              const what = `reduce ${op} ${dt} [${o}, ${s}, ${i}]`;
              if (op !== 'sum') assertClose(out, want, EXACT, what);
              else {
                // sum tolerance: |err| <= (1e-6 f32 | 1e-14 f64) * sqrt(size) * sum |x|
                const absSum = new Float64Array(o * i + 2);
                O.reduce('sum', xv.map(Math.abs), absSum, o, s, i);
                const e = dt === 'float32' ? 1e-6 : 1e-14;
                assertClose(
                  out,
                  want,
                  Array.from(absSum, (v) => e * Math.sqrt(s) * v + 1e-30),
                  what,
                );
              }
            }
        });
      check('max / min with infinities: rows of all -Infinity / +Infinity (f32 large, f64)', () => {
        for (const dt of ['float32', 'float64'] as const)
          for (const [o, s, i] of [
            [3, 4, 1],
            [2, 70001, 1],
            [2, 300, 129],
          ] as const) {
            const n = o * s * i;
            const x = mk(dt, new Float64Array(n).fill(-Infinity));
            const out = nans(dt, o * i);
            C.reduce('max', x, out, o, s, i);
            assert.ok(
              out.every((v) => v === -Infinity),
              `${dt} [${o}, ${s}, ${i}] max of all -Infinity: ${out.find((v) => v !== -Infinity)}`,
            );
            x.fill(Infinity);
            C.reduce('min', x, out, o, s, i);
            assert.ok(
              out.every((v) => v === Infinity),
              `${dt} [${o}, ${s}, ${i}] min of all +Infinity: ${out.find((v) => v !== Infinity)}`,
            );
            x[n - 1] = -Infinity;
            x[0] = 3;
            const want = nans('float64', o * i);
            O.reduce('min', Float64Array.from(x), want, o, s, i);
            C.reduce('min', x, out, o, s, i);
            assertClose(out, want, EXACT, `${dt} [${o}, ${s}, ${i}] min with a -Infinity`);
          }
      });
      check('sum of small integers is exact (every element counted once)', (rng) => {
        for (const [o, s, i] of [
          [1, 70001, 1],
          [2, 257, 131],
          [300, 3, 77],
          [7, 1000, 3],
        ] as const) {
          const x = Float32Array.from(ivals(rng, o * s * i, -3, 3));
          const out = nans('float32', o * i);
          const want = nans('float64', o * i);
          C.reduce('sum', x, out, o, s, i);
          O.reduce('sum', Float64Array.from(x), want, o, s, i);
          assertClose(out, want, EXACT, `sum [${o}, ${s}, ${i}]`);
        }
      });
    });
    kernel('argmax', () => {
      check('first maximum along the middle axis (ties), shapes incl. 70001, f32 and f64', (rng) => {
        for (const dt of ['float32', 'float64'] as const)
          for (const [o, s, i] of RSHAPES) {
            const xv = rng() < 0.5 ? ivals(rng, o * s * i, 0, 4) : fvals(rng, o * s * i, -3, 3);
            const x = mk(dt, xv);
            const out = new Int32Array(o * i + 1).fill(12345);
            const want = new Int32Array(o * i + 1).fill(12345);
            const g = guard({ x });
            C.argmax(x, out, o, s, i);
            g('argmax');
            O.argmax(Float64Array.from(x), want, o, s, i);
            assert.deepEqual(Array.from(out), Array.from(want), `argmax ${dt} [${o}, ${s}, ${i}]`);
          }
      });
      check('NaN counts as maximal (first NaN wins); rows of -Infinity give index 0', () => {
        for (const dt of ['float32', 'float64'] as const) {
          const x = mk(dt, [1, NaN, 5, NaN, /* row 2 */ -Infinity, -Infinity, -Infinity, -Infinity, /* row 3 */ 2, 9, 9, 1]);
          const out = new Int32Array(3).fill(12345);
          C.argmax(x, out, 3, 4, 1);
          assert.deepEqual(Array.from(out), [1, 0, 1], `argmax ${dt}`);
          const want = new Int32Array(3).fill(12345);
          O.argmax(Float64Array.from(x), want, 3, 4, 1);
          assert.deepEqual(Array.from(out), Array.from(want), `argmax ${dt} vs oracle`);
        }
      });
    });
  }

  // ===========================================================================================
  // softmax / softmaxGrad
  // ===========================================================================================
  function softmaxTests(): void {
    const shapes: [number, number][] = [
      [1, 1],
      [3, 7],
      [4, 1000],
      [300, 257],
      [2, 70001],
    ];
    // tolerance f32: rtol 1e-5, atol 1e-6 x max|want| (log: rtol 1e-5, atol 2e-6 x max); f64 1e-12.
    const tol = (dt: CDT): Tol => (dt === 'float32' ? { rtol: 1e-5, atol: 2e-6 } : { rtol: 1e-12, atol: 1e-13 });
    kernel('softmax', () => {
      for (const log of [false, true])
        check(`${log ? 'log_softmax' : 'softmax'}: shapes, large offsets, -Infinity entries and rows`, (rng) => {
          for (const dt of ['float32', 'float64'] as const)
            for (const [r, c] of dt === 'float64' ? shapes.slice(0, 3) : shapes) {
              const xv = fvals(rng, r * c, -5, 5);
              // row 0 shifted by +80 (needs max subtraction), last row with a few -Infinity entries
              for (let j = 0; j < c; j++) xv[j] = fr(xv[j]! + 80);
              if (r > 1 && c > 2) for (let j = 0; j < c; j += 3) xv[(r - 1) * c + j] = -Infinity;
              const x = mk(dt, xv);
              const out = nans(dt, r * c);
              const want = nans('float64', r * c);
              const g = guard({ x });
              C.softmax(x, out, r, c, log);
              g('softmax');
              O.softmax(Float64Array.from(x), want, r, c, log);
              assertClose(out, want, tol(dt), `softmax(log=${log}) ${dt} [${r}, ${c}]`);
            }
        });
      check('a row of all -Infinity gives NaN (like PyTorch), other rows unaffected', () => {
        for (const log of [false, true]) {
          const x = Float32Array.from([1, 2, 3, -Infinity, -Infinity, -Infinity, 0, 0, 0]);
          const out = nans('float32', 9);
          C.softmax(x, out, 3, 3, log);
          const want = nans('float64', 9);
          O.softmax(Float64Array.from(x), want, 3, 3, log);
          for (let j = 3; j < 6; j++) assert.ok(Number.isNaN(out[j]!), `log=${log}: out[${j}] = ${out[j]} should be NaN`);
          assertClose(out, want, tol('float32'), `softmax(log=${log}) with -Inf row`);
        }
      });
    });
    kernel('softmaxGrad', () => {
      for (const log of [false, true])
        check(`${log ? 'log_softmax' : 'softmax'} backward (f32 tol rtol 1e-5, atol 1e-5 x max)`, (rng) => {
          for (const dt of ['float32', 'float64'] as const)
            for (const [r, c] of dt === 'float64' ? shapes.slice(0, 3) : shapes.slice(0, 4)) {
              const xv = fvals(rng, r * c, -4, 4);
              const y64 = new Float64Array(r * c);
              O.softmax(xv, y64, r, c, log);
              const y = mk(dt, dt === 'float32' ? Array.from(y64, fr) : y64);
              const gy = mk(dt, fvals(rng, r * c, -2, 2));
              const gx = nans(dt, r * c);
              const want = nans('float64', r * c);
              const g = guard({ y, gy });
              C.softmaxGrad(y, gy, gx, r, c, log);
              g('softmaxGrad');
              O.softmaxGrad(Float64Array.from(y), Float64Array.from(gy), want, r, c, log);
              assertClose(
                gx,
                want,
                dt === 'float32' ? { rtol: 1e-5, atol: 1e-5 } : { rtol: 1e-11, atol: 1e-12 },
                `softmaxGrad(log=${log}) ${dt} [${r}, ${c}]`,
              );
            }
        });
    });
  }

  // ===========================================================================================
  // layerNorm / rmsNorm and grads
  // ===========================================================================================
  function normTests(): void {
    const shapes: [number, number, number][] = [
      // rows, cols, eps
      [1, 1, 1e-5],
      [3, 7, 1e-5],
      [5, 768, 1e-5],
      [4, 64, 0.1],
      [64, 1031, 1e-6],
    ];
    // forward f32 tolerance: rtol 1e-5, atol 1e-5 x max|want|; grads: rtol 1e-5, atol 2e-5 x max.
    const fwdTol = (dt: CDT): Tol => (dt === 'float32' ? { rtol: 1e-5, atol: 1e-5 } : { rtol: 1e-11, atol: 1e-12 });
    const gradTol = (dt: CDT): Tol => (dt === 'float32' ? { rtol: 1e-5, atol: 2e-5 } : { rtol: 1e-10, atol: 1e-11 });
    const affine: [boolean, boolean][] = [
      [true, true],
      [true, false],
      [false, false],
    ];
    kernel('layerNorm', () => {
      check('with/without w and b, eps, 66k elements (f32; f64)', (rng) => {
        for (const dt of ['float32', 'float64'] as const)
          for (const [r, c, eps] of dt === 'float64' ? shapes.slice(0, 4) : shapes)
            for (const [hw, hb] of affine) {
              const x = mk(dt, fvals(rng, r * c, -2, 3));
              const w = hw ? mk(dt, fvals(rng, c, 0.5, 1.5)) : null;
              const b = hb ? mk(dt, fvals(rng, c, -1, 1)) : null;
              const out = nans(dt, r * c);
              const mean = nans(dt, r);
              const rstd = nans(dt, r);
              const o = [nans('float64', r * c), nans('float64', r), nans('float64', r)] as const;
              const g = guard({ x, w, b });
              C.layerNorm(x, w, b, out, mean, rstd, r, c, eps);
              g('layerNorm');
              const f64 = (a: FloatArray | null): Float64Array | null => (a ? Float64Array.from(a) : null);
              O.layerNorm(Float64Array.from(x), f64(w), f64(b), o[0], o[1], o[2], r, c, eps);
              const what = `layerNorm ${dt} [${r}, ${c}] eps ${eps} w=${hw} b=${hb}`;
              assertClose(out, o[0], fwdTol(dt), `${what} out`);
              assertClose(mean, o[1], fwdTol(dt), `${what} mean`);
              assertClose(rstd, o[2], fwdTol(dt), `${what} rstd`);
            }
      });
      check('numerically stable variance: rows with mean 300, std 1 (f32, atol 1e-4 x max)', (rng) => {
        const [r, c] = [8, 512];
        const xv = new Float64Array(r * c);
        for (let i = 0; i < xv.length; i++) xv[i] = fr(300 + normal(rng));
        const out = nans('float32', r * c);
        const mean = nans('float32', r);
        const rstd = nans('float32', r);
        C.layerNorm(Float32Array.from(xv), null, null, out, mean, rstd, r, c, 1e-5);
        const want = [new Float64Array(r * c), new Float64Array(r), new Float64Array(r)] as const;
        O.layerNorm(xv, null, null, want[0], want[1], want[2], r, c, 1e-5);
        assertClose(out, want[0], { rtol: 0, atol: 1e-4 }, 'out');
        assertClose(rstd, want[2], { rtol: 1e-4, atol: 0 }, 'rstd');
      });
    });
    kernel('layerNormGrad', () => {
      check('gx written, gw/gb accumulated (+=) into pre-filled buffers; w/gw/gb null combos', (rng) => {
        for (const dt of ['float32', 'float64'] as const)
          for (const [r, c, eps] of dt === 'float64' ? shapes.slice(0, 4) : shapes)
            for (const [hw, hg] of [
              [true, true],
              [true, false],
              [false, false],
              [false, true],
            ] as const) {
              const xv = fvals(rng, r * c, -2, 3);
              const wv = hw ? fvals(rng, c, 0.5, 1.5) : null;
              const fw = [new Float64Array(r * c), new Float64Array(r), new Float64Array(r)] as const;
              O.layerNorm(xv, wv, null, fw[0], fw[1], fw[2], r, c, eps);
              const x = mk(dt, xv);
              const w = wv ? mk(dt, wv) : null;
              const mean = mk(dt, dt === 'float32' ? Array.from(fw[1], fr) : fw[1]);
              const rstd = mk(dt, dt === 'float32' ? Array.from(fw[2], fr) : fw[2]);
              const gy = mk(dt, fvals(rng, r * c, -1, 1));
              const gx = nans(dt, r * c);
              const gwInit = fvals(rng, c, -1, 1);
              const gbInit = fvals(rng, c, -1, 1);
              const gw = hg ? mk(dt, gwInit) : null;
              const gb = hg ? mk(dt, gbInit) : null;
              const g = guard({ x, w, mean, rstd, gy });
              C.layerNormGrad(x, w, mean, rstd, gy, gx, gw, gb, r, c);
              g('layerNormGrad');
              const want = nans('float64', r * c);
              const wgw = hg ? Float64Array.from(gwInit) : null;
              const wgb = hg ? Float64Array.from(gbInit) : null;
              const f64 = (a: FloatArray | null): Float64Array | null => (a ? Float64Array.from(a) : null);
              O.layerNormGrad(
                Float64Array.from(x),
                f64(w),
                Float64Array.from(mean),
                Float64Array.from(rstd),
                Float64Array.from(gy),
                want,
                wgw,
                wgb,
                r,
                c,
              );
              const what = `layerNormGrad ${dt} [${r}, ${c}] w=${hw} gw/gb=${hg}`;
              assertClose(gx, want, gradTol(dt), `${what} gx`);
              if (gw && wgw && gb && wgb) {
                assertClose(gw, wgw, gradTol(dt), `${what} gw (accumulated)`);
                assertClose(gb, wgb, gradTol(dt), `${what} gb (accumulated)`);
                // independent of the oracle: with zero-filled gw/gb the difference is the prefill
                const gw0 = mk(dt, new Float64Array(c));
                const gb0 = mk(dt, new Float64Array(c));
                C.layerNormGrad(x, w, mean, rstd, gy, nans(dt, r * c), gw0, gb0, r, c);
                const diffTol: Tol = dt === 'float32' ? { rtol: 1e-6, atol: 1e-6 } : { rtol: 1e-13, atol: 1e-13 };
                assertClose(
                  Array.from(gw, (v, i) => v - gw0[i]!),
                  gwInit,
                  diffTol,
                  `${what} gw - gw(0-filled) = prefill`,
                );
                assertClose(
                  Array.from(gb, (v, i) => v - gb0[i]!),
                  gbInit,
                  diffTol,
                  `${what} gb - gb(0-filled) = prefill`,
                );
              }
            }
      });
    });
    kernel('rmsNorm', () => {
      check('with/without w, eps, 66k elements (f32; f64)', (rng) => {
        for (const dt of ['float32', 'float64'] as const)
          for (const [r, c, eps] of dt === 'float64' ? shapes.slice(0, 4) : shapes)
            for (const hw of [true, false]) {
              const x = mk(dt, fvals(rng, r * c, -2, 3));
              const w = hw ? mk(dt, fvals(rng, c, 0.5, 1.5)) : null;
              const out = nans(dt, r * c);
              const rstd = nans(dt, r);
              const g = guard({ x, w });
              C.rmsNorm(x, w, out, rstd, r, c, eps);
              g('rmsNorm');
              const wo = nans('float64', r * c);
              const wr = nans('float64', r);
              O.rmsNorm(Float64Array.from(x), w ? Float64Array.from(w) : null, wo, wr, r, c, eps);
              const what = `rmsNorm ${dt} [${r}, ${c}] eps ${eps} w=${hw}`;
              assertClose(out, wo, fwdTol(dt), `${what} out`);
              assertClose(rstd, wr, fwdTol(dt), `${what} rstd`);
            }
      });
    });
    kernel('rmsNormGrad', () => {
      check('gx written, gw accumulated (+=) into a pre-filled buffer; w/gw null combos', (rng) => {
        for (const dt of ['float32', 'float64'] as const)
          for (const [r, c, eps] of dt === 'float64' ? shapes.slice(0, 4) : shapes)
            for (const [hw, hg] of [
              [true, true],
              [true, false],
              [false, false],
            ] as const) {
              const xv = fvals(rng, r * c, -2, 3);
              const wv = hw ? fvals(rng, c, 0.5, 1.5) : null;
              const fo = new Float64Array(r * c);
              const fr64 = new Float64Array(r);
              O.rmsNorm(xv, wv, fo, fr64, r, c, eps);
              const x = mk(dt, xv);
              const w = wv ? mk(dt, wv) : null;
              const rstd = mk(dt, dt === 'float32' ? Array.from(fr64, fr) : fr64);
              const gy = mk(dt, fvals(rng, r * c, -1, 1));
              const gx = nans(dt, r * c);
              const gwInit = fvals(rng, c, -1, 1);
              const gw = hg ? mk(dt, gwInit) : null;
              const g = guard({ x, w, rstd, gy });
              C.rmsNormGrad(x, w, rstd, gy, gx, gw, r, c);
              g('rmsNormGrad');
              const want = nans('float64', r * c);
              const wgw = hg ? Float64Array.from(gwInit) : null;
              O.rmsNormGrad(
                Float64Array.from(x),
                w ? Float64Array.from(w) : null,
                Float64Array.from(rstd),
                Float64Array.from(gy),
                want,
                wgw,
                r,
                c,
              );
              const what = `rmsNormGrad ${dt} [${r}, ${c}] w=${hw} gw=${hg}`;
              assertClose(gx, want, gradTol(dt), `${what} gx`);
              if (gw && wgw) {
                assertClose(gw, wgw, gradTol(dt), `${what} gw (accumulated)`);
                const gw0 = mk(dt, new Float64Array(c));
                C.rmsNormGrad(x, w, rstd, gy, nans(dt, r * c), gw0, r, c);
                const diffTol: Tol = dt === 'float32' ? { rtol: 1e-6, atol: 1e-6 } : { rtol: 1e-13, atol: 1e-13 };
                assertClose(
                  Array.from(gw, (v, i) => v - gw0[i]!),
                  gwInit,
                  diffTol,
                  `${what} gw - gw(0-filled) = prefill`,
                );
              }
            }
      });
    });
  }

  // ===========================================================================================
  // indexing
  // ===========================================================================================
  function indexingTests(): void {
    const idsWithRepeats = (rng: Rng, n: number, rows: number): Int32Array => {
      const ids = new Int32Array(n);
      for (let i = 0; i < n; i++) ids[i] = i < n / 4 ? randInt(rng, 0, Math.min(rows, 3)) : randInt(rng, 0, rows);
      if (n > 2) {
        ids[0] = rows - 1;
        ids[n - 1] = 0;
      }
      return ids;
    };
    kernel('indexSelect', () => {
      // exact: decoding f16/bf16 and copying f32/f64 must be lossless
      const cases: [number, number, number][] = [
        [1, 1, 1],
        [50, 7, 20],
        [13, 1, 9],
        [5000, 257, 300],
        [10, 5, 0],
      ];
      for (const tdt of ['float32', 'float64', 'float16', 'bfloat16'] as const)
        check(`table ${tdt}: repeats, cols 1, 77k outputs, empty ids (exact)`, (rng) => {
          for (const [rows, cols, n] of cases) {
            const table = encodeWeights(tdt, fvals(rng, rows * cols, -3, 3));
            const ids = idsWithRepeats(rng, n, rows);
            // a float32 table goes with float32 output (one compute dtype); f16/bf16 with either
            const outs: CDT[] = tdt === 'float64' ? ['float64'] : tdt === 'float32' ? ['float32'] : ['float32', 'float64'];
            for (const odt of outs) {
              const out = nans(odt, n * cols);
              const g = guard({ table, ids });
              C.indexSelect(table, tdt, rows, cols, ids, out);
              g('indexSelect');
              const want = nans('float64', n * cols);
              const oTable: WeightArray = tdt === 'float32' ? Float64Array.from(table) : table;
              O.indexSelect(oTable, tdt === 'float32' ? 'float64' : tdt, rows, cols, ids, want);
              assertClose(out, want, EXACT, `indexSelect table ${tdt} -> ${odt} [${rows}, ${cols}] ids ${n}`);
            }
          }
        });
      check('every f16 / bf16 bit pattern decodes exactly (65536-row table, out f32 and f64)', (rng) => {
        const table = new Uint16Array(65536);
        for (let i = 0; i < 65536; i++) table[i] = i;
        const ids = Int32Array.from(shuffle(rng, [...Array(65536).keys()]));
        for (const tdt of ['float16', 'bfloat16'] as const)
          for (const odt of ['float32', 'float64'] as const) {
            const out = nans(odt, 65536);
            C.indexSelect(table, tdt, 65536, 1, ids, out);
            const lut = tdt === 'float16' ? F16_LUT : BF16_LUT;
            assertSameStorage(
              odt,
              out,
              mk(
                odt,
                Array.from(ids, (id) => lut[id]!),
              ),
              `${tdt} table -> ${odt}`,
            );
          }
      });
      check('out-of-range ids throw naming the kernel and the id; backend still works after', (rng) => {
        const table = Float32Array.from(fvals(rng, 50 * 4, -1, 1));
        for (const bad of [-1, 50, 1 << 30]) {
          const ids = Int32Array.from([0, 3, bad, 1]);
          assertThrowsNaming(
            () => C.indexSelect(table, 'float32', 50, 4, ids, new Float32Array(16)),
            'indexSelect',
            `id ${bad}`,
            String(bad),
          );
          const h = new Uint16Array(200);
          assertThrowsNaming(
            () => C.indexSelect(h, 'float16', 50, 4, ids, new Float32Array(16)),
            'indexSelect',
            `f16 table, id ${bad}`,
          );
        }
        const out = nans('float32', 8);
        C.indexSelect(table, 'float32', 50, 4, Int32Array.from([49, 0]), out);
        assert.deepEqual(Array.from(out), [...Array.from(table.subarray(196, 200)), ...Array.from(table.subarray(0, 4))]);
      });
    });
    kernel('indexAdd', () => {
      // f32 tolerance: rtol 1e-6, atol 1e-6 x max (a few repeated additions)
      check('g[ids[i]] += src[i] with repeats, pre-filled g (f32, f64), 128k updates', (rng) => {
        for (const dt of ['float32', 'float64'] as const)
          for (const [rows, cols, n] of [
            [1, 1, 1],
            [50, 7, 40],
            [13, 1, 30],
            [5000, 64, 2000],
          ] as const) {
            const src = mk(dt, fvals(rng, n * cols, -2, 2));
            const ids = idsWithRepeats(rng, n, rows);
            const gInit = fvals(rng, rows * cols, -1, 1);
            const gg = mk(dt, gInit);
            const guardIn = guard({ src, ids });
            C.indexAdd(src, ids, gg, rows, cols);
            guardIn('indexAdd');
            const want = Float64Array.from(gInit);
            O.indexAdd(Float64Array.from(src), ids, want, rows, cols);
            assertClose(
              gg,
              want,
              dt === 'float32' ? { rtol: 1e-6, atol: 1e-6 } : { rtol: 1e-14, atol: 1e-14 },
              `indexAdd ${dt} [${rows}, ${cols}] n ${n}`,
            );
          }
      });
      check('heavy contention: 20000 ids in [0, 4), cols 300, small integers (exact)', (rng) => {
        const [rows, cols, n] = [4, 300, 20000];
        const src = Float32Array.from(ivals(rng, n * cols, -3, 3));
        const ids = Int32Array.from({ length: n }, () => randInt(rng, 0, rows));
        const gInit = ivals(rng, rows * cols, -5, 5);
        const gg = Float32Array.from(gInit);
        C.indexAdd(src, ids, gg, rows, cols);
        const want = Float64Array.from(gInit);
        O.indexAdd(Float64Array.from(src), ids, want, rows, cols);
        assertClose(gg, want, EXACT, 'indexAdd');
      });
      check('out-of-range ids throw naming the kernel', (rng) => {
        for (const bad of [-1, 50]) {
          const ids = Int32Array.from([0, bad]);
          assertThrowsNaming(
            () => C.indexAdd(Float32Array.from(fvals(rng, 8, -1, 1)), ids, new Float32Array(200), 50, 4),
            'indexAdd',
            `id ${bad}`,
          );
        }
      });
    });
    kernel('gather', () => {
      check('out[r, j] = x[r, idx[r, j]] (exact; f32, f64; repeats; 60k)', (rng) => {
        for (const dt of ['float32', 'float64'] as const)
          for (const [rows, cols, k] of [
            [1, 1, 1],
            [5, 7, 3],
            [4, 3, 9],
            [300, 257, 200],
          ] as const) {
            const x = mk(dt, fvals(rng, rows * cols, -3, 3));
            const idx = new Int32Array(rows * k);
            for (let i = 0; i < idx.length; i++) idx[i] = randInt(rng, 0, cols);
            idx[0] = cols - 1;
            const out = nans(dt, rows * k);
            const g = guard({ x, idx });
            C.gather(x, idx, out, rows, cols, k);
            g('gather');
            const want = nans('float64', rows * k);
            O.gather(Float64Array.from(x), idx, want, rows, cols, k);
            assertClose(out, want, EXACT, `gather ${dt} [${rows}, ${cols}] k ${k}`);
          }
      });
      check('out-of-range indices throw naming the kernel', (rng) => {
        for (const bad of [-1, 7]) {
          const idx = Int32Array.from([0, 1, 2, bad]);
          assertThrowsNaming(
            () => C.gather(Float32Array.from(fvals(rng, 14, -1, 1)), idx, new Float32Array(4), 2, 7, 2),
            'gather',
            `index ${bad}`,
          );
        }
      });
    });
    kernel('scatterAdd', () => {
      check('g[r, idx[r, j]] += src[r, j] with repeats, pre-filled g (f32, f64)', (rng) => {
        for (const dt of ['float32', 'float64'] as const)
          for (const [rows, cols, k] of [
            [1, 1, 1],
            [5, 7, 3],
            [4, 3, 9],
            [300, 257, 200],
          ] as const) {
            const src = mk(dt, fvals(rng, rows * k, -2, 2));
            const idx = new Int32Array(rows * k);
            for (let i = 0; i < idx.length; i++) idx[i] = randInt(rng, 0, cols);
            const gInit = fvals(rng, rows * cols, -1, 1);
            const gg = mk(dt, gInit);
            const guardIn = guard({ src, idx });
            C.scatterAdd(src, idx, gg, rows, cols, k);
            guardIn('scatterAdd');
            const want = Float64Array.from(gInit);
            O.scatterAdd(Float64Array.from(src), idx, want, rows, cols, k);
            assertClose(
              gg,
              want,
              dt === 'float32' ? { rtol: 1e-6, atol: 1e-6 } : { rtol: 1e-14, atol: 1e-14 },
              `scatterAdd ${dt} [${rows}, ${cols}] k ${k}`,
            );
          }
      });
      check('heavy contention: rows 3, cols 4, k 30000 (exact small integers)', (rng) => {
        const [rows, cols, k] = [3, 4, 30000];
        const src = Float32Array.from(ivals(rng, rows * k, -3, 3));
        const idx = Int32Array.from({ length: rows * k }, () => randInt(rng, 0, cols));
        const gInit = ivals(rng, rows * cols, -5, 5);
        const gg = Float32Array.from(gInit);
        C.scatterAdd(src, idx, gg, rows, cols, k);
        const want = Float64Array.from(gInit);
        O.scatterAdd(Float64Array.from(src), idx, want, rows, cols, k);
        assertClose(gg, want, EXACT, 'scatterAdd');
      });
      check('out-of-range indices throw naming the kernel', (rng) => {
        for (const bad of [-1, 7]) {
          const idx = Int32Array.from([0, bad, 2, 3]);
          assertThrowsNaming(
            () => C.scatterAdd(Float32Array.from(fvals(rng, 4, -1, 1)), idx, new Float32Array(14), 2, 7, 2),
            'scatterAdd',
            `index ${bad}`,
          );
        }
      });
    });
  }

  // ===========================================================================================
  // rope
  // ===========================================================================================
  function ropeTests(): void {
    interface RopeCase {
      B: number;
      H: number;
      T: number;
      D: number;
      rd: number;
    }
    const cases: RopeCase[] = [
      { B: 1, H: 1, T: 1, D: 2, rd: 2 },
      { B: 2, H: 3, T: 5, D: 10, rd: 6 },
      { B: 2, H: 4, T: 7, D: 64, rd: 64 },
      { B: 1, H: 2, T: 3, D: 80, rd: 32 },
      { B: 1, H: 32, T: 64, D: 128, rd: 128 },
    ];
    const P = 100;
    function tables(dt: CDT, rd: number): [FloatArray, FloatArray] {
      const half = rd / 2;
      const cos = new Float64Array(P * half);
      const sin = new Float64Array(P * half);
      for (let p = 0; p < P; p++)
        for (let i = 0; i < half; i++) {
          const a = p * 10000 ** (-(2 * i) / rd);
          // float32: tables rounded to float32 (both backends see the same values)
          cos[p * half + i] = dt === 'float32' ? fr(Math.cos(a)) : Math.cos(a);
          sin[p * half + i] = dt === 'float32' ? fr(Math.sin(a)) : Math.sin(a);
        }
      return [mk(dt, cos), mk(dt, sin)];
    }
    kernel('rope', () => {
      // tolerance f32: rtol 1e-5, atol 1e-6 x max|want|; f64: 1e-13. Unrotated features exact.
      for (const layout of ['half', 'interleaved'] as RopeLayout[])
        check(`${layout}: partial rotaryDim, positions out of order, inverse, 262k elements`, (rng) => {
          for (const dt of ['float32', 'float64'] as const)
            for (const cs of dt === 'float64' ? cases.slice(0, 4) : cases) {
              const { B, H, T, D, rd } = cs;
              const n = B * H * T * D;
              const x = mk(dt, fvals(rng, n, -2, 2));
              const positions = new Int32Array(B * T);
              for (let i = 0; i < positions.length; i++) positions[i] = randInt(rng, 0, P);
              const [cos, sin] = tables(dt, rd);
              for (const inverse of [false, true]) {
                const out = nans(dt, n);
                const g = guard({ x, positions, cos, sin });
                C.rope({ x, out, B, H, T, D, rotaryDim: rd, positions, cos, sin, layout, inverse });
                g('rope');
                const want = nans('float64', n);
                O.rope({
                  x: Float64Array.from(x),
                  out: want,
                  B,
                  H,
                  T,
                  D,
                  rotaryDim: rd,
                  positions,
                  cos: Float64Array.from(cos),
                  sin: Float64Array.from(sin),
                  layout,
                  inverse,
                });
                const what = `rope ${layout} ${dt} B${B} H${H} T${T} D${D} rotaryDim ${rd} inverse=${inverse}`;
                assertClose(out, want, dt === 'float32' ? { rtol: 1e-5, atol: 1e-6 } : { rtol: 1e-13, atol: 1e-13 }, what);
                for (let row = 0; row < B * H * T; row++)
                  for (let j = rd; j < D; j++)
                    if (!Object.is(out[row * D + j], x[row * D + j]))
                      assert.fail(`${what}: feature ${j} >= rotaryDim of row ${row} not copied exactly`);
              }
              // inverse undoes forward
              const fwd = nans(dt, n);
              C.rope({ x, out: fwd, B, H, T, D, rotaryDim: rd, positions, cos, sin, layout, inverse: false });
              const back = nans(dt, n);
              C.rope({ x: fwd, out: back, B, H, T, D, rotaryDim: rd, positions, cos, sin, layout, inverse: true });
              assertClose(
                back,
                x,
                dt === 'float32' ? { rtol: 1e-5, atol: 1e-6 } : { rtol: 1e-12, atol: 1e-13 },
                `rope ${layout} ${dt} D${D} rd ${rd}: inverse(forward(x)) = x`,
              );
            }
        });
      check('layouts pair the documented features (hand-checked 1x1x1x4, angle pi/2)', () => {
        const x = Float64Array.from([1, 2, 3, 4]);
        const positions = Int32Array.from([1]);
        // P = 2 rows, rotaryDim/2 = 2 angles: row 1 = pi/2 for both pairs
        const cos = Float64Array.from([1, 1, 0, 0]);
        const sin = Float64Array.from([0, 0, 1, 1]);
        const run = (layout: RopeLayout): number[] => {
          const out = nans('float64', 4);
          C.rope({ x, out, B: 1, H: 1, T: 1, D: 4, rotaryDim: 4, positions, cos, sin, layout, inverse: false });
          return Array.from(out);
        };
        // half: pairs (0,2), (1,3): (x1 cos - x2 sin, x2 cos + x1 sin) = (-x2, x1)
        assert.deepEqual(run('half'), [-3, -4, 1, 2], 'half layout');
        // interleaved: pairs (0,1), (2,3)
        assert.deepEqual(run('interleaved'), [-2, 1, -4, 3], 'interleaved layout');
      });
    });
  }

  // ===========================================================================================
  // attention / attentionGrad
  // ===========================================================================================
  interface AttnCase {
    B: number;
    H: number;
    KVH: number;
    Tq: number;
    Tk: number;
    D: number;
    causal: boolean;
    mask?: number[][];
    scale?: number;
    amp?: number;
    name: string;
  }
  const ATTN: AttnCase[] = [
    { name: 'GQA H6/KVH2 causal Tq=Tk', B: 2, H: 6, KVH: 2, Tq: 5, Tk: 5, D: 16, causal: true },
    { name: 'GQA H6/KVH2 non-causal', B: 2, H: 6, KVH: 2, Tq: 5, Tk: 5, D: 16, causal: false },
    { name: 'MHA KVH=H causal, Tq<Tk (KV cache)', B: 1, H: 6, KVH: 6, Tq: 3, Tk: 11, D: 10, causal: true },
    { name: 'MQA KVH=1 non-causal Tq<Tk', B: 2, H: 4, KVH: 1, Tq: 3, Tk: 8, D: 8, causal: false },
    {
      name: 'decode Tq=1 GQA with mask',
      B: 2,
      H: 6,
      KVH: 2,
      Tq: 1,
      Tk: 17,
      D: 16,
      causal: true,
      mask: [Array(17).fill(1), [0, 0, 0, ...Array(14).fill(1)]],
    },
    {
      name: 'decode Tq=1, odd D, one batch entry with every key masked',
      B: 3,
      H: 4,
      KVH: 4,
      Tq: 1,
      Tk: 9,
      D: 19,
      causal: true,
      mask: [Array(9).fill(1), Array(9).fill(0), [0, 1, 0, 1, 1, 1, 1, 1, 1]],
    },
    {
      name: 'causal + left/right padding, fully masked query rows',
      B: 3,
      H: 6,
      KVH: 2,
      Tq: 7,
      Tk: 7,
      D: 12,
      causal: true,
      mask: [
        [1, 1, 1, 1, 1, 1, 1],
        [0, 0, 0, 1, 1, 1, 1],
        [1, 1, 1, 1, 0, 0, 0],
      ],
    },
    {
      name: 'non-causal, a batch entry with every key masked',
      B: 2,
      H: 2,
      KVH: 2,
      Tq: 4,
      Tk: 6,
      D: 8,
      causal: false,
      mask: [
        [1, 0, 1, 1, 0, 1],
        [0, 0, 0, 0, 0, 0],
      ],
    },
    {
      name: 'causal Tq<Tk with padding and scale 0.3',
      B: 2,
      H: 4,
      KVH: 2,
      Tq: 4,
      Tk: 9,
      D: 16,
      causal: true,
      scale: 0.3,
      mask: [[0, 0, 1, 1, 1, 1, 1, 1, 1], Array(9).fill(1)],
    },
    { name: 'large scores (needs max subtraction)', B: 1, H: 2, KVH: 1, Tq: 6, Tk: 6, D: 16, causal: false, amp: 12 },
    { name: 'D=80 (phi-2 head), D=128', B: 1, H: 4, KVH: 4, Tq: 9, Tk: 9, D: 80, causal: true },
    { name: 'B1 H4 KVH1 T64 D128', B: 1, H: 4, KVH: 1, Tq: 64, Tk: 64, D: 128, causal: true },
    { name: 'B1 H8 T128 D64 (threaded)', B: 1, H: 8, KVH: 8, Tq: 128, Tk: 128, D: 64, causal: true },
    {
      name: 'B2 H8 KVH2 T96 D64 causal, left padding (threaded)',
      B: 2,
      H: 8,
      KVH: 2,
      Tq: 96,
      Tk: 96,
      D: 64,
      causal: true,
      mask: [Array(96).fill(1), [...Array(40).fill(0), ...Array(56).fill(1)]],
    },
    {
      name: 'B2 H8 KVH2 Tq40 Tk200 D64 non-causal, right padding',
      B: 2,
      H: 8,
      KVH: 2,
      Tq: 40,
      Tk: 200,
      D: 64,
      causal: false,
      mask: [Array(200).fill(1), [...Array(150).fill(1), ...Array(50).fill(0)]],
    },
  ];
  function attnInputs(rng: Rng, c: AttnCase) {
    const amp = c.amp ?? 2;
    const q = fvals(rng, c.B * c.H * c.Tq * c.D, -amp, amp);
    const k = fvals(rng, c.B * c.KVH * c.Tk * c.D, -amp, amp);
    const v = fvals(rng, c.B * c.KVH * c.Tk * c.D, -2, 2);
    const keyMask = c.mask ? Uint8Array.from(c.mask.flat()) : null;
    return { q, k, v, keyMask, scale: c.scale ?? 1 / Math.sqrt(c.D) };
  }
  /** (b, h, i) rows with no visible key. */
  function maskedRows(c: AttnCase): boolean[] {
    const res: boolean[] = [];
    for (let b = 0; b < c.B; b++)
      for (let h = 0; h < c.H; h++)
        for (let i = 0; i < c.Tq; i++) {
          let any = false;
          for (let j = 0; j < c.Tk; j++) {
            const visible = (!c.causal || j <= c.Tk - c.Tq + i) && (!c.mask || c.mask[b]![j] === 1);
            if (visible) any = true;
          }
          res.push(!any);
        }
    return res;
  }
  function attentionTests(): void {
    // tolerance f32: out rtol 1e-5, atol 2e-5 x max|out|; lse rtol 1e-5, atol 1e-5 x max|lse|;
    // grads rtol 1e-4, atol 1e-4 x max. f64: 1e-11.
    kernel('attention', () => {
      for (const c of ATTN)
        check(c.name, (rng) => {
          const { q, k, v, keyMask, scale } = attnInputs(rng, c);
          const dims = { B: c.B, H: c.H, KVH: c.KVH, Tq: c.Tq, Tk: c.Tk, D: c.D, scale, causal: c.causal, keyMask };
          const nq = c.B * c.H * c.Tq;
          const want = nans('float64', nq * c.D);
          const wlse = nans('float64', nq);
          O.attention({ ...dims, q, k, v, out: want, lse: wlse });
          const dead = maskedRows(c);
          for (const dt of ['float32', 'float64'] as const) {
            if (dt === 'float64' && c.Tq * c.Tk > 1000) continue;
            const qq = mk(dt, q);
            const kk = mk(dt, k);
            const vv = mk(dt, v);
            const out = nans(dt, nq * c.D);
            const lse = nans(dt, nq);
            const g = guard({ q: qq, k: kk, v: vv, keyMask });
            C.attention({ ...dims, q: qq, k: kk, v: vv, out, lse });
            g('attention');
            const what = `attention ${dt} ${c.name}`;
            assertNoNaN(out, `${what} out`);
            assertNoNaN(lse, `${what} lse`);
            for (let r = 0; r < nq; r++)
              if (dead[r]) {
                assert.equal(lse[r], -Infinity, `${what}: fully masked row ${r} lse`);
                for (let d = 0; d < c.D; d++) assert.equal(out[r * c.D + d], 0, `${what}: fully masked row ${r} out[${d}]`);
              }
            const f64 = dt === 'float64';
            assertClose(out, want, f64 ? { rtol: 1e-11, atol: 1e-12 } : { rtol: 1e-5, atol: 2e-5 }, `${what} out`);
            assertClose(lse, wlse, f64 ? { rtol: 1e-11, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-5 }, `${what} lse`);
          }
        });
      check('kvCapacity: k/v inside larger [B, KVH, cap, D] buffers (NaN in the spare positions) = packed k/v', (rng) => {
        for (const c of ATTN.filter((a) => a.Tk > 0 && a.B * a.KVH > 0).slice(0, 4)) {
          const { q, k, v, keyMask, scale } = attnInputs(rng, c);
          const dims = { B: c.B, H: c.H, KVH: c.KVH, Tq: c.Tq, Tk: c.Tk, D: c.D, scale, causal: c.causal, keyMask };
          const cap = c.Tk + 1 + randInt(rng, 0, 5);
          const nq = c.B * c.H * c.Tq;
          for (const dt of ['float32', 'float64'] as const) {
            const widen = (x: Float64Array) => {
              const w = nans(dt, c.B * c.KVH * cap * c.D);
              for (let s = 0; s < c.B * c.KVH; s++)
                for (let t = 0; t < c.Tk; t++)
                  for (let d = 0; d < c.D; d++) w[(s * cap + t) * c.D + d] = x[(s * c.Tk + t) * c.D + d]!;
              return w;
            };
            for (const B of [C, O]) {
              const want = nans(dt, nq * c.D);
              const wlse = nans(dt, nq);
              B.attention({ ...dims, q: mk(dt, q), k: mk(dt, k), v: mk(dt, v), out: want, lse: wlse });
              const out = nans(dt, nq * c.D);
              const lse = nans(dt, nq);
              B.attention({ ...dims, q: mk(dt, q), k: widen(k), v: widen(v), out, lse, kvCapacity: cap });
              assert.deepEqual(
                Array.from(out),
                Array.from(want),
                `${B === C ? 'native' : 'reference'} ${dt} ${c.name} cap ${cap} out`,
              );
              assert.deepEqual(
                Array.from(lse),
                Array.from(wlse),
                `${B === C ? 'native' : 'reference'} ${dt} ${c.name} cap ${cap} lse`,
              );
            }
          }
          assert.throws(
            () =>
              C.attention({ ...dims, q, k, v, out: new Float64Array(nq * c.D), lse: new Float64Array(nq), kvCapacity: c.Tk - 1 }),
            /kvCapacity/,
          );
        }
      });
      check('semantics checked without the oracle: GQA head mapping, causal offset, key mask', (rng) => {
        // v = one-hot of the key position (plus the kv head index in the last feature), so each
        // output row is the attention distribution over keys: which keys are visible, and from
        // which kv head, is read off directly.
        const [B, H, KVH, Tq, Tk] = [2, 6, 2, 3, 7];
        const D = Tk + 1;
        const q = fvals(rng, B * H * Tq * D, -1, 1);
        const k = fvals(rng, B * KVH * Tk * D, -1, 1);
        const v = new Float64Array(B * KVH * Tk * D);
        for (let b = 0; b < B; b++)
          for (let j = 0; j < KVH; j++)
            for (let t = 0; t < Tk; t++) {
              const base = ((b * KVH + j) * Tk + t) * D;
              v[base + t] = 1;
              v[base + Tk] = j + 1;
            }
        const mask = [
          [1, 1, 1, 1, 1, 1, 1],
          [1, 0, 1, 1, 0, 1, 1],
        ];
        for (const causal of [false, true]) {
          const out = nans('float32', B * H * Tq * D);
          const lse = nans('float32', B * H * Tq);
          C.attention({
            q: Float32Array.from(q),
            k: Float32Array.from(k),
            v: Float32Array.from(v),
            out,
            lse,
            B,
            H,
            KVH,
            Tq,
            Tk,
            D,
            scale: 0.5,
            causal,
            keyMask: Uint8Array.from(mask.flat()),
          });
          for (let b = 0; b < B; b++)
            for (let h = 0; h < H; h++)
              for (let i = 0; i < Tq; i++) {
                const row = ((b * H + h) * Tq + i) * D;
                const what = `causal=${causal} b${b} h${h} i${i}`;
                assert.ok(
                  Math.abs(out[row + Tk]! - (Math.floor(h / (H / KVH)) + 1)) < 1e-5,
                  `${what}: query head ${h} should read kv head ${Math.floor(h / (H / KVH))}, got ${out[row + Tk]! - 1}`,
                );
                let total = 0;
                for (let j = 0; j < Tk; j++) {
                  const p = out[row + j]!;
                  total += p;
                  const visible = mask[b]![j] === 1 && (!causal || j <= Tk - Tq + i);
                  if (!visible) assert.equal(p, 0, `${what}: key ${j} should get no weight, got ${p}`);
                  else assert.ok(p > 0, `${what}: key ${j} should get weight, got ${p}`);
                }
                assert.ok(Math.abs(total - 1) < 1e-5, `${what}: weights sum to ${total}`);
              }
        }
      });
    });
    kernel('attentionGrad', () => {
      for (const c of ATTN)
        check(c.name, (rng) => {
          const { q, k, v, keyMask, scale } = attnInputs(rng, c);
          const dims = { B: c.B, H: c.H, KVH: c.KVH, Tq: c.Tq, Tk: c.Tk, D: c.D, scale, causal: c.causal, keyMask };
          const nq = c.B * c.H * c.Tq;
          const nk = c.B * c.KVH * c.Tk;
          const fo = new Float64Array(nq * c.D);
          const fl = new Float64Array(nq);
          O.attention({ ...dims, q, k, v, out: fo, lse: fl });
          const dead = maskedRows(c);
          for (const dt of ['float32', 'float64'] as const) {
            if (dt === 'float64' && c.Tq * c.Tk > 1000) continue;
            const round = (a: Float64Array): Float64Array => (dt === 'float32' ? a.map(fr) : a);
            const outV = round(fo);
            const lseV = round(fl);
            const goutV = fvals(rng, nq * c.D, -1, 1);
            const want = [nans('float64', nq * c.D), nans('float64', nk * c.D), nans('float64', nk * c.D)] as const;
            O.attentionGrad({
              ...dims,
              q,
              k,
              v,
              out: Float64Array.from(outV),
              lse: Float64Array.from(lseV),
              gout: goutV,
              gq: want[0],
              gk: want[1],
              gv: want[2],
            });
            const qq = mk(dt, q);
            const kk = mk(dt, k);
            const vv = mk(dt, v);
            const out = mk(dt, outV);
            const lse = mk(dt, lseV);
            const gout = mk(dt, goutV);
            const gq = nans(dt, nq * c.D);
            const gk = nans(dt, nk * c.D);
            const gv = nans(dt, nk * c.D);
            const g = guard({ q: qq, k: kk, v: vv, out, lse, gout, keyMask });
            C.attentionGrad({ ...dims, q: qq, k: kk, v: vv, out, lse, gout, gq, gk, gv });
            g('attentionGrad');
            const what = `attentionGrad ${dt} ${c.name}`;
            for (const [name, arr] of [
              ['gq', gq],
              ['gk', gk],
              ['gv', gv],
            ] as const)
              assertNoNaN(arr, `${what} ${name}`);
            for (let r = 0; r < nq; r++)
              if (dead[r])
                for (let d = 0; d < c.D; d++) assert.equal(gq[r * c.D + d], 0, `${what}: fully masked row ${r} gq[${d}]`);
            const tol: Tol = dt === 'float64' ? { rtol: 1e-10, atol: 1e-11 } : { rtol: 1e-4, atol: 1e-4 };
            assertClose(gq, want[0], tol, `${what} gq`);
            assertClose(gk, want[1], tol, `${what} gk`);
            assertClose(gv, want[2], tol, `${what} gv`);
          }
        });
    });
  }

  // ===========================================================================================
  // linear algebra
  // ===========================================================================================
  function linalgTests(): void {
    const SIZES = [1, 3, 17, 64, 200];
    /** sizes at which eigen/singular values are also compared with the oracle */
    const oracleMax = (dt: CDT): number => (dt === 'float64' ? 200 : 64);
    // residual tolerances (relative, Frobenius): float64 1e-10, float32 2e-4; oracle agreement:
    // float64 1e-9 x max magnitude, float32 2e-4 x max magnitude.
    const rtolFor = (dt: CDT): number => (dt === 'float64' ? 1e-10 : 2e-4);
    const agreeFor = (dt: CDT): Tol => (dt === 'float64' ? { rtol: 0, atol: 1e-9 } : { rtol: 0, atol: 2e-4 });
    const roundTo = (dt: CDT, a: Float64Array): Float64Array => (dt === 'float32' ? a.map(fr) : a);
    /** Well-conditioned SPD: G G^T / n + I, exactly symmetric after rounding. */
    function spd(rng: Rng, n: number, dt: CDT): Float64Array {
      const g = new Float64Array(n * n);
      for (let i = 0; i < g.length; i++) g[i] = normal(rng);
      const a = matmul(g, transpose(g, n, n), n, n, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = a[i * n + j]! / n + (i === j ? 1 : 0);
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j]!;
      return roundTo(dt, a);
    }
    function general(rng: Rng, m: number, n: number, dt: CDT, shift: number): Float64Array {
      const a = new Float64Array(m * n);
      for (let i = 0; i < a.length; i++) a[i] = normal(rng) / Math.sqrt(Math.max(m, n));
      for (let i = 0; i < Math.min(m, n); i++) a[i * n + i]! += shift;
      return roundTo(dt, a);
    }
    const rel = (x: number, y: number): number => (y === 0 ? x : x / y);
    const dts = ['float64', 'float32'] as const;

    kernel('cholesky', () => {
      for (const dt of dts)
        check(`${dt}: L L^T = A, lower with zero upper triangle, agrees with oracle (n = ${SIZES.join(', ')})`, (rng) => {
          for (const n of SIZES) {
            const av = spd(rng, n, dt);
            const a = mk(dt, av);
            const out = nans(dt, n * n);
            const g = guard({ a });
            C.cholesky(a, n, out);
            g('cholesky');
            const what = `cholesky ${dt} n=${n}`;
            for (let i = 0; i < n; i++) {
              assert.ok(out[i * n + i]! > 0, `${what}: L[${i}][${i}] = ${out[i * n + i]}`);
              for (let j = i + 1; j < n; j++) assert.equal(out[i * n + j], 0, `${what}: upper L[${i}][${j}]`);
            }
            const r = rel(frobDiff(matmul(out, transpose(out, n, n), n, n, n), av), frob(av));
            assert.ok(r <= rtolFor(dt), `${what}: |L L^T - A| / |A| = ${r}`);
            const want = nans('float64', n * n);
            O.cholesky(Float64Array.from(av), n, want);
            assertClose(out, want, agreeFor(dt), `${what} vs oracle`);
          }
        });
      check('throws naming the kernel for non-SPD input (indefinite, zero, negative 1x1)', () => {
        for (const dt of dts)
          for (const [n, m] of [
            [3, [1, 2, 0, 2, 1, 0, 0, 0, 1]],
            [2, [0, 0, 0, 0]],
            [1, [-1]],
            [3, [4, 0, 0, 0, -1, 0, 0, 0, 9]],
          ] as const) {
            const a = mk(dt, m);
            const g = guard({ a });
            assertThrowsNaming(() => C.cholesky(a, n, nans(dt, n * n)), 'cholesky', `${dt} ${JSON.stringify(m)}`);
            g('cholesky (throwing)');
          }
      });
    });
    kernel('solveSPD', () => {
      for (const dt of dts)
        check(`${dt}: residual |AX - B| / |B|, agrees with oracle, nrhs 1 and 3`, (rng) => {
          for (const n of SIZES)
            for (const nrhs of [1, 3]) {
              const av = spd(rng, n, dt);
              const bv = roundTo(dt, fvals(rng, n * nrhs, -1, 1));
              const a = mk(dt, av);
              const b = mk(dt, bv);
              const out = nans(dt, n * nrhs);
              const g = guard({ a, b });
              C.solveSPD(a, b, n, nrhs, out);
              g('solveSPD');
              const what = `solveSPD ${dt} n=${n} nrhs=${nrhs}`;
              const r = rel(frobDiff(matmul(av, out, n, n, nrhs), bv), frob(bv));
              assert.ok(r <= rtolFor(dt), `${what}: residual ${r}`);
              const want = nans('float64', n * nrhs);
              O.solveSPD(av, bv, n, nrhs, want);
              assertClose(out, want, agreeFor(dt), `${what} vs oracle`);
            }
        });
      check('throws naming the kernel for non-SPD input', () => {
        for (const dt of dts) {
          const a = mk(dt, [1, 2, 0, 2, 1, 0, 0, 0, 1]);
          assertThrowsNaming(() => C.solveSPD(a, mk(dt, [1, 2, 3]), 3, 1, nans(dt, 3)), 'solveSPD', dt);
        }
      });
    });
    kernel('solve', () => {
      for (const dt of dts)
        check(`${dt}: general A (pivoting needed), residual, agrees with oracle, nrhs 1 and 4`, (rng) => {
          for (const n of SIZES)
            for (const nrhs of [1, 4]) {
              const av = general(rng, n, n, dt, 3);
              if (n >= 3) {
                // a zero leading pivot forces row exchanges
                av[0] = 0;
              }
              const bv = roundTo(dt, fvals(rng, n * nrhs, -1, 1));
              const a = mk(dt, av);
              const b = mk(dt, bv);
              const out = nans(dt, n * nrhs);
              const g = guard({ a, b });
              C.solve(a, b, n, nrhs, out);
              g('solve');
              const what = `solve ${dt} n=${n} nrhs=${nrhs}`;
              const r = rel(frobDiff(matmul(av, out, n, n, nrhs), bv), frob(bv));
              assert.ok(r <= rtolFor(dt), `${what}: residual ${r}`);
              const want = nans('float64', n * nrhs);
              O.solve(av, bv, n, nrhs, want);
              assertClose(out, want, agreeFor(dt), `${what} vs oracle`);
            }
        });
      check('throws naming the kernel for singular input (duplicate rows, zero matrix)', () => {
        for (const dt of dts)
          for (const [n, m] of [
            [3, [1, 2, 3, 4, 5, 6, 1, 2, 3]],
            [1, [0]],
            [2, [0, 0, 0, 0]],
          ] as const) {
            const a = mk(dt, m);
            assertThrowsNaming(
              () => C.solve(a, mk(dt, new Array(n).fill(1)), n, 1, nans(dt, n)),
              'solve',
              `${dt} ${JSON.stringify(m)}`,
            );
          }
      });
    });
    kernel('inverse', () => {
      for (const dt of dts)
        check(`${dt}: A A^-1 = I, agrees with oracle`, (rng) => {
          for (const n of SIZES) {
            const av = general(rng, n, n, dt, 3);
            const a = mk(dt, av);
            const out = nans(dt, n * n);
            const g = guard({ a });
            C.inverse(a, n, out);
            g('inverse');
            const what = `inverse ${dt} n=${n}`;
            const r = frobDiff(matmul(av, out, n, n, n), eye(n)) / Math.sqrt(n);
            assert.ok(r <= rtolFor(dt), `${what}: |A A^-1 - I| / sqrt(n) = ${r}`);
            const want = nans('float64', n * n);
            O.inverse(av, n, want);
            assertClose(out, want, agreeFor(dt), `${what} vs oracle`);
          }
        });
      check('throws naming the kernel for singular input', () => {
        for (const dt of dts)
          for (const [n, m] of [
            [3, [1, 2, 3, 4, 5, 6, 1, 2, 3]],
            [1, [0]],
          ] as const)
            assertThrowsNaming(() => C.inverse(mk(dt, m), n, nans(dt, n * n)), 'inverse', `${dt} ${JSON.stringify(m)}`);
      });
    });
    kernel('eigh', () => {
      for (const dt of dts)
        check(`${dt}: A V = V diag(w), V^T V = I, ascending, agrees with oracle; upper triangle (NaN) ignored`, (rng) => {
          for (const n of SIZES) {
            const full = general(rng, n, n, 'float64', 0);
            for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) full[j * n + i] = full[i * n + j]!;
            const sym = roundTo(dt, full);
            const lowerOnly = Float64Array.from(sym);
            for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) lowerOnly[i * n + j] = NaN;
            const a = mk(dt, lowerOnly);
            const g = guard({ a });
            const res = C.eigh(a, n);
            g('eigh');
            const what = `eigh ${dt} n=${n}`;
            assert.equal(res.values.length, n, `${what}: values length`);
            assert.equal(res.vectors.length, n * n, `${what}: vectors length`);
            const Ctor = dt === 'float32' ? Float32Array : Float64Array;
            assert.ok(res.values instanceof Ctor && res.vectors instanceof Ctor, `${what}: results should be ${dt}`);
            const w = res.values;
            const V = res.vectors;
            for (let i = 1; i < n; i++) assert.ok(w[i - 1]! <= w[i]!, `${what}: eigenvalues not ascending at ${i}`);
            const AV = matmul(sym, V, n, n, n);
            const VW = new Float64Array(n * n);
            for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) VW[i * n + j] = V[i * n + j]! * w[j]!;
            const r1 = rel(frobDiff(AV, VW), frob(sym));
            assert.ok(r1 <= rtolFor(dt) * 10, `${what}: |A V - V diag(w)| / |A| = ${r1}`);
            const r2 = frobDiff(matmul(transpose(V, n, n), V, n, n, n), eye(n)) / Math.sqrt(n);
            assert.ok(r2 <= rtolFor(dt) * 10, `${what}: |V^T V - I| / sqrt(n) = ${r2}`);
            if (n <= oracleMax(dt)) {
              const o = O.eigh(Float64Array.from(lowerOnly), n);
              assertClose(w, o.values, agreeFor(dt), `${what}: eigenvalues vs oracle`);
            }
          }
        });
    });
    kernel('svd', () => {
      const shapes: [number, number][] = [
        [1, 1],
        [3, 1],
        [1, 3],
        [3, 3],
        [5, 3],
        [3, 5],
        [17, 17],
        [64, 17],
        [17, 64],
        [64, 64],
        [200, 50],
        [50, 200],
        [200, 200],
      ];
      for (const dt of dts)
        check(
          `${dt}: U diag(s) Vt = A, orthonormal U and V, s descending >= 0, agrees with oracle (tall, wide, square)`,
          (rng) => {
            for (const [m, n] of shapes) {
              const av = general(rng, m, n, dt, 0.5);
              const k = Math.min(m, n);
              const a = mk(dt, av);
              const g = guard({ a });
              const res = C.svd(a, m, n);
              g('svd');
              const what = `svd ${dt} ${m}x${n}`;
              assert.equal(res.u.length, m * k, `${what}: u length`);
              assert.equal(res.s.length, k, `${what}: s length`);
              assert.equal(res.vt.length, k * n, `${what}: vt length`);
              const Ctor = dt === 'float32' ? Float32Array : Float64Array;
              assert.ok(
                res.u instanceof Ctor && res.s instanceof Ctor && res.vt instanceof Ctor,
                `${what}: results should be ${dt}`,
              );
              const { u, s, vt } = res;
              for (let i = 0; i < k; i++) {
                assert.ok(s[i]! >= 0, `${what}: s[${i}] = ${s[i]}`);
                if (i > 0) assert.ok(s[i - 1]! >= s[i]!, `${what}: s not descending at ${i}`);
              }
              const us = new Float64Array(m * k);
              for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) us[i * k + j] = u[i * k + j]! * s[j]!;
              const r1 = rel(frobDiff(matmul(us, vt, m, k, n), av), frob(av));
              assert.ok(r1 <= rtolFor(dt) * 10, `${what}: |U S Vt - A| / |A| = ${r1}`);
              const r2 = frobDiff(matmul(transpose(u, m, k), u, k, m, k), eye(k)) / Math.sqrt(k);
              assert.ok(r2 <= rtolFor(dt) * 10, `${what}: |U^T U - I| = ${r2}`);
              const r3 = frobDiff(matmul(vt, transpose(vt, k, n), k, n, k), eye(k)) / Math.sqrt(k);
              assert.ok(r3 <= rtolFor(dt) * 10, `${what}: |Vt V - I| = ${r3}`);
              if (Math.max(m, n) <= oracleMax(dt)) {
                const o = O.svd(Float64Array.from(av), m, n);
                assertClose(s, o.s, agreeFor(dt), `${what}: singular values vs oracle`);
              }
            }
          },
        );
      check('rank-deficient (rank 1) input: reconstruction and singular values', (rng) => {
        for (const dt of dts) {
          const [m, n] = [6, 4];
          const x = fvals(rng, m, -1, 1);
          const y = fvals(rng, n, -1, 1);
          const av = roundTo(
            dt,
            Float64Array.from({ length: m * n }, (_, i) => x[Math.floor(i / n)]! * y[i % n]!),
          );
          const res = C.svd(mk(dt, av), m, n);
          const k = 4;
          const us = new Float64Array(m * k);
          for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) us[i * k + j] = res.u[i * k + j]! * res.s[j]!;
          const r1 = rel(frobDiff(matmul(us, res.vt, m, k, n), av), frob(av));
          assert.ok(r1 <= rtolFor(dt) * 10, `svd rank-1 ${dt}: reconstruction ${r1}`);
          const o = O.svd(Float64Array.from(av), m, n);
          assertClose(res.s, o.s, agreeFor(dt), `svd rank-1 ${dt}: singular values vs oracle`);
        }
      });
    });
  }

  // ===========================================================================================
  // bad sizes: must throw an Error naming the kernel (never crash or read out of bounds)
  // ===========================================================================================
  function badSizeTests(): void {
    kernel('bad sizes', () => {
      check('gemm: a, b, c too short (f32 and f16 B), offset past the end', (rng) => {
        const d = buildGemm(rng, { M: 4, N: 5, K: 6, transB: true, padA: 1 });
        const base = (): GemmParams => ({
          transA: false,
          transB: true,
          M: 4,
          N: 5,
          K: 6,
          alpha: 1,
          beta: 0,
          batch: 1,
          a: Float32Array.from(d.aVals),
          aOffset: 0,
          lda: d.lda,
          aBatchStride: 0,
          b: Float32Array.from(d.bDec),
          bDtype: 'float32',
          bOffset: 0,
          ldb: d.ldb,
          bBatchStride: 0,
          c: new Float32Array(20),
          cOffset: 0,
          ldc: 5,
          cBatchStride: 0,
        });
        const ok = base();
        C.gemm(ok);
        const short = <T extends FloatArray | Uint16Array>(x: T): T => x.slice(0, x.length - 1) as T;
        const variants: [string, (p: GemmParams) => GemmParams][] = [
          ['a too short', (p) => ({ ...p, a: short(p.a) })],
          ['b too short', (p) => ({ ...p, b: short(p.b) })],
          ['f16 b too short', (p) => ({ ...p, b: new Uint16Array(29), bDtype: 'float16' })],
          ['c too short', (p) => ({ ...p, c: short(p.c) })],
          ['cOffset past the end', (p) => ({ ...p, cOffset: 1 })],
          ['batch 2 without room', (p) => ({ ...p, batch: 2, aBatchStride: 24, bBatchStride: 30, cBatchStride: 20 })],
          ['a 10x smaller', (p) => ({ ...p, a: new Float32Array(3) })],
        ];
        for (const [name, f] of variants) assertThrowsNaming(() => C.gemm(f(base())), 'gemm', name);
      });
      check('elementwise, layout, rows, indexing, attention, rope, linalg with undersized arrays', () => {
        const f = (n: number): Float32Array => new Float32Array(n);
        const cases: [string, string, () => void][] = [
          ['unary', 'x too short', () => C.unary('exp', f(10), f(100), 100, 0, 0)],
          ['unary', 'out too short', () => C.unary('exp', f(100), f(10), 100, 0, 0)],
          ['unaryGrad', 'gy too short', () => C.unaryGrad('tanh', f(100), f(10), f(100), 100, 0, 0)],
          [
            'binary',
            'out too short',
            () =>
              C.binary({
                op: 'add',
                a: f(100),
                aOffset: 0,
                aStrides: [1],
                b: f(100),
                bOffset: 0,
                bStrides: [1],
                out: f(10),
                shape: [100],
              }),
          ],
          [
            'binary',
            'a strided extent past the end',
            () =>
              C.binary({
                op: 'add',
                a: f(100),
                aOffset: 0,
                aStrides: [2],
                b: f(100),
                bOffset: 0,
                bStrides: [1],
                out: f(100),
                shape: [100],
              }),
          ],
          [
            'where',
            'cond too short',
            () =>
              C.where({
                cond: f(5),
                condOffset: 0,
                condStrides: [1],
                a: f(100),
                aOffset: 0,
                aStrides: [1],
                b: f(100),
                bOffset: 0,
                bStrides: [1],
                out: f(100),
                shape: [100],
              }),
          ],
          [
            'copy',
            'dst too short',
            () =>
              C.copy({
                src: f(100),
                srcDtype: 'float32',
                srcOffset: 0,
                srcStrides: [1],
                dst: f(10),
                dstDtype: 'float32',
                dstOffset: 0,
                dstStrides: [1],
                shape: [100],
                accumulate: false,
              }),
          ],
          [
            'copy',
            'src offset past the end',
            () =>
              C.copy({
                src: f(100),
                srcDtype: 'float32',
                srcOffset: 50,
                srcStrides: [1],
                dst: f(100),
                dstDtype: 'float32',
                dstOffset: 0,
                dstStrides: [1],
                shape: [100],
                accumulate: false,
              }),
          ],
          ['fill', 'offset + n past the end', () => C.fill(f(10), 'float32', 5, 10, 1)],
          ['reduce', 'out too short', () => C.reduce('sum', f(100), f(1), 10, 10, 1)],
          ['argmax', 'x too short', () => C.argmax(f(10), new Int32Array(10), 10, 10, 1)],
          ['softmax', 'x too short', () => C.softmax(f(10), f(100), 10, 10, false)],
          ['layerNorm', 'w too short', () => C.layerNorm(f(100), f(5), null, f(100), f(10), f(10), 10, 10, 1e-5)],
          ['rmsNorm', 'rstd too short', () => C.rmsNorm(f(100), null, f(100), f(2), 10, 10, 1e-5)],
          ['indexSelect', 'out too short', () => C.indexSelect(f(40), 'float32', 10, 4, new Int32Array(5), f(4))],
          ['indexSelect', 'table too short', () => C.indexSelect(f(4), 'float32', 10, 4, Int32Array.from([9]), f(4))],
          ['gather', 'out too short', () => C.gather(f(20), new Int32Array(8), f(2), 4, 5, 2)],
          [
            'attention',
            'k too short',
            () =>
              C.attention({
                q: f(64),
                k: f(8),
                v: f(64),
                out: f(64),
                lse: f(8),
                B: 1,
                H: 1,
                KVH: 1,
                Tq: 8,
                Tk: 8,
                D: 8,
                scale: 0.3,
                causal: false,
                keyMask: null,
              }),
          ],
          [
            'attention',
            'keyMask too short',
            () =>
              C.attention({
                q: f(64),
                k: f(64),
                v: f(64),
                out: f(64),
                lse: f(8),
                B: 1,
                H: 1,
                KVH: 1,
                Tq: 8,
                Tk: 8,
                D: 8,
                scale: 0.3,
                causal: false,
                keyMask: new Uint8Array(2),
              }),
          ],
          [
            'rope',
            'position beyond the cos/sin table',
            () =>
              C.rope({
                x: f(8),
                out: f(8),
                B: 1,
                H: 1,
                T: 2,
                D: 4,
                rotaryDim: 4,
                positions: Int32Array.from([0, 1000000]),
                cos: f(4),
                sin: f(4),
                layout: 'half',
                inverse: false,
              }),
          ],
          [
            'rope',
            'negative position',
            () =>
              C.rope({
                x: f(8),
                out: f(8),
                B: 1,
                H: 1,
                T: 2,
                D: 4,
                rotaryDim: 4,
                positions: Int32Array.from([0, -1]),
                cos: f(4),
                sin: f(4),
                layout: 'half',
                inverse: false,
              }),
          ],
          ['unary', 'negative n', () => C.unary('exp', f(4), f(4), -1, 0, 0)],
          [
            'gemm',
            'negative M',
            () =>
              C.gemm({
                transA: false,
                transB: false,
                M: -1,
                N: 2,
                K: 2,
                alpha: 1,
                beta: 0,
                batch: 1,
                a: f(4),
                aOffset: 0,
                lda: 2,
                aBatchStride: 0,
                b: f(4),
                bDtype: 'float32',
                bOffset: 0,
                ldb: 2,
                bBatchStride: 0,
                c: f(4),
                cOffset: 0,
                ldc: 2,
                cBatchStride: 0,
              }),
          ],
          [
            'gemm',
            'bDtype float16 with a Float32Array b',
            () =>
              C.gemm({
                transA: false,
                transB: false,
                M: 2,
                N: 2,
                K: 2,
                alpha: 1,
                beta: 0,
                batch: 1,
                a: f(4),
                aOffset: 0,
                lda: 2,
                aBatchStride: 0,
                b: f(4),
                bDtype: 'float16',
                bOffset: 0,
                ldb: 2,
                bBatchStride: 0,
                c: f(4),
                cOffset: 0,
                ldc: 2,
                cBatchStride: 0,
              }),
          ],
          [
            'copy',
            'srcDtype float64 with a Float32Array src',
            () =>
              C.copy({
                src: f(100),
                srcDtype: 'float64',
                srcOffset: 0,
                srcStrides: [1],
                dst: f(100),
                dstDtype: 'float32',
                dstOffset: 0,
                dstStrides: [1],
                shape: [100],
                accumulate: false,
              }),
          ],
          [
            'copy',
            'negative stride reaching before the start',
            () =>
              C.copy({
                src: f(10),
                srcDtype: 'float32',
                srcOffset: 5,
                srcStrides: [-1],
                dst: f(10),
                dstDtype: 'float32',
                dstOffset: 0,
                dstStrides: [1],
                shape: [10],
                accumulate: false,
              }),
          ],
          [
            'indexSelect',
            'tableDtype float16 with a Float64Array table',
            () => C.indexSelect(new Float64Array(40), 'float16', 10, 4, Int32Array.from([1]), f(4)),
          ],
          ['cholesky', 'a too short', () => C.cholesky(new Float64Array(3), 3, new Float64Array(9))],
          ['solve', 'b too short', () => C.solve(new Float64Array([1, 0, 0, 1]), new Float64Array(1), 2, 1, new Float64Array(2))],
        ];
        const failures: string[] = [];
        for (const [k, name, fn] of cases) {
          try {
            assertThrowsNaming(fn, k, `${k}: ${name}`);
          } catch (e) {
            failures.push(e instanceof Error ? e.message : String(e));
          }
        }
        // still alive and working
        const out = nans('float32', 3);
        C.unary('neg', Float32Array.from([1, 2, 3]), out, 3, 0, 0);
        assert.deepEqual(Array.from(out), [-1, -2, -3]);
        assert.deepEqual(failures, [], failures.join('\n'));
      });
    });
  }
  // ===========================================================================================
  // typed-array views: nonzero (misaligned) byteOffset, neighbours in the same ArrayBuffer
  // ===========================================================================================
  function viewTests(): void {
    /** A copy of arr living at element offset `pre` (1..3) of a larger buffer with poisoned neighbours. */
    function view<T extends Storage>(arr: T, rng: Rng): { v: T; checkNeighbours: (what: string) => void } {
      const pre = randInt(rng, 1, 4);
      const post = 3;
      const Ctor = arr.constructor as new (buf: ArrayBuffer, byteOffset: number, length: number) => T;
      const bpe = arr.BYTES_PER_ELEMENT;
      const buf = new ArrayBuffer((pre + arr.length + post) * bpe);
      const whole = new Ctor(buf, 0, pre + arr.length + post);
      const poison = arr instanceof Float32Array || arr instanceof Float64Array ? NaN : arr instanceof Uint16Array ? 0x7e00 : 123;
      whole.fill(poison);
      const v = new Ctor(buf, pre * bpe, arr.length);
      v.set(arr);
      const snapshot = (): number[] => [...Array.from(whole.subarray(0, pre)), ...Array.from(whole.subarray(pre + arr.length))];
      const before = snapshot();
      return {
        v,
        checkNeighbours: (what) => {
          const after = snapshot();
          for (let i = 0; i < before.length; i++)
            if (!Object.is(before[i], after[i]))
              assert.fail(`${what}: wrote outside its view (neighbour ${i} ${before[i]} -> ${after[i]})`);
        },
      };
    }
    // Candidate on views vs candidate on fresh arrays: rtol 1e-6, atol 1e-6 x max (alignment may
    // select different SIMD/BLAS paths, so summation order can differ).
    const TOL: Tol = { rtol: 1e-6, atol: 1e-6 };
    kernel('views', () => {
      check('gemm: a, c f32 views and f16 / f32 b views at odd element offsets', (rng) => {
        for (const bDtype of ['float32', 'float16'] as const)
          for (const [tA, tB] of [
            [false, true],
            [true, false],
          ] as const) {
            const d = buildGemm(rng, { M: 33, N: 70, K: 65, transA: tA, transB: tB, bDtype });
            const a = Float32Array.from(d.aVals);
            const b = d.bStore;
            const c = new Float32Array(33 * 70);
            const p: GemmParams = {
              transA: tA,
              transB: tB,
              M: 33,
              N: 70,
              K: 65,
              alpha: 1,
              beta: 0,
              batch: 1,
              a,
              aOffset: 0,
              lda: d.lda,
              aBatchStride: 0,
              b,
              bDtype,
              bOffset: 0,
              ldb: d.ldb,
              bBatchStride: 0,
              c,
              cOffset: 0,
              ldc: 70,
              cBatchStride: 0,
            };
            C.gemm(p);
            const va = view(a, rng);
            const vb = view(b, rng);
            const vc = view(nans('float32', 33 * 70) as Float32Array, rng);
            C.gemm({ ...p, a: va.v, b: vb.v, c: vc.v });
            vc.checkNeighbours('gemm c');
            assertClose(vc.v, c, TOL, `gemm B ${bDtype} tA=${tA} tB=${tB} on views`);
          }
      });
      check('indexSelect (f16 table view), unary, binary, copy, softmax, layerNorm on views', (rng) => {
        const table = encodeWeights('float16', fvals(rng, 50 * 9, -2, 2)) as Uint16Array;
        const ids = Int32Array.from({ length: 20 }, () => randInt(rng, 0, 50));
        const ref1 = nans('float32', 20 * 9);
        C.indexSelect(table, 'float16', 50, 9, ids, ref1);
        const vt = view(table, rng);
        const vi = view(ids, rng);
        const vo = view(nans('float32', 20 * 9) as Float32Array, rng);
        C.indexSelect(vt.v, 'float16', 50, 9, vi.v, vo.v);
        vo.checkNeighbours('indexSelect out');
        assertClose(vo.v, ref1, EXACT, 'indexSelect on views');

        const n = 1031;
        const x = Float32Array.from(fvals(rng, n, -3, 3));
        const y = Float32Array.from(fvals(rng, n, -3, 3));
        const r2 = nans('float32', n);
        C.unary('silu', x, r2, n, 0, 0);
        const vx = view(x, rng);
        const vu = view(nans('float32', n) as Float32Array, rng);
        C.unary('silu', vx.v, vu.v, n, 0, 0);
        vu.checkNeighbours('unary out');
        assertClose(vu.v, r2, TOL, 'unary on views');

        const r3 = nans('float32', n);
        C.binary({ op: 'mul', a: x, aOffset: 0, aStrides: [1], b: y, bOffset: 0, bStrides: [1], out: r3, shape: [n] });
        const vy = view(y, rng);
        const vb = view(nans('float32', n) as Float32Array, rng);
        C.binary({ op: 'mul', a: vx.v, aOffset: 0, aStrides: [1], b: vy.v, bOffset: 0, bStrides: [1], out: vb.v, shape: [n] });
        vb.checkNeighbours('binary out');
        assertClose(vb.v, r3, TOL, 'binary on views');

        const h = new Uint16Array(n);
        C.copy({
          src: x,
          srcDtype: 'float32',
          srcOffset: 0,
          srcStrides: [1],
          dst: h,
          dstDtype: 'float16',
          dstOffset: 0,
          dstStrides: [1],
          shape: [n],
          accumulate: false,
        });
        const vh = view(new Uint16Array(n), rng);
        C.copy({
          src: vx.v,
          srcDtype: 'float32',
          srcOffset: 0,
          srcStrides: [1],
          dst: vh.v,
          dstDtype: 'float16',
          dstOffset: 0,
          dstStrides: [1],
          shape: [n],
          accumulate: false,
        });
        vh.checkNeighbours('copy dst');
        assertSameStorage('float16', vh.v, h, 'copy f32 -> f16 on views');

        const [rows, cols] = [7, 147];
        const xs = Float32Array.from(fvals(rng, rows * cols, -3, 3));
        const r4 = nans('float32', rows * cols);
        C.softmax(xs, r4, rows, cols, false);
        const vxs = view(xs, rng);
        const vs = view(nans('float32', rows * cols) as Float32Array, rng);
        C.softmax(vxs.v, vs.v, rows, cols, false);
        vs.checkNeighbours('softmax out');
        assertClose(vs.v, r4, TOL, 'softmax on views');

        const w = Float32Array.from(fvals(rng, cols, 0.5, 1.5));
        const r5 = [nans('float32', rows * cols), nans('float32', rows), nans('float32', rows)] as const;
        C.layerNorm(xs, w, null, r5[0], r5[1], r5[2], rows, cols, 1e-5);
        const vw = view(w, rng);
        const vl = [
          view(nans('float32', rows * cols) as Float32Array, rng),
          view(nans('float32', rows) as Float32Array, rng),
          view(nans('float32', rows) as Float32Array, rng),
        ] as const;
        C.layerNorm(vxs.v, vw.v, null, vl[0].v, vl[1].v, vl[2].v, rows, cols, 1e-5);
        vl.forEach((q, i) => {
          q.checkNeighbours(`layerNorm output ${i}`);
          assertClose(q.v, r5[i]!, TOL, `layerNorm output ${i} on views`);
        });
      });
      check('attention, rope, cholesky, svd on views', (rng) => {
        const c: AttnCase = { name: 'v', B: 1, H: 4, KVH: 2, Tq: 9, Tk: 9, D: 24, causal: true };
        const { q, k, v, scale } = attnInputs(rng, c);
        const dims = { B: 1, H: 4, KVH: 2, Tq: 9, Tk: 9, D: 24, scale, causal: true, keyMask: null };
        const [qq, kk, vv] = [Float32Array.from(q), Float32Array.from(k), Float32Array.from(v)];
        const out = nans('float32', 4 * 9 * 24);
        const lse = nans('float32', 36);
        C.attention({ ...dims, q: qq, k: kk, v: vv, out, lse });
        const [vq, vk, vv2, vo, vl] = [
          view(qq, rng),
          view(kk, rng),
          view(vv, rng),
          view(nans('float32', 864) as Float32Array, rng),
          view(nans('float32', 36) as Float32Array, rng),
        ];
        C.attention({ ...dims, q: vq.v, k: vk.v, v: vv2.v, out: vo.v, lse: vl.v });
        vo.checkNeighbours('attention out');
        vl.checkNeighbours('attention lse');
        assertClose(vo.v, out, TOL, 'attention out on views');
        assertClose(vl.v, lse, TOL, 'attention lse on views');

        const positions = Int32Array.from({ length: 9 }, () => randInt(rng, 0, 20));
        const cos = Float32Array.from({ length: 20 * 4 }, (_, i) => fr(Math.cos(i * 0.37)));
        const sin = Float32Array.from({ length: 20 * 4 }, (_, i) => fr(Math.sin(i * 0.37)));
        const ro = nans('float32', 864);
        const rp = { B: 1, H: 4, T: 9, D: 24, rotaryDim: 8, layout: 'half' as const, inverse: false };
        C.rope({ ...rp, x: qq, out: ro, positions, cos, sin });
        const [vpos, vcos, vsin, vro] = [
          view(positions, rng),
          view(cos, rng),
          view(sin, rng),
          view(nans('float32', 864) as Float32Array, rng),
        ];
        C.rope({ ...rp, x: vq.v, out: vro.v, positions: vpos.v, cos: vcos.v, sin: vsin.v });
        vro.checkNeighbours('rope out');
        assertClose(vro.v, ro, TOL, 'rope on views');

        const n = 17;
        const g = new Float64Array(n * n);
        for (let i = 0; i < g.length; i++) g[i] = normal(rng);
        const a = matmul(g, transpose(g, n, n), n, n, n);
        for (let i = 0; i < n; i++) a[i * n + i]! += n;
        const L = nans('float64', n * n);
        C.cholesky(a, n, L);
        const va = view(a, rng);
        const vL = view(nans('float64', n * n) as Float64Array, rng);
        C.cholesky(va.v, n, vL.v);
        vL.checkNeighbours('cholesky out');
        assertClose(vL.v, L, { rtol: 1e-12, atol: 1e-12 }, 'cholesky on views');
        const s1 = C.svd(a, n, n).s;
        const s2 = C.svd(va.v, n, n).s;
        assertClose(s2, s1, { rtol: 1e-12, atol: 1e-12 }, 'svd on views');
      });
    });
  }

  describe(`backend conformance: ${C.name} vs ${O.name}`, () => {
    memoryTests();
    fillTests();
    copyTests();
    gemmTests();
    unaryTests();
    binaryTests();
    whereTests();
    reduceTests();
    softmaxTests();
    normTests();
    indexingTests();
    ropeTests();
    attentionTests();
    linalgTests();
    viewTests();
    badSizeTests();
    group = 'conformance';
    const unknown = Object.keys(skip).filter((k) => !usedSkips.has(k));
    check('skip keys name existing tests', () => {
      assert.deepEqual(unknown, [], `unknown skip keys (no such kernel group or test): ${unknown.join(', ')}`);
    });
  });
}
