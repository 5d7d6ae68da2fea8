import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { alphaEdit, ALPHAEDIT_PRESETS } from './index.js';
import { emmet, EMMET_PRESETS } from '../emmet/index.js';

/** EasyEdit's hparams/AlphaEdit/gpt2-xl.yaml (its fields and values; rivals.md §1.7). */
const EASYEDIT_ALPHAEDIT_GPT2XL = `
alg_name: "AlphaEdit"
model_name: "./hugging_cache/gpt2-xl"
stats_dir: "./data/stats"
P_loc: "./null_space_project.pt"
device: 0
layers: [13, 14, 15, 16, 17]
clamp_norm_factor: 0.75
layer_selection: "all"
fact_token: "subject_last"
v_num_grad_steps: 20
v_lr: 5e-1
v_loss_layer: 47
v_weight_decay: 0.5
kl_factor: 0.0625
mom2_adjustment: true
mom2_update_weight: 20000
rewrite_module_tmp: "transformer.h.{}.mlp.c_proj"
layer_module_tmp: "transformer.h.{}"
mlp_module_tmp: "transformer.h.{}.mlp"
attn_module_tmp: "transformer.h.{}.attn"
ln_f_module: "transformer.ln_f"
lm_head_module: "lm_head"
mom2_dataset: "wikipedia"
mom2_n_samples: 100000
mom2_dtype: "float32"
nullspace_threshold: 2e-2
L2: 10
`;

test('an EasyEdit AlphaEdit YAML loads unchanged (P_loc read, not used) and matches the gpt2-xl preset', () => {
  const h = alphaEdit.parseHParams(parse(EASYEDIT_ALPHAEDIT_GPT2XL), 'AlphaEdit/gpt2-xl.yaml') as Record<string, unknown>;
  const p = ALPHAEDIT_PRESETS['gpt2-xl']! as Record<string, unknown>;
  const differ = Object.keys(p).filter((k) => JSON.stringify(h[k]) !== JSON.stringify(p[k]));
  // lm_head: EasyEdit names `lm_head` (tied to wte in GPT-2: the same weights); P_loc: a path
  assert.deepEqual(differ.sort(), ['P_loc', 'lm_head_module']);
  assert.throws(() => alphaEdit.parseHParams({ ...parse(EASYEDIT_ALPHAEDIT_GPT2XL), L2: 0 }, 'x.yaml'), /L2 must be > 0/);
  assert.throws(
    () => alphaEdit.parseHParams({ ...parse(EASYEDIT_ALPHAEDIT_GPT2XL), nullspace_threshold: -1 }, 'x.yaml'),
    /nullspace_threshold must be > 0/,
  );
});

test('presets: LLaMA-3 8B as EasyEdit (L2 1) and AlphaEdit (L2 10); EMMET EasyEdit vs the authors (w, λ_e on single edits)', () => {
  assert.equal(ALPHAEDIT_PRESETS['llama3-8b']!.L2, 1);
  assert.equal(ALPHAEDIT_PRESETS['llama3-8b/original']!.L2, 10);
  assert.equal(ALPHAEDIT_PRESETS['llama3-8b']!.v_lr, 0.1);
  assert.deepEqual(ALPHAEDIT_PRESETS['gpt-j-6b']!.layers, [3, 4, 5, 6, 7, 8]);
  assert.equal(EMMET_PRESETS['gpt2-xl']!.mom2_update_weight, 10000);
  assert.equal(EMMET_PRESETS['gpt2-xl/original']!.mom2_update_weight, 1000);
  assert.equal(EMMET_PRESETS['gpt2-xl/original']!.lambda_on_single_edit, 'batch_only');
  assert.deepEqual(EMMET_PRESETS['llama-2-7b']!.layers, [5]);
  for (const [k, v] of Object.entries(ALPHAEDIT_PRESETS)) alphaEdit.parseHParams(v, k);
  for (const [k, v] of Object.entries(EMMET_PRESETS)) emmet.parseHParams(v, k);
});
