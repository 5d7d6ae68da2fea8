/**
 * The hyperparameters ROME and MEMIT share (EasyEdit field names; README.md, "EasyEdit interface"): the edited
 * layers and lookup token, the optimisation of v (ROME) and z (MEMIT), the module templates,
 * the layer statistics, and lmedit's reproducibility switches. Each method adds its own fields.
 */
import type { HParamsOf, Schema } from '../hparams.js';
import { FACT_TOKENS } from './subject-index.js';

export const LOCATE_EDIT_SCHEMA = {
  layers: { type: 'int[]' },
  fact_token: { type: 'string', oneOf: FACT_TOKENS, default: 'subject_last' },
  v_num_grad_steps: { type: 'int' },
  v_lr: { type: 'float' },
  v_loss_layer: { type: 'int' },
  v_weight_decay: { type: 'float' },
  clamp_norm_factor: { type: 'float' },
  kl_factor: { type: 'float' },
  mom2_adjustment: { type: 'bool' },
  rewrite_module_tmp: { type: 'string' },
  layer_module_tmp: { type: 'string' },
  mlp_module_tmp: { type: 'string' },
  attn_module_tmp: { type: 'string', default: '' },
  ln_f_module: { type: 'string', default: '' },
  lm_head_module: { type: 'string', default: '' },
  mom2_dataset: { type: 'string', default: 'wikipedia' },
  mom2_n_samples: { type: 'int', default: 100000 },
  mom2_dtype: { type: 'string', default: 'float32' },
  // ---- lmedit additions ----
  mom2_max_tokens: { type: 'int|null', default: null, doc: 'token budget of the statistics provider (null: its default)' },
  subject_index_rule: {
    type: 'string',
    oneOf: ['easyedit', 'original'],
    default: 'easyedit',
    doc: 'subject index arithmetic: easyedit (contextual) or original (kmeng01)',
  },
  template_seed: { type: 'int', default: 0, doc: 'seed of the context-template sampler when EditContext.seed is absent' },
  legacy_target_space: { type: 'bool', default: false, doc: "EasyEdit's target-space quirk: always prepend ' ' (quirk 11)" },
} as const satisfies Schema;

export type LocateEditHParams = HParamsOf<typeof LOCATE_EDIT_SCHEMA>;

/** Range checks of the shared fields (the model-dependent ones, layers and v_loss_layer, are checked at edit time). */
export function checkLocateHParams(h: LocateEditHParams, bad: (msg: string) => never): void {
  if (h.layers.some((l) => l < 0)) bad(`layers ${JSON.stringify(h.layers)} has a negative layer`);
  if (h.v_loss_layer < 0) bad(`v_loss_layer must be >= 0, got ${h.v_loss_layer}`);
  if (!(h.v_lr > 0)) bad(`v_lr must be > 0, got ${h.v_lr}`);
  if (!(h.v_weight_decay >= 0)) bad(`v_weight_decay must be >= 0, got ${h.v_weight_decay}`);
  if (!(h.kl_factor >= 0)) bad(`kl_factor must be >= 0, got ${h.kl_factor}`);
  if (h.mom2_n_samples < 1) bad(`mom2_n_samples must be a positive integer, got ${h.mom2_n_samples}`);
  if (h.mom2_max_tokens !== null && h.mom2_max_tokens < 1)
    bad(`mom2_max_tokens must be a positive integer or null, got ${h.mom2_max_tokens}`);
}
