/** Random-k and PCA-k baselines, and the DeltaTransform wrapper used through a WeightEditor. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import { WeightEditor } from '../apply.js';
import { pcaLowRank, pcaPaper, randomK } from './baselines.js';
import { makeDeltaTransform } from './transform.js';

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
}

describe('randomK', () => {
  test('reproducible per seed, about keep of the entries kept, values unchanged', () => {
    const dw = new T.Rng(1).normal([200, 300]);
    const a = randomK(dw, 0.4, new T.Rng(7));
    const b = randomK(dw, 0.4, new T.Rng(7));
    const c = randomK(dw, 0.4, new T.Rng(8));
    assert.deepEqual(a.deltaW.toArray(), b.deltaW.toArray());
    assert.notDeepEqual(Array.from(a.mask.storage as Uint8Array), Array.from(c.mask.storage as Uint8Array));
    const n = 200 * 300;
    const sd = Math.sqrt(n * 0.4 * 0.6);
    assert.ok(Math.abs(a.keptCount - 0.4 * n) < 5 * sd, `kept ${a.keptCount} of ${n}`);
    const src = dw.toArray();
    const out = a.deltaW.toArray();
    const m = a.mask.storage as Uint8Array;
    out.forEach((x, i) => assert.equal(x, m[i] ? src[i] : 0));
  });

  test('the draw is u < 1 − keep → zero, in row-major order', () => {
    const dw = T.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const rng = new T.Rng(3);
    const u = Array.from({ length: 6 }, () => rng.next());
    const got = randomK(dw, 0.3, new T.Rng(3)).deltaW.toArray();
    assert.deepEqual(
      got,
      [1, 2, 3, 4, 5, 6].map((x, i) => (u[i]! < 0.7 ? 0 : x)),
    );
    assert.equal(randomK(dw, 1, new T.Rng(0)).keptCount, 6);
    assert.equal(randomK(dw, 0, new T.Rng(0)).keptCount, 0);
  });
});

/** Scores of centred X by a direct computation: T.svd of the centred matrix, U_r S_r. */
function directScores(x: number[][], r: number): number[][] {
  const m = x.length;
  const n = x[0]!.length;
  const mean = Array.from({ length: n }, (_, j) => x.reduce((s, row) => s + row[j]!, 0) / m);
  const xc = T.tensor(
    x.map((row) => row.map((v, j) => v - mean[j]!)),
    undefined,
    'float64',
  );
  const { u, s } = T.svd(xc);
  const out = Array.from({ length: m }, (_, i) => Array.from({ length: r }, (_, c) => u.at(i, c) * s.at(c)));
  // sklearn svd_flip: largest |.| of each column positive
  for (let c = 0; c < r; c++) {
    let arg = 0;
    for (let i = 0; i < m; i++) if (Math.abs(out[i]![c]!) > Math.abs(out[arg]![c]!)) arg = i;
    if (out[arg]![c]! < 0) for (let i = 0; i < m; i++) out[i]![c] = -out[i]![c]!;
  }
  return out;
}

describe('pcaPaper', () => {
  for (const [m, n] of [
    [12, 5],
    [5, 12],
  ] as const) {
    test(`scores in the first r columns, zeros after ([${m}, ${n}], svd and gram solvers)`, () => {
      const rng = new T.Rng(m * 100 + n);
      const x = Array.from({ length: m }, () => Array.from({ length: n }, () => rng.nextNormal()));
      const dw = T.tensor(x, undefined, 'float64');
      const keep = 0.4;
      const r = Math.min(Math.round(keep * n), m, n);
      const want = directScores(x, r);
      for (const solver of ['svd', 'gram'] as const) {
        const res = pcaPaper(dw, keep, solver);
        assert.equal(res.r, r);
        assert.equal(res.solver, solver);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const got = res.deltaW.at(i, j);
            if (j < r) assert.ok(Math.abs(got - want[i]![j]!) < 1e-10, `${solver} [${i}, ${j}] ${got} vs ${want[i]![j]}`);
            else assert.equal(got, 0);
          }
        }
      }
    });
  }

  test('rank-one ΔW: one non-trivial column; float32 in, float32 out; r = round(keep·cols) clamped', () => {
    const rng = new T.Rng(2);
    const dw = T.matmul(rng.normal([40, 1]), rng.normal([1, 10])); // [40, 10] float32
    const res = pcaPaper(dw, 0.4);
    assert.equal(res.deltaW.dtype, 'float32');
    assert.equal(res.r, 4);
    const sv = Array.from(res.singularValues);
    assert.ok(sv[0]! > 1 && sv.slice(1).every((s) => s < 1e-5 * sv[0]!), `singular values ${sv}`);
    const wide = pcaPaper(T.zeros([3, 20]), 0.4);
    assert.equal(wide.requested, 8);
    assert.equal(wide.r, 3);
  });
});

