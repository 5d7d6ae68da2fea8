/**
 * SecondMoment and the one-pass accumulation: against a naive Σ k kᵀ over keys traced with a
 * full forward per chunk; padding, batching, several layers, early stop and per-module starts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { Trace } from '../../models/hooks.js';
import type { CausalLM, ForwardInput, ForwardOutput } from '../../models/types.js';
import { SecondMoment, accumulateSecondMoments, moduleInputDim, type TokenChunk } from './second-moment.js';
import { tinyGpt2 } from './testing.js';

const L1 = 'transformer.h.1.mlp.c_proj';
const L2 = 'transformer.h.2.mlp.c_proj';
const L0 = 'transformer.h.0.mlp.c_proj';

/** Chunks of pseudo-random ids with varied lengths. */
function makeChunks(n: number, seed = 3): TokenChunk[] {
  let s = seed;
  const next = (): number => (s = (s * 1103515245 + 12345) % 2147483648);
  return Array.from({ length: n }, (_, index) => ({ ids: Array.from({ length: 5 + (next() % 20) }, () => next() % 50), index }));
}

/** Σ k kᵀ in float64 from a full forward per chunk (batch of one, positions 0..). */
function naiveSum(model: CausalLM, chunks: TokenChunk[], module: string): { sum: Float64Array; count: number } {
  const d = moduleInputDim(model, module);
  const sum = new Float64Array(d * d);
  let count = 0;
  for (const c of chunks) {
    const tr = new Trace({ retainInput: [module] });
    T.noGrad(() => T.tidy(() => model.forward({ ids: T.tensor(c.ids, [1, c.ids.length], 'int32'), trace: tr })));
    const k = tr.input(module).toArray(); // [1, t, d] flattened
    tr.dispose();
    for (let t = 0; t < c.ids.length; t++) {
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) sum[i * d + j]! += k[t * d + i]! * k[t * d + j]!;
    }
    count += c.ids.length;
  }
  return { sum, count };
}

function relMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let md = 0;
  let mr = 0;
  for (let i = 0; i < a.length; i++) {
    md = Math.max(md, Math.abs(a[i]! - b[i]!));
    mr = Math.max(mr, Math.abs(b[i]!));
  }
  return md / mr;
}

describe('SecondMoment', () => {
  test('add accumulates Kᵀ K and the count; mean divides', () => {
    const rng = new T.Rng(7);
    const m = new SecondMoment(6);
    const K1 = rng.normal([10, 6]);
    const K2 = rng.normal([3, 6]);
    m.add(K1);
    m.add(K2);
    const rows = [...K1.toArray(), ...K2.toArray()];
    const want = new Float64Array(36);
    for (let r = 0; r < 13; r++)
      for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) want[i * 6 + j]! += rows[r * 6 + i]! * rows[r * 6 + j]!;
    assert.equal(m.count, 13);
    assert.ok(relMaxDiff(m.sum.toArray(), want) < 1e-6);
    const C = m.mean();
    assert.ok(
      relMaxDiff(
        C.toArray(),
        Array.from(want, (x) => x / 13),
      ) < 1e-6,
    );
    assert.throws(() => m.add(rng.normal([2, 5])), /expected \[n, 6\]/);
    assert.throws(() => new SecondMoment(3).mean(), /no token/);
    [K1, K2, C].forEach((t) => t.dispose());
    m.dispose();
  });

  test('float64 accumulation keeps float64', () => {
    const m = new SecondMoment(2, 'float64');
    m.add(
      T.tensor([
        [1, 2],
        [3, 4],
      ]),
    );
    assert.equal(m.sum.dtype, 'float64');
    assert.deepEqual(m.sum.toArray(), [10, 14, 14, 20]);
    m.dispose();
  });
});

describe('accumulateSecondMoments', () => {
  const model = tinyGpt2();
  const chunks = makeChunks(7);
  const tokens = chunks.reduce((a, c) => a + c.ids.length, 0);
  const d = moduleInputDim(model, L1);

  test('d_k comes from the weight layout (GPT-2 Conv1D [in, out])', () => {
    assert.equal(d, 32);
    assert.throws(() => moduleInputDim(model, 'transformer.h.1.mlp'), /no 2-D weight/);
  });

  test('two layers in one pass, batch 1 and right-padded batch 3, equal the naive sums', () => {
    for (const batchSize of [1, 3]) {
      const ms = new Map([
        [L1, new SecondMoment(d)],
        [L2, new SecondMoment(d)],
      ]);
      const r = accumulateSecondMoments(
        model,
        chunks,
        [
          { layer: 1, moduleName: L1 },
          { layer: 2, moduleName: L2 },
        ],
        ms,
        { batchSize },
      );
      assert.deepEqual(r, { chunks: 7, tokens });
      for (const name of [L1, L2]) {
        const want = naiveSum(model, chunks, name);
        const m = ms.get(name)!;
        assert.equal(m.count, want.count, 'every non-padding token counts once');
        const diff = relMaxDiff(m.sum.toArray(), want.sum);
        assert.ok(diff < 2e-6, `${name} batch ${batchSize}: rel diff ${diff}`);
        m.dispose();
      }
    }
  });

  test('the forward stops after the highest requested module', () => {
    const stops: (string | undefined)[] = [];
    const spy = Object.create(model) as CausalLM & { forward: (i: ForwardInput) => ForwardOutput };
    spy.forward = (i: ForwardInput): ForwardOutput => {
      stops.push(i.trace?.options.stopAfter);
      const out = model.forward(i);
      assert.equal(out.stoppedAfter, L1);
      return out;
    };
    const ms = new Map([
      [L0, new SecondMoment(d)],
      [L1, new SecondMoment(d)],
    ]);
    accumulateSecondMoments(
      spy,
      chunks.slice(0, 2),
      [
        { layer: 1, moduleName: L1 },
        { layer: 0, moduleName: L0 },
      ],
      ms,
    );
    assert.deepEqual(stops, [L1, L1]);
    ms.forEach((m) => m.dispose());
  });

  test('startAt skips earlier chunks for that module only; onBatch reports positions', () => {
    const ms = new Map([
      [L1, new SecondMoment(d)],
      [L2, new SecondMoment(d)],
    ]);
    const seen: number[] = [];
    accumulateSecondMoments(
      model,
      chunks,
      [
        { layer: 1, moduleName: L1 },
        { layer: 2, moduleName: L2 },
      ],
      ms,
      {
        batchSize: 2,
        startAt: new Map([[L2, 3]]),
        onBatch: (p) => seen.push(p.nextChunk),
      },
    );
    // the batch boundary is moved to chunk 3 so L2 takes whole batches only
    assert.deepEqual(seen, [2, 3, 5, 7]);
    const late = naiveSum(model, chunks.slice(3), L2);
    assert.equal(ms.get(L2)!.count, late.count);
    assert.ok(relMaxDiff(ms.get(L2)!.sum.toArray(), late.sum) < 2e-6);
    assert.equal(ms.get(L1)!.count, tokens);
    ms.forEach((m) => m.dispose());
  });

  test('an unknown module name fails before any forward', () => {
    const ms = new Map([['transformer.h.1.mlp.cproj', new SecondMoment(d)]]);
    assert.throws(
      () => accumulateSecondMoments(model, chunks, [{ layer: 1, moduleName: 'transformer.h.1.mlp.cproj' }], ms),
      /unknown module/,
    );
  });
});
