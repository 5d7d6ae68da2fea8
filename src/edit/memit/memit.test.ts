/**
 * MEMIT behaviour on tiny-gpt2 (../shared, with the golden's per-layer C): the normal
 * equations hold, RECT post hoc vs in the loop (../rect/README.md, "Which matrices"), apply: false, memory, and
 * failures that leave the model bit-for-bit unchanged; on stories260K, z of a batch of requests
 * optimised together equal z optimised one at a time.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { loadModel } from '../../models/load.js';
import type { CausalLM } from '../../models/types.js';
import { loadTokenizer, type Tokenizer } from '../../tokenizer/index.js';
import { goldenTensors, modelDir, sharedPath, skipNoShared } from '../../testing.js';
import { promptEncoding } from '../shared/subject-index.js';
import type { EditContext, EditRequest, StatsProvider } from '../types.js';
import { MEMIT_PRESETS, computeZ, computeZs, executeMemit, memit, type MemitHParams } from './index.js';
import { assertParamsUnchanged, maxRelDiff, snapshotParams } from '../testing.js';
import { randomModel } from '../../models/testing.js';
import { charTokenizer } from '../stats/testing.js';

const GROUPS = [['{}'], ['The sky. {}', 'I am told. {}']];
const REQUESTS: EditRequest[] = [
  { prompt: 'LeBron James plays the sport of', subject: 'LeBron James', target_new: 'ice hockey' },
  { prompt: 'The Eiffel Tower is located in the city of', subject: 'The Eiffel Tower', target_new: 'Rome' },
];

describe('MEMIT on tiny-gpt2', { skip: skipNoShared }, () => {
  let model: CausalLM;
  let tok: Tokenizer;
  let hp: MemitHParams;
  let stats: StatsProvider;
  let ctx: EditContext;
  const load = async (): Promise<void> => {
    if (model) return;
    model = loadModel(modelDir('tiny-gpt2'));
    tok = await loadTokenizer(modelDir('tiny-gpt2'));
    hp = { ...MEMIT_PRESETS['tiny-gpt2']! };
    const g = goldenTensors('reference', 'memit', 'tiny-gpt2', 'golden.safetensors');
    stats = { secondMoment: (_m, layer) => g.get(`layer${layer}/C`)! };
    ctx = { tokenizer: tok, contextTemplates: GROUPS, stats };
  };

  test('each Δ_l solves (λC + KKᵀ) X = K with Δ = resid·Xᵀ; the model is unchanged after executeMemit', async () => {
    await load();
    const before = snapshotParams(model);
    const run = executeMemit(model, tok, REQUESTS, hp, GROUPS, ctx);
    assertParamsUnchanged(model, before);
    for (const l of run.layers) {
      const C = T.cast(stats.secondMoment(model, l.layer, ''), 'float64');
      const K = T.transpose(T.cast(l.keys, 'float64')); // [d_k, n]
      const lhs = T.add(T.mul(T.matmul(C, l.adjK), hp.mom2_update_weight), T.matmul(K, T.matmul(T.transpose(K), l.adjK)));
      assert.ok(maxRelDiff(lhs.toArray(), T.contiguous(K).toArray()) < 1e-9, `layer ${l.layer}: normal equations`);
      const want = T.cast(T.matmul(l.adjK, T.transpose(l.resid)), 'float32'); // Conv1D layout [d_k, D]
      assert.deepEqual(l.deltaW.toArray(), want.toArray());
    }
    // resid shrinks with the layer's share of the remaining error: 1/2 then 1/1 of what is left
    assert.equal(run.layers.length, 2);
  });

  test('RECT post hoc (default) transforms the final deltas; rect_in_loop lets later layers see the transformed ones', async () => {
    await load();
    const half = (_name: string, d: T.Tensor): T.Tensor => T.mul(d, 0.5);
    const raw = executeMemit(model, tok, REQUESTS, hp, GROUPS, ctx);
    const post = memit.apply(model, REQUESTS, hp, { ...ctx, transformDelta: half, apply: false });
    for (const l of raw.layers)
      assert.ok(
        maxRelDiff(
          post.deltas.get(l.weightName)!.toArray(),
          l.deltaW.toArray().map((x) => x * 0.5),
        ) < 1e-6,
        'post hoc = ½ raw',
      );
    const inLoop = memit.apply(model, REQUESTS, { ...hp, rect_in_loop: true }, { ...ctx, transformDelta: half, apply: false });
    const [l1, l2] = raw.layers;
    assert.ok(
      maxRelDiff(inLoop.deltas.get(l1!.weightName)!.toArray(), post.deltas.get(l1!.weightName)!.toArray()) < 1e-6,
      'first layer identical',
    );
    assert.ok(
      maxRelDiff(inLoop.deltas.get(l2!.weightName)!.toArray(), post.deltas.get(l2!.weightName)!.toArray()) > 1e-3,
      'second layer saw the halved first update',
    );
    post.dispose();
    inLoop.dispose();
  });

  test('v_loss_layer below the last block reads the NLL through ln_f and the LM head at that block', async () => {
    await load();
    const parts = { pre: '', subject: 'LeBron James', post: ' plays the sport of' };
    const target = [4771, 12217]; // ' ice hockey'
    const atLast = computeZ(model, tok, parts, target, GROUPS.flat(), 2, hp);
    const atL = computeZ(model, tok, parts, target, GROUPS.flat(), 2, { ...hp, v_loss_layer: 2 });
    assert.equal(atL.steps.length, hp.v_num_grad_steps);
    assert.ok(atL.steps.flat().every(Number.isFinite));
    assert.ok(Math.abs(atL.steps[0]![1] - atLast.steps[0]![1]) > 1e-3, 'another readout, another NLL');
    assert.equal(atL.steps[0]![2], 0, 'KL is 0 at δ = 0');
    for (const z of [atLast, atL]) [z.z, z.delta, z.h0].forEach((t) => t.dispose());
  });

  test('an edit and its disposal leave no tensor memory behind', async () => {
    await load();
    const before = T.memoryStats();
    const res = memit.apply(model, REQUESTS.slice(0, 1), hp, ctx);
    assert.equal(res.requests.length, 1);
    res.restore();
    res.dispose();
    const after = T.memoryStats();
    assert.equal(after.bytes, before.bytes, 'bytes');
    assert.equal(after.tensors, before.tensors, 'tensor objects');
  });

  test('bad requests and settings fail clearly with the model unchanged', async () => {
    await load();
    const before = snapshotParams(model);
    const nan: StatsProvider = {
      secondMoment: (_m, layer) => (layer === 2 ? T.full([256, 256], NaN) : stats.secondMoment(model, layer, '')),
    };
    const cases: [string, () => unknown, RegExp][] = [
      ['no requests', () => memit.apply(model, [], hp, ctx), /no requests/],
      [
        'subject not in prompt',
        () => memit.apply(model, [REQUESTS[0]!, { ...REQUESTS[1]!, subject: 'Big Ben' }], hp, ctx),
        /does not occur in the prompt/,
      ],
      ['empty target', () => memit.apply(model, [{ ...REQUESTS[0]!, target_new: '' }], hp, ctx), /empty target_new/],
      ['unknown layer', () => memit.apply(model, REQUESTS, { ...hp, layers: [1, 9] }, ctx), /layer 9 is outside/],
      ['no statistics', () => memit.apply(model, REQUESTS, hp, { tokenizer: tok, contextTemplates: GROUPS }), /statistics/],
      [
        'NaN statistics at the second layer',
        () => memit.apply(model, REQUESTS, hp, { ...ctx, stats: nan }),
        /NaN|finite|positive definite|singular/i,
      ],
      [
        'NaN in the loop (rect_in_loop)',
        () =>
          memit.apply(
            model,
            REQUESTS,
            { ...hp, rect_in_loop: true },
            { ...ctx, transformDelta: (n, d) => (n.includes('.2.') ? T.full(d.shape, NaN) : T.clone(d)) },
          ),
        /NaN|finite/i,
      ],
      [
        "a module name that is not this model's",
        () => memit.apply(model, REQUESTS, { ...hp, ln_f_module: 'transformer.ln_x' }, ctx),
        /ln_f_module is "transformer.ln_x", but this model's is "transformer.ln_f"/,
      ],
      [
        'bad hparams',
        () => memit.parseHParams({ ...hp, layer_selection: 'random' }, 'memit.yaml'),
        /field "layer_selection": expected one of "all", got "random"/,
      ],
    ];
    for (const [what, run, msg] of cases) {
      assert.throws(run, msg, what);
      assertParamsUnchanged(model, before);
    }
  });
});

describe('MEMIT z of several requests at once (stories260K)', { skip: skipNoShared }, () => {
  test('equal z optimised one at a time: same steps, losses and z; a request that stops early stays put', async () => {
    const model = loadModel(modelDir('stories260K'));
    const tok = await loadTokenizer(sharedPath('data', 'stories260K'));
    const enc = promptEncoding(tok);
    const hp: MemitHParams = {
      ...MEMIT_PRESETS['tiny-llama']!,
      layers: [0, 1, 2],
      v_loss_layer: 4,
      v_num_grad_steps: 12,
      clamp_norm_factor: 4,
    };
    const templates = ['{}', 'The sky. {}'];
    const cases = [
      { parts: { pre: '', subject: 'Lily', post: ' went to the' }, target: ' moon' },
      { parts: { pre: '', subject: 'Once', post: ' upon a' }, target: ' time' }, // already likely: stops at once
      { parts: { pre: 'One day, ', subject: 'Tom', post: ' saw a big' }, target: ' dog' },
    ].map((c) => ({ ...c, ids: tok.encode(c.target, enc) }));
    const together = computeZs(
      model,
      tok,
      cases.map((c) => c.parts),
      cases.map((c) => c.ids),
      templates,
      2,
      hp,
    );
    const alone = cases.map((c) => computeZ(model, tok, c.parts, c.ids, templates, 2, hp));
    assert.deepEqual(
      alone.map((z) => z.steps.length),
      [12, 1, 12],
      'the second request stops at its first step',
    );
    together.forEach((zt, i) => {
      const za = alone[i]!;
      assert.equal(zt.steps.length, za.steps.length, `request ${i}: number of steps`);
      zt.steps.forEach((st, k) =>
        st.forEach((x, j) =>
          assert.ok(
            Math.abs(x - za.steps[k]![j]!) <= 1e-4 * Math.max(1, Math.abs(x)),
            `request ${i} step ${k} term ${j}: ${x} vs ${za.steps[k]![j]}`,
          ),
        ),
      );
      const rel = maxRelDiff(zt.z.toArray(), za.z.toArray());
      assert.ok(rel < 1e-4, `request ${i}: z differs by ${rel} (relative)`);
    });
    assert.ok(
      together[1]!.delta.toArray().every((x) => x === 0),
      'the stopped request kept δ = 0',
    );
    for (const z of [...together, ...alone]) [z.z, z.delta, z.h0].forEach((t) => t.dispose());
    model.dispose();
  });
});

describe('MEMIT with z at the last block and non-contiguous layers (tiny random LLaMA)', () => {
  // Layers [0, 2] of a 3-block model with v_loss_layer 2: δ goes into the last block's output at the
  // subject token, so it reaches the logits only at that token. A request whose scored positions all
  // come after its subject gets no NLL gradient, and KL and weight decay have zero gradient at δ = 0:
  // its z must stay exactly at h. A request whose subject ends the prompt (its last token scores
  // target 0) is reachable and must move.
  const model = randomModel(
    {
      model_type: 'llama',
      vocab_size: 50,
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 3,
      num_attention_heads: 2,
      max_position_embeddings: 64,
      rms_norm_eps: 1e-6,
    },
    { seed: 7 },
  );
  const tok = charTokenizer();
  const hp: MemitHParams = {
    ...MEMIT_PRESETS['tiny-llama']!,
    layers: [0, 2],
    v_loss_layer: 2,
    v_num_grad_steps: 6,
    clamp_norm_factor: 4,
  };
  const groups = [['{}'], ['The sky. {}']];
  const stats: StatsProvider = { secondMoment: () => T.keep(T.eye(24)) };
  const ctx: EditContext = { tokenizer: tok, contextTemplates: groups, stats };
  const unreachable: EditRequest[] = [
    { prompt: 'Paris is in', subject: 'Paris', target_new: ' Rome' },
    { prompt: 'The Nile flows to', subject: 'Nile', target_new: ' sea' },
    { prompt: 'Bob likes', subject: 'Bob', target_new: ' tea' },
  ];
  const reachable: EditRequest = { prompt: 'The capital is Oslo', subject: 'Oslo', target_new: 'x' };

  test('unreachable requests keep z = h exactly; the reachable one moves; the residual is shared by the layers left', () => {
    const before = snapshotParams(model);
    using run = executeMemit(model, tok, [...unreachable, reachable], hp, groups, ctx);
    assertParamsUnchanged(model, before);
    run.zs.slice(0, 3).forEach((z, i) => {
      assert.ok(
        z.delta.toArray().every((x) => x === 0),
        `request ${i}: δ stays 0`,
      );
      assert.deepEqual(z.z.toArray(), z.h0.toArray(), `request ${i}: z = h`);
      assert.ok(
        z.steps.every((s) => s[1] === z.steps[0]![1]),
        `request ${i}: the NLL never changes`,
      );
    });
    const moved = run.zs[3]!;
    assert.ok(
      moved.delta.toArray().some((x) => x !== 0),
      'the reachable request moves',
    );
    assert.ok(moved.steps[moved.steps.length - 1]![1] < moved.steps[0]![1], 'and lowers its NLL');
    // resid_j = (Z − cur_z)ᵀ / (|R| − j): 1/2 at layer 0, 1/1 at layer 2 (by count, not by distance)
    const Z = run.zs.map((z) => z.z.toArray());
    run.layers.forEach((l, j) => {
      const cur = l.curZ.toArray();
      const resid = l.resid.toArray(); // [D, n]
      const n = Z.length;
      for (let d = 0; d < 16; d++)
        for (let i = 0; i < n; i++) {
          const want = Math.fround(Z[i]![d]! - cur[i * 16 + d]!) / (2 - j);
          assert.ok(
            Math.abs(resid[d * n + i]! - want) <= 1e-12 * Math.max(1, Math.abs(want)),
            `layer ${l.layer} resid[${d}, ${i}]`,
          );
        }
    });
  });

  test('with only unreachable requests MEMIT changes the weights by float noise at most', () => {
    using run = executeMemit(model, tok, unreachable, hp, groups, ctx);
    for (const l of run.layers) {
      const resid = Math.max(...l.resid.toArray().map(Math.abs));
      const z = Math.max(...run.zs.flatMap((r) => r.z.toArray().map(Math.abs)));
      // z = h exactly; cur_z is h recomputed in another batch: float32 noise of a 3-block forward
      assert.ok(resid <= 1e-5 * z, `layer ${l.layer}: |resid| ${resid} vs |z| ${z}`);
    }
  });
});
