/**
 * ROME / R-ROME behaviour on tiny-gpt2 (../shared): the rank-one algebra (ΔW k = v* − v),
 * multi-layer edits, apply: false, seeded templates, memory, and requests that must fail with
 * the model left bit-for-bit unchanged.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { loadModel } from '../../models/load.js';
import type { CausalLM } from '../../models/types.js';
import { loadTokenizer, type Tokenizer } from '../../tokenizer/index.js';
import { modelDir, skipNoShared } from '../../testing.js';
import type { EditContext, EditRequest } from '../types.js';
import { ROME_PRESETS, R_ROME_PRESETS, executeRome, rRome, rome, type RomeHParams } from './index.js';
import { assertParamsUnchanged, maxRelDiff, snapshotParams } from '../testing.js';

const TEMPLATES = ['{}', 'The sky. {}', 'I am told. {}'];
const REQUEST: EditRequest = { prompt: 'LeBron James plays the sport of', subject: 'LeBron James', target_new: 'ice hockey' };

/** max |W·k − want| / max |want| for W in stored layout (Conv1D [d_k, D]: kᵀW). */
function applyDelta(model: CausalLM, deltaW: T.Tensor, k: T.Tensor): number[] {
  return T.noGrad(() => {
    const y = model.arch.weightLayout === 'in_out' ? T.matmul(T.unsqueeze(k, 0), deltaW) : T.matmul(deltaW, T.unsqueeze(k, 1));
    const out = y.toArray();
    y.dispose();
    return out;
  });
}

