/**
 * EMMET's closed form against rivals.md §2.8: the hand cases (E7), the equality constraint (E1),
 * invariance in w (E2), the MEMIT identity (E3) and the relaxed constraint (E4) on fresh random
 * float64 problems of odd sizes, the single-request form (E6), the explicit-inverse path; and on
 * stories260K, EMMET with λ_e·w = λ equals MEMIT with λ.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { emmetSolve, type EmmetSolveOptions } from './solve.js';
import { EMMET_PRESETS, emmet } from './index.js';
import { MEMIT_PRESETS, memit } from '../memit/index.js';
import { randn, skipNoShared, testSeed } from '../../testing.js';
import { STORY_REQUESTS, withStories260K } from '../testing.js';

const d = (a: number[], s: number[]): Tensor => T.tensor(a, s, 'float64');
const G = (K: Tensor, C: Tensor, o: Partial<EmmetSolveOptions>): Tensor =>
  emmetSolve({ weight: 1, lambda: 0, normLambda: 0, explicitInverse: false, ...o })({
    index: 0,
    layer: 0,
    moduleName: 'm',
    K,
    C,
  });
const dW = (R: Tensor, g: Tensor): Tensor => T.matmul(R, T.transpose(g));
const close = (a: Tensor, b: Tensor, rel: number, what: string): void => {
  const x = a.toArray();
  const y = b.toArray();
  const scale = Math.max(...y.map(Math.abs), 1e-300);
  const err = Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));
  assert.ok(err <= rel * scale, `${what}: max |Δ| ${err.toExponential(2)} > ${rel} × ${scale.toExponential(2)}`);
};

const SEED = testSeed();

/** A random SPD C = A Aᵀ/m + εI, keys and residuals, seeded. */
function problem(seed: number, dk: number, dOut: number, n: number): { C: Tensor; K: Tensor; R: Tensor } {
  const rng = new T.Rng(seed);
  const A = randn(rng, [dk, dk + 4]);
  return {
    C: T.add(T.div(T.matmul(A, T.transpose(A)), dk + 4), T.mul(T.eye(dk, 'float64'), 1e-3)),
    K: randn(rng, [dk, n]),
    R: randn(rng, [dOut, n]),
  };
}

describe('EMMET closed form (float64)', () => {
  test('E7 hand cases: n = 1 and n = 2, with and without λ_e, both solve paths', () => {
    const C1 = d([1, 0, 0, 4], [2, 2]);
    const k = d([1, 2], [2, 1]);
    const r = d([3], [1, 1]);
    for (const explicitInverse of [false, true]) {
      close(dW(r, G(k, C1, { explicitInverse })), d([1.5, 0.75], [1, 2]), 1e-12, 'E7a λ_e = 0');
      close(dW(r, G(k, C1, { lambda: 0.1, explicitInverse })), d([10 / 7, 5 / 7], [1, 2]), 1e-12, 'E7a λ_e = 0.1');
      const wk = T.matmul(dW(r, G(k, C1, { weight: 1e4, lambda: 0.1, explicitInverse })), k);
      close(wk, d([(3 * 2e-4) / (2e-4 + 0.1)], [1, 1]), 1e-10, 'E7a w = 1e4');
      const C = d([1, 0, 0, 0, 2, 0, 0, 0, 4], [3, 3]);
      const K = d([1, 0, 0, 1, 1, 1], [3, 2]);
      const I2 = T.eye(2, 'float64');
      close(dW(I2, G(K, C, { explicitInverse })), d([6 / 7, -1 / 7, 1 / 7, -2 / 7, 5 / 7, 2 / 7], [2, 3]), 1e-12, 'E7b');
      const relaxed = T.matmul(dW(I2, G(K, C, { lambda: 0.1, explicitInverse })), K);
      close(relaxed, d([1 / 1.085, 0.025 / 1.085, 0.025 / 1.085, 0.95 / 1.085], [2, 2]), 1e-12, 'E7b λ_e = 0.1');
    }
  });

  test(`E1–E4 and E6 on random problems of odd sizes (seed ${SEED}; LMEDIT_TEST_SEED replays it)`, () => {
    const { C, K, R } = problem(SEED, 13, 5, 3);
    // E1: the constraint holds exactly without λ_e
    close(T.matmul(dW(R, G(K, C, {})), K), R, 1e-10, 'E1 ΔW K = R');
    // E2: w cancels without λ_e and λ_u
    close(dW(R, G(K, C, { weight: 37.5 })), dW(R, G(K, C, {})), 1e-11, 'E2 w invariance');
    // E3: the MEMIT identity, against an independent explicit computation
    const w = 3.25;
    const le = 0.7;
    const lu = 0.2;
    const Ct = T.add(T.mul(C, w), T.mul(T.eye(13, 'float64'), lu));
    const memitForm = T.matmul(T.matmul(R, T.transpose(K)), T.inverse(T.add(T.mul(Ct, le), T.matmul(K, T.transpose(K)))));
    close(dW(R, G(K, C, { weight: w, lambda: le, normLambda: lu })), memitForm, 1e-10, 'E3 identity');
    close(
      dW(R, G(K, C, { weight: w, lambda: le, normLambda: lu, explicitInverse: true })),
      memitForm,
      1e-9,
      'E3 explicit inverses',
    );
    // E4: the relaxed constraint ΔW K = R (I − λ_e D⁻¹)
    const D = T.add(T.matmul(T.matmul(T.transpose(K), T.inverse(Ct)), K), T.mul(T.eye(3, 'float64'), le));
    const want = T.matmul(R, T.sub(T.eye(3, 'float64'), T.mul(T.inverse(D), le)));
    close(T.matmul(dW(R, G(K, C, { weight: w, lambda: le, normLambda: lu })), K), want, 1e-10, 'E4 relaxed constraint');
    // E6: one request is ROME-shaped: r (C̃⁻¹k)ᵀ / (kᵀC̃⁻¹k + λ_e)
    const k = T.contiguous(T.narrow(K, 1, 0, 1));
    const r = T.contiguous(T.narrow(R, 1, 0, 1));
    const ck = T.matmul(T.inverse(Ct), k);
    const rome = T.div(T.matmul(r, T.transpose(ck)), T.matmul(T.transpose(k), ck).toArray()[0]! + le);
    close(dW(r, G(k, C, { weight: w, lambda: le, normLambda: lu })), rome, 1e-10, 'E6 single request');
  });
});

describe('EMMET on stories260K', { skip: skipNoShared }, () => {
  test("with λ_e·w = MEMIT λ (and λ_u = 0), EMMET writes MEMIT's ΔW", async () => {
    await withStories260K(({ model, tokenizer, stats }) => {
      const reqs = STORY_REQUESTS.slice(0, 2);
      const hpE = EMMET_PRESETS['stories260K']!;
      const hpM = MEMIT_PRESETS['stories260K']!;
      assert.equal(hpE.emmet_lambda * hpE.mom2_update_weight, hpM.mom2_update_weight);
      const ctx = { tokenizer, seed: 0, stats, apply: false };
      using a = emmet.apply(model, reqs, hpE, ctx);
      using b = memit.apply(model, reqs, hpM, ctx);
      assert.equal(a.method, 'EMMET');
      for (const [name, t] of b.deltas) close(a.deltas.get(name)!, t, 1e-4, name);
    });
  });
});