describe('pcaLowRank', () => {
  test('rank-one ΔW is returned unchanged', () => {
    const rng = new T.Rng(4);
    const dw = T.matmul(rng.normal([30, 1]), rng.normal([1, 20], 0.1)); // [30, 20]
    for (const solver of ['svd', 'gram'] as const) {
      for (const keep of [0, 0.4, 1]) {
        const res = pcaLowRank(dw, keep, solver);
        assert.equal(res.r, Math.max(1, Math.round(keep * 20)));
        const err = maxAbsDiff(res.deltaW.toArray(), dw.toArray());
        assert.ok(err < 1e-6, `${solver} keep ${keep}: ${err}`);
      }
    }
    const wide = pcaLowRank(T.transpose(dw), 0.4, 'gram'); // [20, 30]: left Gram route
    assert.ok(maxAbsDiff(wide.deltaW.toArray(), T.transpose(dw).toArray()) < 1e-6);
  });

  test('equals the truncated SVD of a full-rank matrix', () => {
    const rng = new T.Rng(5);
    const x = rng.normal([9, 6], 1, 0, 'float64');
    const { u, s, vt } = T.svd(x);
    const r = 2; // round(0.4 · 6)
    const want: number[] = [];
    for (let i = 0; i < 9; i++)
      for (let j = 0; j < 6; j++) {
        let v = 0;
        for (let c = 0; c < r; c++) v += u.at(i, c) * s.at(c) * vt.at(c, j);
        want.push(v);
      }
    for (const solver of ['svd', 'gram'] as const) {
      assert.ok(maxAbsDiff(pcaLowRank(x, 0.4, solver).deltaW.toArray(), want) < 1e-10, solver);
      assert.ok(
        maxAbsDiff(
          pcaLowRank(T.transpose(x), 0.4, solver).deltaW.toArray(),
          T.transpose(T.tensor(want, [9, 6], 'float64')).toArray(),
        ) < 1e-10,
      );
    }
  });
});

describe('makeDeltaTransform', () => {
  test('rect through a WeightEditor: the applied ΔW is sparsified against the current weight', () => {
    const rng = new T.Rng(12);
    const W = T.keep(rng.normal([8, 10]));
    const W0 = T.clone(W);
    const model = { param: (name: string) => (name === 'w' ? W : assert.fail(name)) } as unknown as CausalLM;
    const tr = makeDeltaTransform({ mode: 'rect', keep: 0.4 });
    const ed = new WeightEditor(model, tr);
    const dw = rng.normal([8, 10], 0.05);
    ed.add('w', dw);
    assert.equal(tr.records.length, 1);
    const rec = tr.records[0]!;
    assert.equal(rec.kept, 80 - 48);
    assert.equal(rec.rect!.keepCount, 32);
    const applied = ed.deltas.get('w')!.toArray();
    assert.equal(applied.filter((x) => x !== 0).length, 32);
    const after = W.toArray();
    W0.toArray().forEach((w0, i) => assert.equal(after[i], Math.fround(w0 + applied[i]!)));
    // a second edit is measured against the already-edited weight
    ed.add('w', dw);
    assert.equal(tr.records.length, 2);
    ed.restore();
    assert.deepEqual(W.toArray(), W0.toArray());
  });

  test('random is seeded per transform; pca skips non-matrices; bad options throw', () => {
    const dw = new T.Rng(1).normal([20, 10]);
    const w = T.ones([20, 10]);
    const a = makeDeltaTransform({ mode: 'random', keep: 0.4, seed: 3 });
    const b = makeDeltaTransform({ mode: 'random', keep: 0.4, seed: 3 });
    assert.deepEqual(a('x', dw, w).toArray(), b('x', dw, w).toArray());
    assert.notDeepEqual(a('x', dw, w).toArray(), b('y', T.zeros([20, 10]), w).toArray());
    const p = makeDeltaTransform({ mode: 'pca', keep: 0.2, pcaMode: 'lowrank' });
    p('m', dw, w);
    assert.equal(p.records[0]!.pca!.r, 2);
    const bias = p('b', T.tensor([1, 2, 3]), T.tensor([1, 1, 1]));
    assert.deepEqual(bias.toArray(), [1, 2, 3]);
    assert.match(p.records[1]!.skipped!, /matrix/);
    assert.throws(() => makeDeltaTransform({ mode: 'rect', keep: 40 }), /keep must be/);
    assert.throws(() => makeDeltaTransform({ mode: 'nope' as 'rect' }), /unknown mode/);
  });
});
