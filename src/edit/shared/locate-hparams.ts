/**
 * The hyperparameters ROME and MEMIT share (EasyEdit field names, methods.md §11): the edited
 * layers and lookup token, the optimisation of v (ROME) and z (MEMIT), the module templates,
 * the layer statistics, and lmedit's reproducibility switches. Each method adds its own fields.
 */
import type { Schema } from '../hparams.js';
import type { FactToken, SubjectIndexRule } from './subject-index.js';
import type { VOptHParams } from './v-optimization.js';

export interface LocateEditHParams extends VOptHParams {
  layers: number[];
  fact_token: FactToken;
  v_loss_layer: number;
  mom2_adjustment: boolean;
  rewrite_module_tmp: string;
  layer_module_tmp: string;
  mlp_module_tmp: string;
  attn_module_tmp: string;
  ln_f_module: string;
  lm_head_module: string;
  mom2_dataset: string;
  mom2_n_samples: number;
  mom2_dtype: string;
  /** token budget for the statistics provider (lmedit addition; read by src/edit/stats) */
  mom2_max_tokens?: number | null;
  /** lmedit: subject index arithmetic, 'easyedit' (contextual) or 'original' (kmeng01) */
  subjectIndexRule: SubjectIndexRule;
  /** lmedit: seed of the template sampler when the context gives none */
  templateSeed: number;
  /** lmedit: EasyEdit's target space quirk (always prepend ' ') */
  legacyTargetSpace: boolean;
}

export const LOCATE_EDIT_SCHEMA: Schema = {
  layers: { type: 'int[]' },
  fact_token: { type: 'string', default: 'subject_last' },
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
  mom2_max_tokens: { type: 'any', default: null, doc: 'read by the statistics provider' },
  subjectIndexRule: { type: 'string', default: 'easyedit' },
  templateSeed: { type: 'int', default: 0 },
  legacyTargetSpace: { type: 'bool', default: false },
};
