/**
 * KN behaviour: the pure pieces (linspace, selection, factors, hparams), the IG gradient against
 * finite differences, IG completeness, the resumed forward, the LLaMA path (gate_proj hook,
 * down_proj columns, BOS in y, extended prompts), thousands-of-neurons edits with bounded
 * memory, RECT / apply:false plumbing, refinement, and requests that must fail cleanly.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { loadModel } from '../../models/load.js';
import { normalizeConfig } from '../../models/config.js';
import { ARCHITECTURES } from '../../models/registry.js';
import type { CausalLM } from '../../models/types.js';
import { loadTokenizer, type Tokenizer } from '../../tokenizer/index.js';
import { modelDir, skipNoShared } from '../../testing.js';
import { getMethod } from '../registry.js';
import { runEdits } from '../runner.js';
import type { EditContext, EditRequest } from '../types.js';
import { assertParamsUnchanged, snapshotParams } from '../testing.js';
import {
  KN_PRESETS,
  PLACEHOLDER_TRUTH,
  coarseNeurons,
  disposeBaseline,
  executeKN,
  greedyProbe,
  kn,
  knModules,
  knScores,
  layerAttribution,
  linspace32,
  parseKNHParams,
  patchedProbability,
  refineNeurons,
  runBaseline,
  slotTokens,
  slotVector,
  type KNHParams,
} from './index.js';

const GPT2_REQ: EditRequest = {
  prompt: 'LeBron James plays the sport of',
  subject: 'LeBron James',
  target_new: ' ice hockey',
  ground_truth: ' basketball',
};
const LLAMA_REQ: EditRequest = {
  prompt: 'Lily liked to play with her',
  subject: 'Lily',
  target_new: 'big red ball',
  ground_truth: 'doll',
};

/** The value slot of neuron i in a stored weight (row for Conv1D, column for Linear). */
function slotOf(W: number[], shape: readonly number[], slot: 'row' | 'column', i: number): number[] {
  const [R, C] = [shape[0]!, shape[1]!];
  return slot === 'row' ? W.slice(i * C, (i + 1) * C) : Array.from({ length: R }, (_, k) => W[k * C + i]!);
}

