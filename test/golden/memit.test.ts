/**
 * MEMIT against the goldens of the original kmeng01 code (../shared/reference/memit/<case>):
 * prompt token ids and lookup indices exactly; z, δ, and per layer the keys, cur_z, resid, adj_k
 * and ΔW within 1e-4 of each tensor's max; per-step losses of each z optimisation; post-edit
 * last-position logits (atol 1e-4 + rtol 1e-4 of max); a bit-exact restore. The golden's fixed
 * template groups come in through ctx.contextTemplates and its per-layer C through the provider.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { loadModel } from '../../src/models/load.js';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizer/index.js';
import type { CausalLM } from '../../src/models/types.js';
import { MEMIT_PRESETS, executeMemit, memit, type MemitHParams, type MemitRun } from '../../src/edit/memit/index.js';
import type { EditContext, EditRequest } from '../../src/edit/types.js';
import { compare, goldenTensors, modelDir, readJson, skipNoShared } from './shared.js';

interface MemitGolden {
  model: string;
  requests: { prompt: string; subject: string; target_new: { str: string } }[];
  context_templates: string[][];
  hparams: Record<string, unknown>;
  inputs: { target_ids: number[]; z_prompt_ids: number[][]; z_lookup_idxs: number[]; edit_prompt_ids: number[] }[];
  'z_optimisation_steps_[loss,nll,kl,weight_decay]': number[][][];
}

function within(name: string, got: T.Tensor, want: T.Tensor, tol: { atol?: number; rtol: number }): void {
  const { maxAbs, maxRef } = compare(got.toArray(), want.toArray());
  const limit = (tol.atol ?? 0) + tol.rtol * maxRef;
  assert.ok(
    maxAbs <= limit,
    `${name}: max |diff| ${maxAbs.toExponential(3)} > ${limit.toExponential(3)} (max |ref| ${maxRef.toExponential(3)})`,
  );
}

function lastLogits(model: CausalLM, prompts: number[][]): T.Tensor {
  return T.noGrad(() =>
    T.tidy(() =>
      T.stack(
        prompts.map((ids) => {
          const out = model.forward({ ids: T.tensor(Int32Array.from(ids), [1, ids.length], 'int32'), logits: 'last' });
          return T.reshape(out.logits!, [-1]);
        }),
      ),
    ),
  );
}

for (const kase of ['tiny-gpt2', 'tiny-gpt2-lambda50', 'tiny-llama']) {
  describe(`MEMIT golden: ${kase}`, { skip: skipNoShared }, () => {
    const where = ['reference', 'memit', kase] as const;
    let model: CausalLM;
    let tok: Tokenizer;
    let meta: MemitGolden;
    let g: Map<string, T.Tensor>;
    let hp: MemitHParams;
    let ctx: EditContext;
    let requests: EditRequest[];
    let run: MemitRun | null = null;
    const setup = async (): Promise<void> => {
      if (run) return;
      meta = readJson<MemitGolden>(...where, 'golden.json');
      g = goldenTensors(...where, 'golden.safetensors');
      model = loadModel(modelDir(meta.model));
      tok = await loadTokenizer(modelDir(meta.model));
      hp = { ...MEMIT_PRESETS[meta.model]!, ...(meta.hparams as Partial<MemitHParams>) };
      assert.equal(hp.subject_index_rule, 'original');
      ctx = {
        tokenizer: tok,
        contextTemplates: meta.context_templates,
        stats: { secondMoment: (_m, layer) => g.get(`layer${layer}/C`) ?? assert.fail(`no C for layer ${layer}`) },
      };
      requests = meta.requests.map((r) => ({
        prompt: r.prompt.replace('{}', r.subject),
        subject: r.subject,
        target_new: r.target_new.str,
      }));
      run = executeMemit(model, tok, requests, hp, meta.context_templates, ctx);
    };

    test('token ids and lookup indices are exactly the golden ones', async () => {
      await setup();
      run!.zs.forEach((z, i) => {
        const inp = meta.inputs[i]!;
        assert.deepEqual(run!.targetIds[i], inp.target_ids, `request ${i} target`);
        assert.deepEqual(
          [...z.rewriting, ...z.kl].map((r) => r.ids),
          inp.z_prompt_ids,
          `request ${i} prompts`,
        );
        assert.deepEqual(
          [...z.rewriting, ...z.kl].map((r) => r.idx),
          inp.z_lookup_idxs,
          `request ${i} lookup`,
        );
        assert.deepEqual(run!.promptRows[i]!.ids, inp.edit_prompt_ids, `request ${i} bare prompt`);
      });
    });

    test('z, δ and per-step losses of each z optimisation', async () => {
      await setup();
      const steps = meta['z_optimisation_steps_[loss,nll,kl,weight_decay]'];
      run!.zs.forEach((z, i) => {
        within(`z_delta/${i}`, z.delta, g.get(`z_delta/${i}`)!, { rtol: 1e-4 });
        assert.equal(z.steps.length, steps[i]!.length, `request ${i}: forward passes`);
        z.steps.forEach((s, a) =>
          s.forEach((x, b) => {
            const w = steps[i]![a]![b]!;
            assert.ok(Math.abs(x - w) <= 1e-6 + 1e-5 * Math.abs(w), `request ${i} step ${a} term ${b}: ${x} vs ${w}`);
          }),
        );
      });
      const Z = T.stack(run!.zs.map((z) => z.z));
      within('z', Z, g.get('z')!, { rtol: 1e-4 });
      Z.dispose();
    });

    test('per layer: keys, cur_z, resid, adj_k (float64) and ΔW within 1e-4 of max', async () => {
      await setup();
      assert.deepEqual(
        run!.layers.map((l) => l.layer),
        hp.layers,
      );
      for (const l of run!.layers) {
        const p = `layer${l.layer}`;
        within(`${p}/keys`, l.keys, g.get(`${p}/keys`)!, { rtol: 1e-4 });
        within(`${p}/cur_z`, l.curZ, g.get(`${p}/cur_z`)!, { rtol: 1e-4 });
        assert.equal(l.resid.dtype, 'float64');
        assert.equal(l.adjK.dtype, 'float64');
        within(`${p}/resid`, l.resid, g.get(`${p}/resid`)!, { rtol: 1e-4 });
        within(`${p}/adj_k`, l.adjK, g.get(`${p}/adj_k`)!, { rtol: 1e-4 });
        within(`${p}/delta_W`, l.deltaW, g.get(`${p}/delta_W`)!, { rtol: 1e-4 });
        assert.deepEqual(
          model.param(l.weightName).toArray(),
          g.get(`${p}/W_orig`)!.toArray(),
          'executeMemit leaves the model unchanged',
        );
      }
    });

    test('memit.apply: post-edit logits, returned ΔW, bit-exact restore', async () => {
      await setup();
      const res = memit.apply(model, requests, hp, ctx);
      for (const l of run!.layers)
        within(`result ${l.weightName}`, res.deltas.get(l.weightName)!, g.get(`layer${l.layer}/delta_W`)!, { rtol: 1e-4 });
      const post = lastLogits(
        model,
        meta.inputs.map((x) => x.edit_prompt_ids),
      );
      within('post_logits_last', post, g.get('post_logits_last')!, { atol: 1e-4, rtol: 1e-4 });
      post.dispose();
      assert.equal(res.requests.length, requests.length);
      res.restore();
      for (const l of run!.layers)
        assert.deepEqual(model.param(l.weightName).toArray(), g.get(`layer${l.layer}/W_orig`)!.toArray(), 'restore is bit-exact');
      res.dispose();
    });
  });
}