describe('ROME on tiny-gpt2', { skip: skipNoShared }, () => {
  let model: CausalLM;
  let tok: Tokenizer;
  let hp: RomeHParams;
  let ctx: EditContext;
  const load = async (): Promise<void> => {
    model ??= loadModel(modelDir('tiny-gpt2'));
    tok ??= await loadTokenizer(modelDir('tiny-gpt2'));
    hp = { ...ROME_PRESETS['tiny-gpt2']! };
    ctx = { tokenizer: tok, contextTemplates: TEMPLATES };
  };

  test('ΔW k₀ = v* − v₀ (ROME) and ΔW k̄ = v* − v̄ (R-ROME random-prefix keys)', async () => {
    await load();
    const run = executeRome(model, tok, REQUEST, hp, TEMPLATES, ctx);
    const L = run.layers[0]!;
    const want = T.noGrad(() => T.sub(L.v.vStar, L.keys.vEdit));
    assert.ok(maxRelDiff(applyDelta(model, L.deltaW, L.keys.kEdit), want.toArray()) < 1e-5);
    const rr = executeRome(model, tok, REQUEST, R_ROME_PRESETS['tiny-gpt2']!, TEMPLATES, ctx);
    const R = rr.layers[0]!;
    const wantR = T.noGrad(() => T.sub(R.v.vStar, R.keys.vBar));
    assert.ok(maxRelDiff(applyDelta(model, R.deltaW, R.keys.kStar), wantR.toArray()) < 1e-5);
    assert.ok(maxRelDiff(R.deltaW.toArray(), L.deltaW.toArray()) > 1e-3, 'R-ROME differs from ROME');
    // the prompt-keys variant builds u from k₀ and satisfies ΔW k₀ = v* − v₀
    const pk = executeRome(
      model,
      tok,
      REQUEST,
      { ...hp, original_implementation: false, enable_prompt_keys: true },
      TEMPLATES,
      ctx,
    ).layers[0]!;
    assert.ok(
      maxRelDiff(applyDelta(model, pk.deltaW, pk.keys.kEdit), T.noGrad(() => T.sub(pk.v.vStar, pk.keys.vEdit)).toArray()) < 1e-5,
    );
  });

  test('two layers: both weights change, the second computed on the first edit; restore is exact', async () => {
    await load();
    const before = snapshotParams(model);
    const res = rome.apply(model, [REQUEST], { ...hp, layers: [2, 0] }, ctx);
    assert.deepEqual([...res.deltas.keys()].sort(), ['transformer.h.0.mlp.c_proj.weight', 'transformer.h.2.mlp.c_proj.weight']);
    assert.equal(res.requests[0]!.losses.length, 2 * hp.v_num_grad_steps);
    res.restore();
    assertParamsUnchanged(model, before);
    const fresh = executeRome(model, tok, REQUEST, { ...hp, layers: [2] }, TEMPLATES, ctx);
    assert.ok(
      maxRelDiff(res.deltas.get('transformer.h.2.mlp.c_proj.weight')!.toArray(), fresh.layers[0]!.deltaW.toArray()) > 1e-4,
      'layer 2 saw layer 0 updated',
    );
    res.dispose();
  });

  test('apply: false returns the deltas and leaves the model unchanged; rRome is an EditMethod', async () => {
    await load();
    const before = snapshotParams(model);
    const res = rome.apply(model, [REQUEST], hp, { ...ctx, apply: false });
    assert.equal(res.applied, false);
    assert.equal(res.deltas.size, 1);
    assertParamsUnchanged(model, before);
    res.dispose();
    assert.equal(rRome.batchable, false);
    assert.equal(rRome.parseHParams({ ...R_ROME_PRESETS['tiny-gpt2'] }, 'test').original_implementation, false);
  });

  test('sampled context templates: the same seed gives the same edit', async () => {
    await load();
    const small = { ...hp, context_template_length_params: [[5, 5]] };
    const a = rome.apply(model, [REQUEST], small, { tokenizer: tok, seed: 7, apply: false });
    const b = rome.apply(model, [REQUEST], small, { tokenizer: tok, seed: 7, apply: false });
    const name = 'transformer.h.1.mlp.c_proj.weight';
    assert.deepEqual(a.deltas.get(name)!.toArray(), b.deltas.get(name)!.toArray());
    a.dispose();
    b.dispose();
  });

  test('an edit and its disposal leave no tensor memory behind', async () => {
    await load();
    const before = T.memoryStats();
    const res = rome.apply(model, [REQUEST], hp, ctx);
    res.restore();
    res.dispose();
    const after = T.memoryStats();
    assert.equal(after.bytes, before.bytes, 'bytes');
    assert.equal(after.tensors, before.tensors, 'tensor objects');
  });

  test('bad requests and settings fail clearly with the model unchanged', async () => {
    await load();
    const before = snapshotParams(model);
    const nanStats = { secondMoment: () => T.full([256, 256], NaN) };
    const cases: [string, () => unknown, RegExp][] = [
      [
        'subject not in prompt',
        () => rome.apply(model, [{ ...REQUEST, subject: 'Michael Jordan' }], hp, ctx),
        /does not occur in the prompt/,
      ],
      ['empty target', () => rome.apply(model, [{ ...REQUEST, target_new: ' ' }], hp, ctx), /empty target_new/],
      ['unknown layer', () => rome.apply(model, [REQUEST], { ...hp, layers: [7] }, ctx), /layer 7 is outside/],
      ['two requests', () => rome.apply(model, [REQUEST, REQUEST], hp, ctx), /one request per call/],
      ['no statistics', () => rome.apply(model, [REQUEST], { ...hp, mom2_adjustment: true }, ctx), /statistics/],
      [
        'NaN statistics',
        () => rome.apply(model, [REQUEST], { ...hp, mom2_adjustment: true }, { ...ctx, stats: nanStats }),
        /NaN|not finite|singular|Inf/i,
      ],
      [
        'NaN after the transform',
        () =>
          rome.apply(
            model,
            [REQUEST],
            { ...hp, layers: [0, 1] },
            { ...ctx, transformDelta: (n, d) => (n.includes('.1.') ? T.full(d.shape, NaN) : T.clone(d)) },
          ),
        /NaN|finite/i,
      ],
      [
        'bad hparams',
        () => rome.parseHParams({ ...hp, fact_token: 'subject_middle' }, 'rome.yaml'),
        /field "fact_token": expected one of .*got "subject_middle"/,
      ],
    ];
    for (const [what, run, msg] of cases) {
      assert.throws(run, msg, what);
      assertParamsUnchanged(model, before);
    }
  });
});