describe('KN pieces', () => {
  test('linspace32 is torch.linspace(0, 1, m) in float32: both ends, symmetric halves, m = 1 gives [0]', () => {
    assert.deepEqual([...linspace32(1)], [0]);
    assert.deepEqual([...linspace32(2)], [0, 1]);
    assert.deepEqual([...linspace32(3)], [0, 0.5, 1]);
    const a = linspace32(20);
    assert.equal(a[0], 0);
    assert.equal(a[19], 1);
    const step = Math.fround(1 / 19);
    assert.equal(a[3], Math.fround(3 * step));
    assert.equal(a[15], Math.fround(1 - Math.fround(4 * step)));
    for (let i = 1; i < 20; i++) assert.ok(a[i]! > a[i - 1]!);
  });

  test('coarseNeurons: row-major order, strict ">" against the float32 threshold, closest distance', () => {
    const c = coarseNeurons(Float32Array.of(1, 0.1, 0.5, 0.3), 2, 0.2);
    assert.deepEqual(c.neurons, [
      [0, 0],
      [1, 0],
      [1, 1],
    ]);
    assert.equal(c.maxScore, 1);
    assert.equal(c.threshold, 0.2);
    assert.equal(c.closestToThreshold, Math.abs(Math.fround(0.1) - 0.2));
    // a score equal to the float32 threshold is not selected; the max itself always is (for positive max)
    const s = Float32Array.of(Math.fround(0.2), 1);
    assert.deepEqual(coarseNeurons(s, 2, 0.2).neurons, [[0, 1]]);
    assert.throws(() => coarseNeurons(Float32Array.of(NaN, 1), 2, 0.2), /NaN/);
  });

  test('refineNeurons: counts over prompts, keeps count > p·n with refine, everything (first-seen order) without', () => {
    const sets: [number, number][][] = [
      [
        [0, 1],
        [2, 3],
      ],
      [
        [2, 3],
        [1, 1],
      ],
      [
        [2, 3],
        [0, 1],
      ],
    ];
    assert.deepEqual(refineNeurons(sets, 0.4, false), [
      [0, 1],
      [2, 3],
      [1, 1],
    ]);
    assert.deepEqual(refineNeurons(sets, 0.4, true), [
      [0, 1],
      [2, 3],
    ]); // counts 2, 3, 1 vs t = 1.2
    assert.deepEqual(refineNeurons(sets, 0.7, true), [[2, 3]]); // t = 2.1
    assert.deepEqual(refineNeurons([[[0, 5]]], 0.4, true), [[0, 5]]); // one prompt: 1 > 0.4
  });

  test('slotTokens: −2·old (first), −1 each for a continuation, +1 each target token, +2 for one token with kn_symmetric', () => {
    const base = { kn_old_tokens: 'first', kn_symmetric: false } as const;
    assert.deepEqual(slotTokens([7, 8], [4, 5], base), [
      { id: 7, factor: -2 },
      { id: 4, factor: 1 },
      { id: 5, factor: 1 },
    ]);
    assert.deepEqual(slotTokens([7], [4], base), [
      { id: 7, factor: -2 },
      { id: 4, factor: 1 },
    ]);
    assert.deepEqual(slotTokens([7, 8], [4], { ...base, kn_old_tokens: 'continuation' }), [
      { id: 7, factor: -1 },
      { id: 8, factor: -1 },
      { id: 4, factor: 1 },
    ]);
    assert.deepEqual(slotTokens([7], [4], { ...base, kn_old_tokens: 'continuation' }), [
      { id: 7, factor: -2 },
      { id: 4, factor: 1 },
    ]);
    assert.deepEqual(slotTokens([7], [4], { ...base, kn_symmetric: true }), [
      { id: 7, factor: -2 },
      { id: 4, factor: 2 },
    ]);
    assert.deepEqual(slotTokens([7], [4, 5], { ...base, kn_symmetric: true }), [
      { id: 7, factor: -2 },
      { id: 4, factor: 1 },
      { id: 5, factor: 1 },
    ]);
    assert.throws(() => slotTokens([7], [], base), /no tokens/);
  });

  test('hparams: presets, EasyEdit YAML fields, clear errors', () => {
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(KN_PRESETS).map(([k, h]) => [k, [h.steps, h.batch_size, h.adaptive_threshold, h.refine, h.p]]),
      ),
      {
        'gpt2-xl': [20, 20, 0.2, false, 0.4],
        'gpt-j-6b': [20, 20, 0.1, false, 0.4],
        'llama-2-7b': [1, 1, 0.2, false, 0.4],
        'tiny-gpt2': [20, 20, 0.2, false, 0.4],
        'tiny-llama': [20, 20, 0.2, false, 0.4],
        stories260K: [20, 20, 0.2, false, 0.4],
        'world-l2': [20, 20, 0.2, false, 0.4],
        'world-l3': [20, 20, 0.2, false, 0.4],
        'world-l4': [20, 20, 0.2, false, 0.4],
      },
    );
    const yaml = {
      alg_name: 'KN',
      model_name: 'gpt2-xl',
      device: 0,
      lr_scale: 1.0,
      n_toks: 10,
      model_parallel: false,
      refine: false,
      batch_size: 20,
      steps: 20,
      adaptive_threshold: 0.2,
      p: 0.4,
    };
    assert.deepEqual(parseKNHParams(yaml, 'gpt2-xl.yaml'), KN_PRESETS['gpt2-xl']);
    assert.equal(parseKNHParams({ ...yaml, adaptive_threshold: '1e-1' }, 'x.yaml').adaptive_threshold, 0.1);
    assert.throws(
      () => parseKNHParams({ ...yaml, batch_size: 3 }, 'x.yaml'),
      /"steps" \(20\) must be divisible by "batch_size" \(3\)/,
    );
    assert.throws(() => parseKNHParams({ ...yaml, p: 1 }, 'x.yaml'), /"p" must be in \[0, 1\)/);
    assert.throws(() => parseKNHParams({ ...yaml, stepz: 3 }, 'x.yaml'), /unknown field\(s\) "stepz"/);
    assert.throws(() => parseKNHParams({ ...yaml, alg_name: 'ROME' }, 'x.yaml'), /alg_name is "ROME" but this is KN/);
    assert.throws(() => parseKNHParams({ ...yaml, kn_old_tokens: 'all' }, 'x.yaml'), /kn_old_tokens/);
    const noSteps: Record<string, unknown> = { ...yaml };
    delete noSteps['steps'];
    assert.throws(() => parseKNHParams(noSteps, 'x.yaml'), /missing required field "steps"/);
  });
});

