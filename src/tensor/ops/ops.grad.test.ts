/**
 * Every differentiable op's backward against central finite differences, in float64 on the
 * reference backend, with fresh random inputs (seed printed on failure), odd and size-1 dims
 * and broadcasting. Tolerance: |autograd - numeric| <= 1e-6 + 1e-5 |numeric| (eps 1e-6), the
 * truncation + rounding error of central differences on O(1) float64 functions.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../index.js';
import { gradcheck } from '../testing.js';

T.setBackend('reference');

const SEED = Number(process.env['LMEDIT_TEST_SEED'] ?? Date.now() % 100000);
const rng = new T.Rng(SEED);
const R = (shape: number[], std = 1): T.Tensor => rng.normal(shape, std, 0, 'float64');
/** Values bounded away from 0 (for log, sqrt, div, abs, relu kinks). */
const P = (shape: number[]): T.Tensor => {
  const t = rng.uniform(shape, 0.5, 2, 'float64');
  return t;
};
const away = (shape: number[]): T.Tensor => {
  const t = R(shape);
  const s = t.storage as Float64Array;
  for (let i = 0; i < s.length; i++) if (Math.abs(s[i]!) < 0.1) s[i] = s[i]! < 0 ? -0.3 : 0.3;
  return t;
};

function check(name: string, fn: (...xs: T.Tensor[]) => T.Tensor, inputs: () => T.Tensor[], opts = {}): void {
  test(name, () => {
    const xs = inputs();
    try {
      T.tidy(() => gradcheck(fn, xs, opts));
    } catch (e) {
      throw new Error(`${(e as Error).message} [seed ${SEED}]`);
    } finally {
      xs.forEach((x) => x.dispose());
    }
  });
}

describe('unary ops', () => {
  const shapes = [[7], [3, 5], [1, 4, 1]];
  const smooth: [string, (x: T.Tensor) => T.Tensor, (s: number[]) => T.Tensor][] = [
    ['neg', T.neg, R],
    ['exp', T.exp, R],
    ['log', T.log, P],
    ['sqrt', T.sqrt, P],
    ['rsqrt', T.rsqrt, P],
    ['tanh', T.tanh, R],
    ['abs', T.abs, away],
    ['sigmoid', T.sigmoid, R],
    ['relu', T.relu, away],
    ['silu', T.silu, R],
    ['gelu (tanh, gelu_new)', T.gelu, R],
    ['gelu (erf)', T.geluErf, R],
    ['square', T.square, R],
    ['reciprocal', T.reciprocal, P],
    ['sin', T.sin, R],
    ['cos', T.cos, R],
    ['pow 3', (x) => T.pow(x, 3), R],
    ['pow 0.5', (x) => T.pow(x, 0.5), P],
    ['clamp', (x) => T.clamp(x, -0.45, 0.55), away],
  ];
  for (const [name, fn, gen] of smooth) {
    for (const s of shapes) check(`${name} ${JSON.stringify(s)}`, fn, () => [gen(s)]);
  }
  test('sign has zero gradient', () => {
    const x = away([5]);
    const [g] = T.grad(() => T.sum(T.sign(x)), [x]);
    assert.deepEqual(g!.toArray(), [0, 0, 0, 0, 0]);
  });
});

describe('binary ops with broadcasting', () => {
  const pairs: [number[], number[]][] = [
    [
      [3, 4],
      [3, 4],
    ],
    [[3, 4], [4]],
    [
      [2, 1, 5],
      [3, 1],
    ],
    [[1], [2, 3]],
    [
      [4, 1, 1],
      [1, 3, 2],
    ],
  ];
  for (const [sa, sb] of pairs) {
    const tag = `${JSON.stringify(sa)} x ${JSON.stringify(sb)}`;
    check(`add ${tag}`, T.add, () => [R(sa), R(sb)]);
    check(`sub ${tag}`, T.sub, () => [R(sa), R(sb)]);
    check(`mul ${tag}`, T.mul, () => [R(sa), R(sb)]);
    check(`div ${tag}`, T.div, () => [R(sa), P(sb)]);
    check(`pow ${tag}`, T.pow, () => [P(sa), R(sb)]);
    check(`maximum ${tag}`, T.maximum, () => [R(sa), R(sb)]);
    check(`minimum ${tag}`, T.minimum, () => [R(sa), R(sb)]);
  }
  check(
    'scalar operands',
    (x) => T.div(T.sub(2, T.mul(x, 3)), T.add(T.pow(2, x), 1)),
    () => [R([2, 3])],
  );
  check(
    'where broadcast',
    (a, b) => {
      const cond = T.gt(T.tensor([1, -1, 2, -3], [4, 1], 'float64'), 0);
      return T.where(cond, a, b);
    },
    () => [R([4, 3]), R([3])],
  );
  test('maximum splits tied gradients equally', () => {
    const a = T.tensor([1, 2], [2], 'float64');
    const b = T.tensor([1, 1], [2], 'float64');
    const [ga, gb] = T.grad(() => T.sum(T.maximum(a, b)), [a, b]);
    assert.deepEqual(ga!.toArray(), [0.5, 1]);
    assert.deepEqual(gb!.toArray(), [0.5, 0]);
  });
});

