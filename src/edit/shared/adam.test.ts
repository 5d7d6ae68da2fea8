/** Adam against two hand-computed torch.optim.Adam steps (lr 0.5, default betas and eps). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { Adam } from './adam.js';

test('Adam: two steps match the bias-corrected update with eps after the correction', () => {
  // step 1: m̂ = g, v̂ = g², so p = −lr·g/(|g| + eps); a zero gradient leaves its entry at 0
  // step 2 by hand: m = 0.9·m + 0.1·g, v = 0.999·v + 0.001·g², p −= (lr/0.19)·m / (√v/√0.001999 + 1e-8)
  const p = new Float32Array(3);
  const opt = new Adam(3, { lr: 0.5 });
  opt.stepArrays(p, [1, -2, 0]);
  const want1 = [-0.4999999950000001, 0.4999999975, 0];
  want1.forEach((w, i) => assert.ok(Math.abs(p[i]! - w) <= 1e-7, `step 1 [${i}]: ${p[i]} vs ${w}`));
  opt.stepArrays(p, [1, 1, 1e-3]);
  const want2 = [-0.9999999899999966, 0.6331685164878422, -0.3720631513315506];
  // float32 arithmetic: a few ulps of the values
  want2.forEach((w, i) => assert.ok(Math.abs(p[i]! - w) <= 1e-6, `step 2 [${i}]: ${p[i]} vs ${w}`));
  assert.equal(opt.t, 2);
});

test('Adam: eps dominates tiny gradients (eps is added after the bias correction, not inside the sqrt)', () => {
  const p = new Float32Array(1);
  new Adam(1, { lr: 1 }).stepArrays(p, [1e-8]);
  // −1·1e-8/(1e-8 + 1e-8) = −0.5
  assert.ok(Math.abs(p[0]! + 0.5) < 1e-6, `got ${p[0]}`);
});

test('Adam.step updates a float32 tensor in place and rejects a wrong size', () => {
  const x = T.zeros([2]);
  const g = T.tensor([3, -4]);
  const opt = new Adam(2, { lr: 0.1 });
  opt.step(x, g);
  const v = x.toArray();
  assert.ok(Math.abs(v[0]! + 0.1) < 1e-6 && Math.abs(v[1]! - 0.1) < 1e-6, `got ${v}`);
  assert.throws(() => opt.stepArrays(new Float32Array(3), [1, 2, 3]), /expected 2 elements/);
  x.dispose();
  g.dispose();
});