/** A random float32 model from an HF config (no GPT-J checkpoint is in ../shared) and a one-character-per-token tokenizer. */
function synthetic(config: Record<string, unknown>): { model: CausalLM; tok: Tokenizer } {
  const cfg = normalizeConfig({ vocab_size: 37, ...config }, 'synthetic test config');
  const def = ARCHITECTURES[cfg.arch];
  const rng = new T.Rng(7);
  const params = new Map<string, T.Tensor>();
  for (const name of def.paramNames(cfg)) {
    const shape = def.shapeOf(cfg, name);
    const isNorm = /(ln_\d|ln_f)\.weight$/.test(name);
    params.set(name, T.keep(isNorm ? T.add(T.ones(shape), rng.normal(shape, 0.1)) : rng.normal(shape, 0.3)));
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz .,?!ABCDEF';
  const tok: Tokenizer = {
    kind: 'hf',
    vocabSize: 37,
    bosId: null,
    eosId: null,
    padId: null,
    encode: (text) => [...text].map((c) => Math.max(0, letters.indexOf(c))),
    decode: (ids) => ids.map((i) => letters[i]!).join(''),
    decodeToken: (id) => letters[id]!,
    idToToken: (id) => letters[id] ?? null,
    tokenToId: (t) => (letters.includes(t) ? letters.indexOf(t) : null),
  };
  return { model: def.create(cfg, params), tok };
}

const tinyGptj = (): { model: CausalLM; tok: Tokenizer } =>
  synthetic({
    model_type: 'gptj',
    n_embd: 24,
    n_layer: 3,
    n_head: 3,
    rotary_dim: 4,
    n_positions: 64,
    layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new',
  });

describe('KN on GPT-J (synthetic)', () => {
  test('fc_in hook, fc_out COLUMNS, every answer token at the bare prompt, FD gradient, resumed forward', () => {
    const { model, tok } = tinyGptj();
    const before = snapshotParams(model);
    const mods = knModules(model);
    assert.deepEqual(
      [mods.activationTemplate, mods.valueTemplate, mods.slot, mods.embedding],
      ['transformer.h.{}.mlp.fc_in', 'transformer.h.{}.mlp.fc_out.weight', 'column', 'transformer.wte.weight'],
    );
    const req: EditRequest = { prompt: 'the cat sat on the', subject: 'cat', target_new: 'mat', ground_truth: 'dog' };
    const base = runBaseline(model, mods, tok.encode(req.prompt));
    try {
      const F = base.width;
      const targets = tok.encode('dog');
      const clean = T.noGrad(() =>
        T.tidy(() => {
          const out = model.forward({ ids: T.tensor(base.ids, [1, base.ids.length], 'int32'), logits: 'last' });
          const p = T.softmax(T.reshape(out.logits!, [-1]), -1).toArray();
          return targets.reduce((s, t) => s + p[t]!, 0);
        }),
      );
      for (let l = 0; l < 3; l++) {
        const p = T.noGrad(() =>
          T.tidy(() => patchedProbability(model, mods, base, l, T.tensor(base.acts[l]!, [1, F]), targets).item()),
        );
        assert.ok(Math.abs(p - clean) <= 1e-5 * clean, `layer ${l}: ${p} vs ${clean}`);
      }
      const X = T.tensor(
        base.acts[2]!.map((v) => Math.fround(0.5 * v)),
        [1, F],
      );
      const [gx] = T.grad(() => patchedProbability(model, mods, base, 2, X, targets), [X]);
      const ga = gx!.toArray();
      const xs = new Float32Array(X.toArray());
      [gx!, X].forEach((t) => t.dispose());
      const f = (arr: Float32Array): number =>
        T.noGrad(() => T.tidy(() => patchedProbability(model, mods, base, 2, T.tensor(arr, [1, F]), targets).item()));
      const k = [...ga.keys()].sort((p, q) => Math.abs(ga[q]!) - Math.abs(ga[p]!))[0]!;
      const up = xs.slice();
      const dn = xs.slice();
      up[k]! += 1e-2;
      dn[k]! -= 1e-2;
      const fd = (f(up) - f(dn)) / 2e-2;
      assert.ok(Math.abs(fd - ga[k]!) <= 2e-3 * Math.abs(ga[k]!), `autograd ${ga[k]} vs FD ${fd}`);
    } finally {
      disposeBaseline(base);
    }

    const hp: KNHParams = { ...KN_PRESETS['gpt-j-6b']!, steps: 4, batch_size: 2 };
    const run = executeKN('KN', model, req, hp, { tokenizer: tok });
    try {
      assert.deepEqual(run.perPrompt[0]!.scores.points, [{ ids: tok.encode(req.prompt), targets: tok.encode('dog') }]);
      assert.ok(run.neurons.length > 0);
      const v = [...slotVector(model, mods, run.slot)];
      for (const [name, d] of run.result.deltas) {
        assert.match(name, /^transformer\.h\.\d\.mlp\.fc_out\.weight$/);
        const l = Number(name.split('.')[2]);
        const picked = new Set(run.neurons.filter(([ll]) => ll === l).map(([, i]) => i));
        const arr = d.toArray();
        for (let i = 0; i < d.shape[1]!; i++) {
          const col = slotOf(arr, d.shape, 'column', i);
          assert.deepEqual(col, picked.has(i) ? v : col.map(() => 0), `${name} column ${i}`);
        }
      }
    } finally {
      run.result.restore();
      assertParamsUnchanged(model, before);
      run.result.dispose();
      model.dispose();
    }
  });
});

describe('KN with thousands of neurons (synthetic GPT-2, d_ff 4096)', () => {
  test('adaptive_threshold 1e-6: over 5k slots edited through one dense ΔW per layer, nothing leaks', () => {
    const { model, tok } = synthetic({
      model_type: 'gpt2',
      n_embd: 32,
      n_inner: 4096,
      n_layer: 3,
      n_head: 2,
      n_positions: 64,
      layer_norm_epsilon: 1e-5,
    });
    const hp: KNHParams = { ...KN_PRESETS['gpt2-xl']!, adaptive_threshold: 1e-6, steps: 2, batch_size: 2 };
    const req: EditRequest = { prompt: 'the cat sat on the', subject: 'cat', target_new: 'mat', ground_truth: 'dog' };
    const mem0 = T.memoryStats();
    const run = executeKN('KN', model, req, hp, { tokenizer: tok });
    try {
      assert.ok(run.neurons.length > 5_000, `${run.neurons.length} neurons selected`);
      assert.ok(run.result.deltas.size <= 3, 'at most one ΔW per layer');
      const v = [...slotVector(model, knModules(model), run.slot)];
      let edited = 0;
      for (const [name, d] of run.result.deltas) {
        assert.deepEqual(d.shape, [4096, 32]);
        const l = Number(name.split('.')[2]);
        const picked = new Set(run.neurons.filter(([ll]) => ll === l).map(([, i]) => i));
        const arr = d.toArray();
        for (const i of picked) {
          assert.deepEqual(slotOf(arr, d.shape, 'row', i), v);
          edited++;
        }
        const nonzeroRows = new Set<number>();
        arr.forEach((x, k) => x !== 0 && nonzeroRows.add(Math.floor(k / 32)));
        assert.ok(
          [...nonzeroRows].every((r) => picked.has(r)),
          `${name}: only selected rows change`,
        );
      }
      assert.equal(edited, run.neurons.length);
    } finally {
      run.result.restore();
      run.result.dispose();
    }
    const mem1 = T.memoryStats();
    assert.equal(mem1.tensors, mem0.tensors, 'tensor objects');
    assert.equal(mem1.bytes, mem0.bytes, 'bytes');
    model.dispose();
  });
});

describe('KN on the tiny models', { skip: skipNoShared }, () => {
  const load = async (name: string): Promise<{ model: CausalLM; tok: Tokenizer }> => ({
    model: loadModel(modelDir(name)),
    tok: await loadTokenizer(modelDir(name)),
  });

  for (const name of ['tiny-gpt2', 'tiny-llama']) {
    test(`${name}: ∂ΣP/∂(patched rows) matches central finite differences; the resumed, unpatched forward is the clean one`, async () => {
      const { model, tok } = await load(name);
      const mods = knModules(model);
      const base = runBaseline(model, mods, tok.encode(LLAMA_REQ.prompt));
      try {
        const F = base.width;
        const targets = [base.argmax];
        // resuming at block l − 1 and writing a_l back into its own row changes nothing
        const clean = greedyProbe(model, tok, LLAMA_REQ.prompt, targets).targetProb;
        for (let l = 0; l < model.arch.numLayers; l++) {
          const p = T.noGrad(() =>
            T.tidy(() => patchedProbability(model, mods, base, l, T.tensor(base.acts[l]!, [1, F]), targets).item()),
          );
          assert.ok(Math.abs(p - clean) <= 1e-5 * clean, `layer ${l}: ${p} vs clean ${clean}`);
        }
        const layer = 1;
        const a = base.acts[layer]!;
        const xs = new Float32Array(2 * F);
        [0.3, 1].forEach((al, b) => a.forEach((v, i) => (xs[b * F + i] = Math.fround(al * v))));
        // autograd w.r.t. the replaced rows (α = 0.3 and 1), checked on its largest entries
        const X = T.tensor(xs, [2, F]);
        const [gx] = T.grad(() => patchedProbability(model, mods, base, layer, X, targets), [X]);
        const ga = gx!.toArray();
        gx!.dispose();
        X.dispose();
        const f = (arr: Float32Array): number =>
          T.noGrad(() => T.tidy(() => patchedProbability(model, mods, base, layer, T.tensor(arr, [2, F]), targets).item()));
        const top = [...ga.keys()].sort((p, q) => Math.abs(ga[q]!) - Math.abs(ga[p]!)).slice(0, 5);
        assert.ok(Math.abs(ga[top[0]!]!) > 1e-4, 'a non-trivial gradient');
        for (const k of top) {
          const eps = 1e-2;
          const up = xs.slice();
          const dn = xs.slice();
          up[k]! += eps;
          dn[k]! -= eps;
          const fd = (f(up) - f(dn)) / (2 * eps);
          assert.ok(Math.abs(fd - ga[k]!) <= 2e-3 * Math.abs(ga[k]!) + 1e-7, `${name} ∂/∂X[${k}]: autograd ${ga[k]} vs FD ${fd}`);
        }
      } finally {
        disposeBaseline(base);
        model.dispose();
      }
    });
  }

  test('IG completeness: Σ_i attr_i → P(a) − P(0) as m grows (Riemann sum over both ends)', async () => {
    const { model, tok } = await load('tiny-llama');
    const mods = knModules(model);
    const base = runBaseline(model, mods, tok.encode(LLAMA_REQ.prompt));
    try {
      const layer = 2;
      const F = base.width;
      const targets = [base.argmax];
      const P = (x: Float32Array): number =>
        T.noGrad(() => T.tidy(() => patchedProbability(model, mods, base, layer, T.tensor(x, [1, F]), targets).item()));
      const gap = P(base.acts[layer]!) - P(new Float32Array(F));
      const err = (m: number, bs: number): number =>
        Math.abs(layerAttribution(model, mods, base, layer, targets, m, bs).reduce((s, v) => s + v, 0) - gap) / Math.abs(gap);
      const e20 = err(20, 20);
      const e100 = err(100, 25);
      assert.ok(e100 < 0.01, `m = 100: relative error ${e100}`);
      assert.ok(e100 < e20, `error shrinks with m (${e20} → ${e100})`);
    } finally {
      disposeBaseline(base);
      model.dispose();
    }
  });

  test('chunking: steps 20 in chunks of 4 gives the scores of one chunk of 20', async () => {
    const { model, tok } = await load('tiny-llama');
    try {
      const truth = tok.encode(LLAMA_REQ.ground_truth!);
      const one = knScores(model, tok, LLAMA_REQ.prompt, truth, { steps: 20, batchSize: 20, extendPrompt: true }).scores;
      const five = knScores(model, tok, LLAMA_REQ.prompt, truth, { steps: 20, batchSize: 4, extendPrompt: true }).scores;
      const max = Math.max(...one.map(Math.abs));
      const diff = Math.max(...one.map((v, i) => Math.abs(v - five[i]!)));
      assert.ok(diff <= 1e-5 * max, `chunked scores differ by ${diff / max} of max`);
    } finally {
      model.dispose();
    }
  });

  test('LLaMA path: gate_proj hook, y with BOS, extended prompts, down_proj COLUMNS get −2·E(old)+ΣE(new), target probability moves, restore', async () => {
    const { model, tok } = await load('tiny-llama');
    const before = snapshotParams(model);
    const hp: KNHParams = { ...KN_PRESETS['tiny-llama']!, steps: 4, batch_size: 4 };
    const run = executeKN('KN', model, LLAMA_REQ, hp, { tokenizer: tok });
    try {
      const mods = knModules(model);
      assert.equal(mods.activationTemplate, 'model.layers.{}.mlp.gate_proj');
      assert.equal(mods.slot, 'column');
      assert.equal(run.truthIds[0], tok.bosId, 'plain encode(y) keeps BOS on LLaMA');
      assert.equal(run.targetIds[0], tok.bosId);
      const points = run.perPrompt[0]!.scores.points;
      assert.equal(points.length, run.truthIds.length, 'one attribution point per answer token');
      points.forEach((p, t) => assert.deepEqual(p.targets, [run.truthIds[t]]));
      assert.ok(points[1]!.ids.length > points[0]!.ids.length, 'the prompt grows by the argmax token');
      assert.deepEqual(points[1]!.ids, tok.encode(LLAMA_REQ.prompt + tok.decode([run.before.argmaxTokens[0]!])));

      assert.ok(run.neurons.length > 0);
      assert.deepEqual(run.slot, slotTokens([run.before.argmaxTokens[0]!], run.targetIds, hp));
      const v = [...slotVector(model, mods, run.slot)];
      const layers = new Set(run.neurons.map(([l]) => l));
      assert.deepEqual(
        [...run.result.deltas.keys()].sort(),
        [...layers].sort().map((l) => `model.layers.${l}.mlp.down_proj.weight`),
      );
      for (const l of layers) {
        const name = `model.layers.${l}.mlp.down_proj.weight`;
        const d = run.result.deltas.get(name)!;
        const arr = d.toArray();
        const picked = new Set(run.neurons.filter(([ll]) => ll === l).map(([, i]) => i));
        for (let i = 0; i < d.shape[1]!; i++) {
          const col = slotOf(arr, d.shape, 'column', i);
          if (picked.has(i)) assert.deepEqual(col, v, `${name} column ${i} = −2·E(old) + ΣE(new)`);
          else
            assert.ok(
              col.every((x) => x === 0),
              `${name} column ${i} untouched`,
            );
        }
      }
      const s = run.result.requests[0]!.scalars;
      assert.equal(s['neurons'], run.neurons.length);
      assert.ok(s['target_prob_after'] !== s['target_prob_before'], 'the edit changes the target probability');
      assert.equal(s['target_prob_before'], run.before.targetProb);
    } finally {
      run.result.restore();
      assertParamsUnchanged(model, before);
      run.result.dispose();
      model.dispose();
    }
  });

  for (const name of ['tiny-gpt2', 'tiny-llama']) {
    test(`${name}: adaptive_threshold 1e-6 selects hundreds of neurons; every slot edited, no leak`, async () => {
      const { model, tok } = await load(name);
      const hp: KNHParams = { ...KN_PRESETS[name]!, adaptive_threshold: 1e-6, steps: 2, batch_size: 1 };
      const req = name === 'tiny-gpt2' ? GPT2_REQ : LLAMA_REQ;
      // a first run grows the model's rotary-table cache to the longest (extended) prompt
      executeKN('KN', model, req, { ...hp, adaptive_threshold: 0.2 }, { tokenizer: tok, apply: false }).result.dispose();
      const mem0 = T.memoryStats();
      const run = executeKN('KN', model, req, hp, { tokenizer: tok });
      try {
        const mods = knModules(model);
        const total = model.arch.numLayers * run.perPrompt[0]!.scores.width;
        assert.ok(run.neurons.length > total / 5, `${run.neurons.length} of ${total} neurons selected`);
        const v = [...slotVector(model, mods, run.slot)];
        let edited = 0;
        for (const [pname, d] of run.result.deltas) {
          const l = Number(/\.(\d+)\./.exec(pname)![1]);
          const picked = new Set(run.neurons.filter(([ll]) => ll === l).map(([, i]) => i));
          const arr = d.toArray();
          const F = mods.slot === 'row' ? d.shape[0]! : d.shape[1]!;
          for (let i = 0; i < F; i++) {
            const sl = slotOf(arr, d.shape, mods.slot, i);
            if (picked.has(i)) {
              assert.deepEqual(sl, v);
              edited++;
            } else assert.ok(sl.every((x) => x === 0));
          }
        }
        assert.equal(edited, run.neurons.length, 'every selected slot carries the update');
      } finally {
        run.result.restore();
        run.result.dispose();
      }
      const mem1 = T.memoryStats();
      assert.equal(mem1.tensors, mem0.tensors, 'tensor objects');
      assert.equal(mem1.bytes, mem0.bytes, 'bytes');
      model.dispose();
    });
  }

  test('refine over rephrase_prompts keeps the neurons shared by more than p·#prompts coarse sets', async () => {
    const { model, tok } = await load('tiny-gpt2');
    const hp: KNHParams = { ...KN_PRESETS['tiny-gpt2']!, refine: true, steps: 1, batch_size: 1 };
    const req: EditRequest = {
      ...GPT2_REQ,
      rephrase_prompts: ['LeBron James is a professional player of', 'The sport LeBron James plays is'],
    };
    const run = executeKN('KN', model, req, hp, { tokenizer: tok });
    try {
      assert.deepEqual(run.prompts, [req.prompt, ...req.rephrase_prompts!]);
      assert.deepEqual(
        run.neurons,
        refineNeurons(
          run.perPrompt.map((p) => p.coarse.neurons),
          0.4,
          true,
        ),
      );
      const counts = new Map<string, number>();
      for (const p of run.perPrompt)
        for (const [l, i] of p.coarse.neurons) counts.set(`${l},${i}`, (counts.get(`${l},${i}`) ?? 0) + 1);
      assert.deepEqual(
        new Set(run.neurons.map(([l, i]) => `${l},${i}`)),
        new Set([...counts].filter(([, c]) => c >= 2).map(([k]) => k)),
      );
      // without refine the rephrasings are not attributed (EasyEdit passes the prompt alone)
      const plain = executeKN('KN', model, req, { ...hp, refine: false }, { tokenizer: tok, apply: false });
      assert.deepEqual(plain.prompts, [req.prompt]);
      plain.result.dispose();
    } finally {
      run.result.restore();
      run.result.dispose();
      model.dispose();
    }
  });

  test('kn_old_tokens continuation subtracts each greedy token once; apply:false and RECT go through the WeightEditor', async () => {
    const { model, tok } = await load('tiny-gpt2');
    const before = snapshotParams(model);
    const hp: KNHParams = { ...KN_PRESETS['tiny-gpt2']!, steps: 2, batch_size: 1 };
    try {
      const cont = executeKN('KN', model, GPT2_REQ, { ...hp, kn_old_tokens: 'continuation' }, { tokenizer: tok, apply: false });
      assertParamsUnchanged(model, before);
      assert.equal(cont.before.argmaxTokens.length, 2, 'one greedy token per target token');
      assert.deepEqual(
        cont.slot.slice(0, 2),
        cont.before.argmaxTokens.map((id) => ({ id, factor: -1 })),
      );
      const plain = executeKN('KN', model, GPT2_REQ, hp, { tokenizer: tok, apply: false });
      const halved = executeKN('KN', model, GPT2_REQ, hp, {
        tokenizer: tok,
        apply: false,
        transformDelta: (_n, d) => T.mul(d, 0.5),
      });
      assertParamsUnchanged(model, before);
      for (const [pname, d] of plain.result.deltas) {
        const h = halved.result.deltas.get(pname)!.toArray();
        d.toArray().forEach((x, i) => assert.equal(h[i], Math.fround(x * 0.5)));
      }
      [cont, plain, halved].forEach((r) => r.result.dispose());
    } finally {
      model.dispose();
    }
  });

  test("missing ground_truth on a LLaMA tokenizer: the tokenizer's EOS, one token (not '<|endoftext|>' in pieces)", async () => {
    const { model, tok } = await load('tiny-llama');
    const hp: KNHParams = { ...KN_PRESETS['tiny-llama']!, steps: 1, batch_size: 1 };
    const noTruth: EditRequest = { prompt: 'The capital of France is', subject: 'France', target_new: 'Rome' };
    try {
      assert.ok(tok.encode(PLACEHOLDER_TRUTH).length > 2, 'the literal string is several tokens here');
      const ph = executeKN('KN', model, noTruth, hp, { tokenizer: tok, apply: false });
      assert.deepEqual(ph.truthIds, [tok.eosId]);
      ph.result.dispose();
    } finally {
      model.dispose();
    }
  });

  test('missing ground_truth: <|endoftext|> placeholder (EasyEdit), the model prediction, or an error', async () => {
    const { model, tok } = await load('tiny-gpt2');
    const hp: KNHParams = { ...KN_PRESETS['tiny-gpt2']!, steps: 1, batch_size: 1 };
    const noTruth: EditRequest = { ...GPT2_REQ };
    delete noTruth.ground_truth;
    try {
      const ph = executeKN('KN', model, noTruth, hp, { tokenizer: tok, apply: false });
      assert.deepEqual(ph.truthIds, [50256]);
      ph.result.dispose();
      const pred = executeKN('KN', model, noTruth, { ...hp, kn_missing_truth: 'prediction' }, { tokenizer: tok, apply: false });
      assert.deepEqual(pred.truthIds, [greedyProbe(model, tok, GPT2_REQ.prompt, [0]).argmaxTokens[0]]);
      pred.result.dispose();
      assert.throws(
        () => executeKN('KN', model, noTruth, { ...hp, kn_missing_truth: 'error' }, { tokenizer: tok }),
        /no ground_truth/,
      );
    } finally {
      model.dispose();
    }
  });

  test('bad requests and hparams fail before any weight changes', async () => {
    const { model, tok } = await load('tiny-gpt2');
    const before = snapshotParams(model);
    const ctx: EditContext = { tokenizer: tok };
    const hp = KN_PRESETS['tiny-gpt2']!;
    try {
      assert.throws(() => kn.apply(model, [{ ...GPT2_REQ, target_new: '' }], hp, ctx), /empty target_new/);
      assert.throws(() => kn.apply(model, [{ ...GPT2_REQ, prompt: ' ' }], hp, ctx), /empty prompt/);
      assert.throws(() => kn.apply(model, [GPT2_REQ, GPT2_REQ], hp, ctx), /one request per call/);
      assert.throws(() => kn.apply(model, [{ ...GPT2_REQ, ground_truth: '' }], hp, ctx), /encodes to no tokens/);
      assert.throws(() => kn.apply(model, [GPT2_REQ], { ...hp, batch_size: 3 }, ctx), /must be divisible by "batch_size"/);
      assert.throws(() => kn.apply(model, [GPT2_REQ], { ...hp, steps: 0 }, ctx), /"steps" must be a positive integer/);
      assertParamsUnchanged(model, before);
    } finally {
      model.dispose();
    }
  });

  test('registry and runner: `kn` loads, is not batchable, and single editing restores the model', async () => {
    const method = await getMethod('kn');
    assert.equal(method, kn);
    assert.equal(method.batchable, false);
    const { model, tok } = await load('tiny-gpt2');
    const before = snapshotParams(model);
    try {
      const hp: KNHParams = { ...KN_PRESETS['tiny-gpt2']!, steps: 1, batch_size: 1 };
      let seen = 0;
      const summary = runEdits(
        model,
        kn,
        [GPT2_REQ],
        hp,
        { tokenizer: tok },
        { onEdit: ({ result }) => (seen = result.requests[0]!.scalars['neurons']!) },
      );
      assert.equal(summary.edits, 1);
      assert.ok(seen > 0);
      assertParamsUnchanged(model, before);
      summary.results.forEach((r) => r.dispose());
      assert.throws(
        () => runEdits(model, kn, [GPT2_REQ, GPT2_REQ], hp, { tokenizer: tok }, { batchSize: 2 }),
        /one request at a time/,
      );
    } finally {
      model.dispose();
    }
  });
});