describe('reductions', () => {
  check(
    'sum all',
    (x) => T.sum(x),
    () => [R([3, 4])],
  );
  check(
    'sum axis 1',
    (x) => T.sum(x, 1),
    () => [R([3, 4, 2])],
  );
  check(
    'sum axes [0, 2] keepdim',
    (x) => T.sum(x, [0, 2], true),
    () => [R([3, 4, 2])],
  );
  check(
    'mean axes [-1]',
    (x) => T.mean(x, -1),
    () => [R([5, 3])],
  );
  check(
    'max axis 0',
    (x) => T.max(x, 0),
    () => [R([4, 3])],
  );
  check(
    'max axis -1 keepdim',
    (x) => T.max(x, -1, true),
    () => [R([2, 3, 5])],
  );
  check(
    'min axis 1',
    (x) => T.min(x, 1),
    () => [R([3, 4, 2])],
  );
  check(
    'max all',
    (x) => T.max(x),
    () => [R([3, 3])],
  );
  check(
    'logsumexp',
    (x) => T.logsumexp(x, -1),
    () => [R([3, 7])],
  );
  check(
    'logsumexp axis 0',
    (x) => T.logsumexp(x, 0, true),
    () => [R([3, 7])],
  );
  check(
    'variance',
    (x) => T.variance(x, 1),
    () => [R([3, 6])],
  );
  check(
    'variance unbiased all',
    (x) => T.variance(x, undefined, false, true),
    () => [R([3, 6])],
  );
  check(
    'norm 2',
    (x) => T.norm(x),
    () => [R([4, 3])],
  );
  check(
    'norm 1 axis',
    (x) => T.norm(x, 1, 1),
    () => [away([4, 3])],
  );
  check(
    'norm 2 axis keepdim',
    (x) => T.norm(x, 2, -1, true),
    () => [R([3, 5])],
  );
  test('norm 2 has gradient 0 at a zero row, as torch gives (not NaN)', () => {
    const x = T.tensor(
      [
        [0, 0, 0],
        [3, 4, 0],
      ],
      undefined,
      'float64',
    );
    const [g] = T.grad(() => T.sum(T.norm(x, 2, 1)), [x]);
    const want = [0, 0, 0, 0.6, 0.8, 0];
    g!.toArray().forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-15, `element ${i}: ${v}`));
  });
  check(
    'norm 3 axis',
    (x) => T.norm(x, 3, 0),
    () => [away([4, 3])],
  );
  test('argmax picks the first maximum', () => {
    const x = T.tensor(
      [
        [1, 3, 3],
        [5, 0, 5],
      ],
      undefined,
      'float64',
    );
    assert.deepEqual(T.argmax(x, 1).toArray(), [1, 0]);
    assert.deepEqual(T.argmax(x, 0).toArray(), [1, 0, 1]);
  });
});

describe('matmul', () => {
  check('2-D', T.matmul, () => [R([3, 5]), R([5, 4])]);
  check('size-1 dims', T.matmul, () => [R([1, 5]), R([5, 1])]);
  check('batched', T.matmul, () => [R([2, 3, 5]), R([2, 5, 4])]);
  check('broadcast batch', T.matmul, () => [R([2, 1, 3, 5]), R([3, 5, 2])]);
  check('activation @ weight', T.matmul, () => [R([2, 3, 5]), R([5, 4])]);
  check(
    'transposed views',
    (a, b) => T.matmul(T.transpose(a), T.transpose(b)),
    () => [R([5, 3]), R([4, 5])],
  );
  check(
    'permuted batch (irregular strides)',
    (a, b) => T.matmul(T.permute(a, [1, 0, 2]), b),
    () => [R([3, 2, 4]), R([2, 4, 3])],
  );
  check('vector @ matrix', T.matmul, () => [R([5]), R([5, 3])]);
  check('matrix @ vector', T.matmul, () => [R([3, 5]), R([5])]);
  check(
    'linear out_in + bias',
    (x, w, b) => T.linear(x, w, b, 'out_in'),
    () => [R([2, 3, 5]), R([4, 5]), R([4])],
  );
  check(
    'linear in_out (Conv1D) + bias',
    (x, w, b) => T.linear(x, w, b, 'in_out'),
    () => [R([3, 5]), R([5, 4]), R([4])],
  );
});

