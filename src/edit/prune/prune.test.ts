/**
 * PRUNE against rivals.md §3.8: the hand cases (P6, P7), the restrained spectrum with unchanged
 * singular subspaces (P1), the untouched tail (P2), the bound (P3), layout invariance (P5), the
 * identity restraint as a no-op, and σ̄ by power iteration against a full SVD, on fresh random
 * float64 matrices of odd sizes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { largestSingularValue, pruneDelta, restrain, PRUNE_DEFAULTS, type PruneOptions } from './index.js';
import { randn, testSeed } from '../../testing.js';

const SEED = testSeed();
const d = (a: number[], s: number[]): Tensor => T.tensor(a, s, 'float64');
const near = (a: number, b: number, tol: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const maxAbs = (t: Tensor): number => Math.max(...t.toArray().map(Math.abs));
const rot = (th: number): Tensor => d([Math.cos(th), -Math.sin(th), Math.sin(th), Math.cos(th)], [2, 2]);

test('P6 hand cases: W₀ = diag(3, 1), Δ = diag(10, 2), every restraint; the non-contraction case', () => {
  const W0 = d([3, 0, 0, 1], [2, 2]);
  const D = d([10, 0, 0, 2], [2, 2]);
  const cases: [Partial<PruneOptions>, number][] = [
    [{}, 4.2039728043],
    [{ logBase: 2 }, 4.7369655942],
    [{ logBase: 1.5 }, 5.9693622959],
    [{ logBase: 1.2 }, 9.6035680338],
    [{ restraint: 'linear' }, 6.5],
  ];
  for (const [o, want] of cases) {
    const r = pruneDelta(W0, D, { ...PRUNE_DEFAULTS, ...o });
    near(r.sbar, 3, 1e-12, 'σ̄');
    const out = r.delta.toArray();
    near(out[0]!, want, 1e-10, `σ'₁ ${JSON.stringify(o)}`);
    near(out[3]!, 2, 1e-12, 'σ₂ < σ̄ unchanged');
    near(Math.abs(out[1]!) + Math.abs(out[2]!), 0, 1e-12, 'off-diagonal');
  }
  near(restrain(4, 3, { ...PRUNE_DEFAULTS, logBase: 1.2 }), 4.5778829312, 1e-10, 'F(4) > 4 at α = 1.2');
  const warned: string[] = [];
  pruneDelta(d([0.5, 0, 0, 0.1], [2, 2]), D, { ...PRUNE_DEFAULTS, logBase: 1.2 }, (m) => warned.push(m));
  assert.match(warned.join('\n'), /F_log raises singular values/);
});

test('P7 rotated case: Δ = rot(0.3) diag(10, 2) rot(1.1)ᵀ', () => {
  const D = T.matmul(T.matmul(rot(0.3), d([10, 0, 0, 2], [2, 2])), T.transpose(rot(1.1)));
  const want = [2.348476219, 3.3111810419, -1.139276637, 1.9738732584];
  pruneDelta(d([3, 0, 0, 1], [2, 2]), D)
    .delta.toArray()
    .forEach((x, i) => near(x, want[i]!, 1e-9, `Δ'[${i}]`));
});

test(`P1–P3, P5 and the identity on random matrices (seed ${SEED}; LMEDIT_TEST_SEED replays it)`, () => {
  const rng = new T.Rng(SEED);
  const [m, n] = [11, 7];
  const W0 = randn(rng, [m, n]);
  const D = T.mul(randn(rng, [m, n]), 1.5);
  const sbarSvd = T.svd(W0).s.toArray()[0]!;
  near(largestSingularValue(W0), sbarSvd, 1e-10, 'σ̄ by power iteration = σ₁ by SVD');
  const { u, s, vt } = T.svd(D);
  const sv = s.toArray();
  assert.ok(sv[0]! > sbarSvd, `a case with something to restrain: σ₁(Δ) ${sv[0]} > σ̄ ${sbarSvd}`);
  const r = pruneDelta(W0, D, { ...PRUNE_DEFAULTS, rankTruncate: false });
  // P1: the spectrum is F(σ), the singular subspaces unchanged
  const want = sv.map((x) => restrain(x, sbarSvd, PRUNE_DEFAULTS));
  const inner = T.matmul(T.matmul(T.transpose(u), r.delta), T.transpose(vt));
  const diag = T.tensor(
    Array.from({ length: sv.length * sv.length }, (_, i) => (i % (sv.length + 1) === 0 ? want[i / (sv.length + 1)]! : 0)),
    [sv.length, sv.length],
    'float64',
  );
  assert.ok(maxAbs(T.sub(inner, diag)) <= 1e-10 * maxAbs(r.delta), "Uᵀ Δ' V = diag(F(σ))");
  // P2: the directions with σ < σ̄ are untouched
  const tail = sv.map((x, i) => (x < sbarSvd ? i : -1)).filter((i) => i >= 0);
  for (const i of tail) {
    const v = T.transpose(T.narrow(vt, 0, i, i + 1));
    assert.ok(maxAbs(T.matmul(T.sub(r.delta, D), v)) <= 1e-10 * maxAbs(D), `tail direction ${i} untouched`);
  }
  // P3: σ₁(Δ') = F(σ₁(Δ)); here σ̄ ≥ 1/ln e = 1, so no singular value grows
  near(T.svd(r.delta).s.toArray()[0]!, want[0]!, 1e-10, "σ₁(Δ')");
  assert.ok(sbarSvd >= 1 && want.every((x, i) => x <= sv[i]! + 1e-12));
  // P5: the stored layout does not matter
  const rt = pruneDelta(T.contiguous(T.transpose(W0)), T.contiguous(T.transpose(D)), { ...PRUNE_DEFAULTS, rankTruncate: false });
  assert.ok(maxAbs(T.sub(T.transpose(rt.delta), r.delta)) <= 1e-10 * maxAbs(r.delta), 'layout invariance');
  // the identity restraint (σ̄ above every σ) gives Δ back
  const big = T.mul(W0, 100);
  assert.ok(maxAbs(T.sub(pruneDelta(big, D, { ...PRUNE_DEFAULTS, rankTruncate: false }).delta, D)) <= 1e-12 * maxAbs(D) * 10);
  // rank truncation drops only what is below the fp32 tolerance: a rank-2 Δ keeps rank 2
  const low = T.matmul(randn(rng, [m, 2]), randn(rng, [2, n]));
  assert.equal(pruneDelta(W0, low).after.length, 2);
});
