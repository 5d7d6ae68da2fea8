/**
 * EasyEdit hyperparameter files load unchanged (field names, scientific-notation strings,
 * environment fields such as device/stats_dir), and bad files fail naming the file and key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHParamsFile } from './hparams.js';
import { rome } from './rome/index.js';
import { memit } from './memit/index.js';

// The field set of EasyEdit's hparams/ROME/gpt2-xl.yaml and hparams/MEMIT/gpt2-xl.yaml.
const ROME_YAML = `alg_name: "ROME"
model_name: "./hugging_cache/gpt2-xl"
stats_dir: "./data/stats"
device: 0
layers: [17]
fact_token: "subject_last"
v_num_grad_steps: 20
v_lr: 5e-1
v_loss_layer: 47
v_weight_decay: 0.5
clamp_norm_factor: 4
kl_factor: 0.0625
mom2_adjustment: false
context_template_length_params: [[5, 10], [10, 10]]
rewrite_module_tmp: "transformer.h.{}.mlp.c_proj"
layer_module_tmp: "transformer.h.{}"
mlp_module_tmp: "transformer.h.{}.mlp"
attn_module_tmp: "transformer.h.{}.attn"
ln_f_module: "transformer.ln_f"
lm_head_module: "transformer.wte"
mom2_dataset: "wikipedia"
mom2_n_samples: 100000
mom2_dtype: "float32"
`;

const MEMIT_YAML = `alg_name: "MEMIT"
model_name: "./hugging_cache/gpt2-xl"
stats_dir: "./data/stats"
device: 0
layers: [13, 14, 15, 16, 17]
clamp_norm_factor: 0.75
layer_selection: "all"
fact_token: "subject_last"
v_num_grad_steps: 20
v_lr: "5e-1"
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
lm_head_module: "transformer.wte"
mom2_dataset: "wikipedia"
mom2_n_samples: 100000
mom2_dtype: "float32"
`;

function withFile(name: string, text: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'lmedit-hp-'));
  try {
    const p = join(dir, name);
    writeFileSync(p, text);
    fn(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('EasyEdit ROME and MEMIT YAML files load unchanged and equal the gpt2-xl presets', () => {
  withFile('gpt2-xl.yaml', ROME_YAML, (p) => {
    const hp = rome.parseHParams(readHParamsFile(p), p) as unknown as Record<string, unknown>;
    const preset = rome.presets['gpt2-xl'] as unknown as Record<string, unknown>;
    for (const k of [
      'layers',
      'v_num_grad_steps',
      'v_lr',
      'v_loss_layer',
      'v_weight_decay',
      'clamp_norm_factor',
      'kl_factor',
      'mom2_adjustment',
      'rewrite_module_tmp',
    ]) {
      assert.deepEqual(hp[k], preset[k], k);
    }
    assert.equal(hp['v_lr'], 0.5);
  });
  withFile('memit.yaml', MEMIT_YAML, (p) => {
    const hp = memit.parseHParams(readHParamsFile(p), p) as unknown as Record<string, unknown>;
    assert.deepEqual(hp['layers'], [13, 14, 15, 16, 17]);
    assert.equal(hp['v_lr'], 0.5); // the string "5e-1" is cast, as EasyEdit does
    assert.equal(hp['mom2_update_weight'], 20000);
  });
});

test('unknown, missing and ill-typed fields fail naming the file and key', () => {
  withFile('bad.yaml', ROME_YAML + 'v_lrr: 0.1\n', (p) =>
    assert.throws(() => rome.parseHParams(readHParamsFile(p), p), /bad\.yaml: unknown field\(s\) "v_lrr"/),
  );
  withFile('bad.yaml', ROME_YAML.replace('layers: [17]\n', ''), (p) =>
    assert.throws(() => rome.parseHParams(readHParamsFile(p), p), /bad\.yaml: missing required field "layers"/),
  );
  withFile('bad.yaml', ROME_YAML.replace('v_num_grad_steps: 20', 'v_num_grad_steps: many'), (p) =>
    assert.throws(() => rome.parseHParams(readHParamsFile(p), p), /field "v_num_grad_steps": expected int/),
  );
  withFile('bad.yaml', ROME_YAML.replace('alg_name: "ROME"', 'alg_name: "MEMIT"'), (p) =>
    assert.throws(() => rome.parseHParams(readHParamsFile(p), p), /alg_name is "MEMIT"/),
  );
  withFile('bad.yaml', 'layers: [17\n', (p) => assert.throws(() => readHParamsFile(p), /bad\.yaml: not valid YAML/));
});

test("lmedit's own fields are snake_case, checked against their choices, and old camelCase names say the new one", () => {
  withFile('own.yaml', ROME_YAML + 'subject_index_rule: original\ntemplate_seed: 3\nmom2_max_tokens: "2e5"\n', (p) => {
    const hp = rome.parseHParams(readHParamsFile(p), p);
    assert.deepEqual([hp.subject_index_rule, hp.template_seed, hp.mom2_max_tokens], ['original', 3, 200000]);
  });
  const fails = (yaml: string, re: RegExp) =>
    withFile('bad.yaml', yaml, (p) => assert.throws(() => rome.parseHParams(readHParamsFile(p), p), re));
  fails(ROME_YAML + 'templateSeed: 3\n', /bad\.yaml: unknown field\(s\) "templateSeed" \(did you mean "template_seed"\?\)/);
  fails(
    ROME_YAML + 'subject_index_rule: kmeng01\n',
    /field "subject_index_rule": expected one of "easyedit", "original", got "kmeng01"/,
  );
  fails(ROME_YAML.replace('"subject_last"', 'first'), /field "fact_token": expected one of "subject_last", .*got "first"/);
  fails(ROME_YAML + 'mom2_max_tokens: many\n', /field "mom2_max_tokens": expected int\|null, got "many"/);
});