describe('shape ops', () => {
  check(
    'reshape',
    (x) => T.mul(T.reshape(x, [2, -1]), 2),
    () => [R([3, 4])],
  );
  check(
    'reshape of a transposed view',
    (x) => T.reshape(T.transpose(x), [-1]),
    () => [R([3, 4])],
  );
  check(
    'permute',
    (x) => T.permute(x, [2, 0, 1]),
    () => [R([2, 3, 4])],
  );
  check(
    'narrow',
    (x) => T.narrow(x, 1, 1, 3),
    () => [R([3, 5])],
  );
  check(
    'select',
    (x) => T.select(x, 0, -1),
    () => [R([3, 5])],
  );
  const m = R([4, 3, 5]);
  check(
    'expand',
    (x) => T.mul(T.expand(x, [4, 3, 5]), m),
    () => [R([3, 1])],
  );
  check(
    'squeeze/unsqueeze',
    (x) => T.unsqueeze(T.squeeze(x, 1), 0),
    () => [R([3, 1, 2])],
  );
  check(
    'concat',
    (a, b) => T.concat([a, b], 1),
    () => [R([2, 3]), R([2, 4])],
  );
  check(
    'stack',
    (a, b) => T.stack([a, b], 1),
    () => [R([2, 3]), R([2, 3])],
  );
  check(
    'split',
    (x) => {
      const [a, b] = T.split(x, [1, 3], 1);
      return T.add(T.sum(a!), T.mul(b!, b!));
    },
    () => [R([2, 4])],
  );
  check(
    'contiguous + clone',
    (x) => T.clone(T.contiguous(T.transpose(x))),
    () => [R([2, 3])],
  );
  check(
    'cast float64 -> float64',
    (x) => T.cast(x, 'float64'),
    () => [R([4])],
  );
});

describe('fused nn ops', () => {
  check(
    'softmax',
    (x) => T.softmax(x),
    () => [R([3, 7])],
  );
  check(
    'softmax axis 0',
    (x) => T.softmax(x, 0),
    () => [R([4, 3])],
  );
  check(
    'log_softmax',
    (x) => T.logSoftmax(x),
    () => [R([2, 3, 5])],
  );
  check(
    'layerNorm',
    (x, w, b) => T.layerNorm(x, w, b, 1e-5),
    () => [R([3, 7]), R([7]), R([7])],
  );
  check(
    'layerNorm no affine',
    (x) => T.layerNorm(x, null, null),
    () => [R([2, 2, 5])],
  );
  check(
    'rmsNorm',
    (x, w) => T.rmsNorm(x, w, 1e-6),
    () => [R([3, 7]), R([7])],
  );
  check(
    'rmsNorm size-1 rows',
    (x, w) => T.rmsNorm(x, w),
    () => [R([1, 9]), R([9])],
  );

  const ropeCase = (layout: 'half' | 'interleaved', D: number, rotaryDim: number) =>
    check(
      `rope ${layout} D=${D} rotaryDim=${rotaryDim}`,
      (x) => {
        const P = 6;
        const half = rotaryDim / 2;
        const ang = Array.from({ length: P * half }, (_, i) => Math.floor(i / half) / 10000 ** ((2 * (i % half)) / rotaryDim));
        const cos = T.tensor(ang.map(Math.cos), [P, half], 'float64');
        const sin = T.tensor(ang.map(Math.sin), [P, half], 'float64');
        const pos = T.tensor([0, 1, 2, 1, 2, 5], [2, 3], 'int32');
        return T.rope(x, pos, cos, sin, { layout, rotaryDim });
      },
      () => [R([2, 2, 3, D])],
    );
  ropeCase('half', 8, 8);
  ropeCase('interleaved', 8, 8);
  ropeCase('interleaved', 10, 6);
  ropeCase('half', 6, 4);

  const attnCase = (name: string, H: number, KVH: number, Tq: number, Tk: number, causal: boolean, mask: number[] | null) =>
    check(
      `attention ${name}`,
      (q, k, v) => {
        const keyMask = mask ? T.tensor(mask, [2, Tk], 'uint8') : null;
        return T.attention(q, k, v, { causal, keyMask });
      },
      () => [R([2, H, Tq, 4]), R([2, KVH, Tk, 4]), R([2, KVH, Tk, 4])],
    );
  attnCase('MHA causal', 2, 2, 5, 5, true, null);
  attnCase('GQA causal', 4, 2, 5, 5, true, null);
  attnCase('left padding', 2, 1, 4, 4, true, [0, 0, 1, 1, 1, 1, 1, 1]);
  attnCase('KV-cache offset', 2, 2, 2, 5, true, null);
  attnCase('not causal', 3, 3, 3, 4, false, [1, 1, 1, 0, 0, 1, 1, 1]);

  check(
    'embedding',
    (t) =>
      T.embedding(
        T.tensor(
          [
            [1, 3, 1],
            [0, 2, 3],
          ],
          undefined,
          'int32',
        ),
        t,
      ),
    () => [R([4, 5])],
  );
});

