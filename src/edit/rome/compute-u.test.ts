/**
 * The C⁻¹ cache of ROME: keyed by the statistics tensor itself, so statistics with equal
 * summary numbers (the sums the cache once compared) never share an inverse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { charTokenizer, tinyGpt2 } from '../stats/testing.js';
import type { EditContext } from '../types.js';
import { clearInverseCache, inverseSecondMoment } from './compute-u.js';

const MODULE = 'transformer.h.1.mlp.c_proj';

/** A context whose provider returns each of `Cs` in turn. */
function contextReturning(...Cs: T.Tensor[]): EditContext {
  let i = 0;
  return { tokenizer: charTokenizer(), stats: { secondMoment: () => Cs[Math.min(i++, Cs.length - 1)]! } };
}

const close = (a: number[], b: number[]): boolean => a.every((x, i) => Math.abs(x - b[i]!) < 1e-6);

test('different statistics with equal sums get their own inverse; the same statistics reuse it', () => {
  const model = tinyGpt2();
  // entries 0 and 7 of the flattened matrices swap places: equal Σx and Σx²·((i mod 7) + 1)
  const A = T.keep(T.tensor([2, 0, 0, 0, 2, 0, 0, 1, 3], [3, 3]));
  const B = T.keep(T.tensor([1, 0, 0, 0, 2, 0, 0, 2, 3], [3, 3]));
  try {
    const ctx = contextReturning(A, B, B);
    const invA = inverseSecondMoment(model, 1, MODULE, ctx).toArray();
    const invB = inverseSecondMoment(model, 1, MODULE, ctx);
    assert.ok(!close(invA, invB.toArray()), 'B must not reuse the inverse of A');
    const product = T.tidy(() => T.matmul(B, invB).toArray());
    assert.ok(close(product, [1, 0, 0, 0, 1, 0, 0, 0, 1]), 'B·B⁻¹ = I');
    assert.equal(inverseSecondMoment(model, 1, MODULE, ctx), invB, 'the same C tensor hits the cache');
  } finally {
    clearInverseCache(model);
    A.dispose();
    B.dispose();
  }
});
