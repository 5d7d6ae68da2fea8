/**
 * Tensor semantics on whichever backend is active (native when built): views, memory
 * lifetime (a forward+backward in a scope leaves live bytes unchanged), autograd plumbing,
 * in-place weight updates with exact restore, and clear errors on bad input.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from './index.js';

const rng = new T.Rng(7);

describe('views share storage', () => {
  test('transpose/narrow/reshape are views; writes through a view are visible', () => {
    const x = T.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const xt = T.transpose(x);
    assert.deepEqual(xt.shape, [3, 2]);
    assert.deepEqual(xt.toArray(), [1, 4, 2, 5, 3, 6]);
    assert.equal(xt.storage, x.storage);
    const col = T.narrow(x, 1, 1, 2);
    assert.deepEqual(col.toArray(), [2, 5]);
    T.assign(col, T.tensor([[9], [8]]));
    assert.deepEqual(x.toArray(), [1, 9, 3, 4, 8, 6]);
    const r = T.reshape(x, [3, 2]);
    assert.equal(r.storage, x.storage);
    const rt = T.reshape(xt, [6]); // not contiguous: a copy
    assert.notEqual(rt.storage, x.storage);
    assert.deepEqual(rt.toArray(), [1, 4, 9, 8, 3, 6]);
  });
  test('expand has stride 0 and sums its gradient', () => {
    const b = T.tensor([1, 2, 3]);
    const e = T.expand(b, [2, 3]);
    assert.deepEqual(e.strides, [0, 1]);
    const [g] = T.grad(() => {
      const ex = T.expand(b, [2, 3]);
      return T.sum(T.mul(ex, ex));
    }, [b]);
    assert.deepEqual(g!.toArray(), [4, 8, 12]);
  });
});

describe('memory lifetime', () => {
  test('a forward+backward inside tidy leaves live bytes unchanged', () => {
    const w1 = rng.normal([32, 64], 0.1);
    const w2 = rng.normal([64, 32], 0.1);
    const x = rng.normal([3, 5, 32]);
    const before = T.memoryStats();
    const loss = T.tidy(() => {
      const { value, grads } = T.valueAndGrad(() => {
        const h = T.gelu(T.matmul(T.layerNorm(x, null, null), w1));
        const y = T.matmul(h, w2);
        return T.crossEntropy(T.reshape(y, [15, 32]), T.arange(0, 15, 1, 'int32'));
      }, [w1, w2]);
      assert.equal(grads.length, 2);
      return value.item();
    });
    assert.ok(Number.isFinite(loss));
    assert.deepEqual(T.memoryStats(), before);
  });
  test('backward() leaves only the leaf gradients', () => {
    const w = rng.normal([8, 8]);
    w.requiresGrad = true;
    const before = T.liveBytes();
    T.tidy(() => T.backward(T.sum(T.tanh(T.matmul(w, w)))));
    assert.equal(T.liveBytes(), before + 8 * 8 * 4);
    T.zeroGrad([w]);
    assert.equal(T.liveBytes(), before);
  });
  test('dispose frees storage once the last view goes', () => {
    const before = T.liveBytes();
    const x = T.zeros([1000]);
    const v = T.narrow(x, 0, 10, 20);
    assert.equal(T.liveBytes(), before + 4000);
    x.dispose();
    assert.equal(T.liveBytes(), before + 4000);
    assert.deepEqual(v.toArray(), new Array(10).fill(0));
    v.dispose();
    assert.equal(T.liveBytes(), before);
    assert.throws(() => v.toArray(), /disposed/);
  });
  test('tidy frees intermediates even when fn throws', () => {
    const before = T.memoryStats();
    assert.throws(
      () =>
        T.tidy(() => {
          T.zeros([100]);
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.deepEqual(T.memoryStats(), before);
  });
});

describe('autograd plumbing', () => {
  test('gradients accumulate across backward calls and through reused tensors', () => {
    const x = T.tensor([2, 3]);
    x.requiresGrad = true;
    T.tidy(() => T.backward(T.sum(T.mul(x, x))));
    T.tidy(() => T.backward(T.sum(T.add(x, x))));
    assert.deepEqual(x.grad!.toArray(), [6, 8]);
  });
  test('noGrad records nothing and detach cuts the graph', () => {
    const x = T.tensor([1, 2]);
    x.requiresGrad = true;
    const y = T.noGrad(() => T.mul(x, 3));
    assert.equal(y.requiresGrad, false);
    const z = T.mul(T.detach(x), 3);
    assert.equal(z.requiresGrad, false);
  });
  test('gradient w.r.t. a vector inserted at chosen positions (the ROME pattern)', () => {
    const h = rng.normal([2, 4, 3]);
    const delta = T.zeros([3]);
    const rows = T.tensor([1, 6], [2], 'int32'); // (batch 0, pos 1) and (batch 1, pos 2)
    const target = rng.normal([2, 4, 3]);
    const [g] = T.grad(() => {
      const flat = T.reshape(h, [8, 3]);
      const d2 = T.expand(T.reshape(delta, [1, 3]), [2, 3]);
      const edited = T.reshape(T.addRows(flat, rows, d2), [2, 4, 3]);
      return T.sum(T.mul(edited, target));
    }, [delta]);
    const want = [0, 1, 2].map((c) => target.at(0, 1, c) + target.at(1, 2, c));
    g!.toArray().forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6));
  });
  test('valueAndGrad returns zeros for an unused input and restores requiresGrad', () => {
    const a = T.tensor([1, 2]);
    const b = T.tensor([3]);
    const { value, grads } = T.valueAndGrad(() => T.sum(T.mul(a, a)), [a, b]);
    assert.equal(value.item(), 5);
    assert.deepEqual(grads[1]!.toArray(), [0]);
    assert.equal(a.requiresGrad, false);
  });
});

describe('in-place weight updates', () => {
  test('addOuterInPlace then restore is bit-exact', () => {
    const w = rng.normal([5, 7]);
    const snap = T.snapshot(w);
    const orig = Float32Array.from(w.storage as Float32Array);
    const u = rng.normal([5]);
    const v = rng.normal([7]);
    T.addOuterInPlace(w, u, v, 0.5);
    assert.ok(Math.abs(w.at(2, 3) - (orig[2 * 7 + 3]! + 0.5 * u.at(2) * v.at(3))) < 1e-5);
    T.restore(w, snap);
    assert.deepEqual(new Uint32Array((w.storage as Float32Array).buffer), new Uint32Array(orig.buffer));
  });
  test('NaN in an update is rejected and the weight is untouched', () => {
    const w = rng.normal([3, 3]);
    const before = w.toArray();
    const bad = T.tensor([0, 0, 0, 0, NaN, 0, 0, 0, 0], [3, 3]);
    assert.throws(() => T.addInPlace(w, bad), /non-finite value \(NaN\) at flat index 4/);
    assert.deepEqual(w.toArray(), before);
  });
  test('bf16 weights take updates rounded once', () => {
    const w = T.cast(T.tensor([1, 2, 3]), 'bfloat16');
    T.addInPlace(w, T.tensor([0.5, 0.25, -1]));
    assert.deepEqual(w.toArray(), [1.5, 2.25, 2]);
  });
});

describe('matmul with half-precision weights', () => {
  for (const dt of ['float16', 'bfloat16'] as const) {
    test(`${dt} weight gives the same result as its f32 decode`, () => {
      const w32 = rng.normal([9, 13]);
      const w = T.cast(w32, dt);
      const wDecoded = T.cast(w, 'float32');
      for (const M of [1, 3, 17]) {
        const x = rng.normal([M, 9]);
        const a = T.matmul(x, w).toArray();
        const b = T.matmul(x, wDecoded).toArray();
        a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-4, `${dt} M=${M} element ${i}: ${v} vs ${b[i]}`));
      }
    });
  }
});

describe('bad input gives errors naming the op and shapes', () => {
  test('shape mismatches', () => {
    assert.throws(() => T.matmul(T.zeros([2, 3]), T.zeros([4, 5])), /matmul: inner dims differ: \[2, 3\] @ \[4, 5\]/);
    assert.throws(() => T.add(T.zeros([2, 3]), T.zeros([4])), /add: shapes \[2, 3\] and \[4\] cannot broadcast/);
    assert.throws(() => T.layerNorm(T.zeros([2, 3]), T.zeros([4]), null), /layerNorm: weight must have shape \[3\], got \[4\]/);
    assert.throws(() => T.reshape(T.zeros([2, 3]), [4, 2]), /reshape: cannot reshape \[2, 3\]/);
    assert.throws(() => T.attention(T.zeros([1, 3, 2, 4]), T.zeros([1, 2, 2, 4]), T.zeros([1, 2, 2, 4])), /attention:/);
  });
  test('dtype misuse', () => {
    assert.throws(() => T.add(T.zeros([2]), T.zeros([2], 'float64')), /add: dtype mismatch/);
    assert.throws(() => T.exp(T.zeros([2], 'int32')), /exp: expected a float32 or float64 tensor, got int32/);
    assert.throws(() => T.exp(T.zeros([2], 'bfloat16')), /cast\(\) it first/);
    assert.throws(() => T.embedding(T.zeros([2]), T.zeros([3, 2])), /embedding: ids must be int32/);
  });
  test('out-of-range indices', () => {
    assert.throws(() => T.embedding(T.tensor([0, 5], [2], 'int32'), T.zeros([3, 2])), /5/);
    assert.throws(
      () => T.crossEntropy(T.zeros([2, 3]), T.tensor([0, 3], [2], 'int32')),
      /nllLoss: target 3 at position 1 is outside \[0, 3\)/,
    );
    assert.throws(() => T.narrow(T.zeros([4]), 0, 2, 6), /narrow: range \[2, 6\) out of bounds/);
    assert.throws(() => T.gather(T.zeros([2, 3]), T.tensor([[0], [-1]], undefined, 'int32')), /-1/);
  });
  test('linear algebra: not SPD, singular', () => {
    assert.throws(
      () =>
        T.cholesky(
          T.tensor(
            [
              [1, 2],
              [2, 1],
            ],
            undefined,
            'float64',
          ),
        ),
      /cholesky|SPD|positive/i,
    );
    assert.throws(
      () =>
        T.solve(
          T.tensor(
            [
              [1, 2],
              [2, 4],
            ],
            undefined,
            'float64',
          ),
          T.tensor([1, 1], [2], 'float64'),
        ),
      /singular/i,
    );
  });
});