describe('indexing', () => {
  check(
    'indexSelect',
    (x) => T.indexSelect(x, T.tensor([2, 0, 2], [3], 'int32')),
    () => [R([4, 3])],
  );
  check(
    'gather',
    (x) =>
      T.gather(
        x,
        T.tensor(
          [
            [0, 3],
            [2, 2],
            [1, 0],
          ],
          undefined,
          'int32',
        ),
      ),
    () => [R([3, 4])],
  );
  check(
    'scatterAdd',
    (x, s) =>
      T.scatterAdd(
        x,
        T.tensor(
          [
            [0, 3],
            [2, 2],
          ],
          undefined,
          'int32',
        ),
        s,
      ),
    () => [R([2, 4]), R([2, 2])],
  );
  check(
    'addRows',
    (x, v) => T.addRows(x, T.tensor([4, 1, 4], [3], 'int32'), v),
    () => [R([5, 3]), R([3, 3])],
  );
  check(
    'setRows',
    (x, v) => T.setRows(x, T.tensor([3, 0], [2], 'int32'), v),
    () => [R([5, 3]), R([2, 3])],
  );
});

describe('losses', () => {
  check(
    'crossEntropy with ignore index',
    (x) => T.crossEntropy(x, T.tensor([2, -100, 0, 4], [4], 'int32')),
    () => [R([4, 5])],
  );
  check(
    'crossEntropy sum, 3-D',
    (x) =>
      T.crossEntropy(
        x,
        T.tensor(
          [
            [1, 0, 2],
            [2, 2, 1],
          ],
          undefined,
          'int32',
        ),
        { reduction: 'sum' },
      ),
    () => [R([2, 3, 3])],
  );
  check(
    'nllLoss none',
    (x) => T.nllLoss(T.logSoftmax(x), T.tensor([1, 0, 2], [3], 'int32'), { reduction: 'none' }),
    () => [R([3, 3])],
  );
  check(
    'klDivLoss batchmean',
    (a, b) => T.klDivLoss(T.logSoftmax(a), T.logSoftmax(b)),
    () => [R([3, 6]), R([3, 6])],
  );
  check(
    'kl',
    (a, b) => T.kl(T.logSoftmax(a), T.logSoftmax(b)),
    () => [R([2, 5]), R([2, 5])],
  );
  test('crossEntropy matches a hand computation', () => {
    const x = T.tensor(
      [
        [1, 2, 3],
        [0, 0, 0],
      ],
      undefined,
      'float64',
    );
    const l = T.crossEntropy(x, T.tensor([2, 1], [2], 'int32')).item();
    const l0 = -(3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)));
    const l1 = Math.log(3);
    assert.ok(Math.abs(l - (l0 + l1) / 2) < 1e-12);
  });
});

describe('composite: a tiny transformer block end to end', () => {
  check(
    'pre-LN block (LayerNorm, attention, GELU MLP)',
    (x, wqkv, wo, w1, w2) => {
      const [B, Tn, C] = x.shape as [number, number, number];
      const H = 2;
      const h = T.layerNorm(x, null, null);
      const qkv = T.matmul(h, wqkv); // [B, T, 3C]
      const [q, k, v] = T.split(qkv, 3, 2).map((t) => T.permute(T.reshape(t, [B, Tn, H, C / H]), [0, 2, 1, 3]));
      const a = T.attention(q!, k!, v!, { causal: true });
      const y = T.reshape(T.permute(a, [0, 2, 1, 3]), [B, Tn, C]);
      const x1 = T.add(x, T.matmul(y, wo));
      return T.add(x1, T.matmul(T.gelu(T.matmul(T.rmsNorm(x1, null), w1)), w2));
    },
    () => [R([2, 3, 4]), R([4, 12], 0.5), R([4, 4], 0.5), R([4, 8], 0.5), R([8, 4], 0.5)],
  );
});
