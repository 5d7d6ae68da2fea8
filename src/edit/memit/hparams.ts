/**
 * MEMIT hyperparameters: EasyEdit YAML fields (methods.md §11), lmedit additions, and the
 * presets of methods.md §10 ('easyedit' default, '/original' = kmeng01) plus the tiny goldens.
 */
import { parseWithSchema, type Schema } from '../hparams.js';
import { FACT_TOKENS, type FactToken, type SubjectIndexRule } from '../shared/subject-index.js';
import {
  GPT2_MODULES as GPT2,
  GPTJ_MODULES as GPTJ,
  LLAMA_MODULES as LLAMA,
  moduleTemplates,
  type ModuleFamily as Family,
} from '../shared/modules.js';

export interface MemitHParams {
  layers: number[];
  layer_selection: 'all';
  fact_token: FactToken;
  v_num_grad_steps: number;
  v_lr: number;
  v_loss_layer: number;
  v_weight_decay: number;
  clamp_norm_factor: number;
  kl_factor: number;
  /** read but ignored: MEMIT always uses C (quirk 9) */
  mom2_adjustment: boolean;
  /** λ in (λC + KKᵀ) */
  mom2_update_weight: number;
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
  /** lmedit: apply ctx.transformDelta (RECT) inside the layer loop instead of to the final deltas */
  rectInLoop: boolean;
}

const MEMIT_SCHEMA: Schema = {
  layers: { type: 'int[]' },
  layer_selection: { type: 'string', default: 'all' },
  fact_token: { type: 'string', default: 'subject_last' },
  v_num_grad_steps: { type: 'int' },
  v_lr: { type: 'float' },
  v_loss_layer: { type: 'int' },
  v_weight_decay: { type: 'float' },
  clamp_norm_factor: { type: 'float' },
  kl_factor: { type: 'float' },
  mom2_adjustment: { type: 'bool', default: true },
  mom2_update_weight: { type: 'float' },
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
  rectInLoop: { type: 'bool', default: false },
};

/** Parse a MEMIT YAML/JSON object. */
export function parseMemitHParams(raw: unknown, source: string): MemitHParams {
  const h = parseWithSchema<MemitHParams>(raw, MEMIT_SCHEMA, source, 'MEMIT');
  const bad = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (h.layer_selection !== 'all') bad(`layer_selection "${h.layer_selection}" is not supported (only "all")`);
  if (!FACT_TOKENS.includes(h.fact_token)) bad(`fact_token "${h.fact_token}" is not one of ${FACT_TOKENS.join(', ')}`);
  if (h.subjectIndexRule !== 'easyedit' && h.subjectIndexRule !== 'original')
    bad(`subjectIndexRule must be 'easyedit' or 'original'`);
  if (h.layers.length === 0) bad('layers is empty');
  if (new Set(h.layers).size !== h.layers.length) bad(`layers ${JSON.stringify(h.layers)} repeats a layer`);
  if (h.v_num_grad_steps < 1) bad('v_num_grad_steps must be >= 1');
  if (!(h.clamp_norm_factor > 0)) bad('clamp_norm_factor must be > 0');
  if (!(h.mom2_update_weight > 0)) bad('mom2_update_weight must be > 0');
  for (const k of ['rewrite_module_tmp', 'layer_module_tmp', 'mlp_module_tmp'] as const)
    if (!h[k].includes('{}')) bad(`${k} "${h[k]}" has no {}`);
  return h;
}

function preset(
  fam: Family,
  over: Partial<MemitHParams> & Pick<MemitHParams, 'layers' | 'v_loss_layer' | 'mom2_update_weight'>,
): MemitHParams {
  return {
    layer_selection: 'all',
    fact_token: 'subject_last',
    v_num_grad_steps: 20,
    v_lr: 0.5,
    v_weight_decay: 0.5,
    clamp_norm_factor: 0.75,
    kl_factor: 0.0625,
    mom2_adjustment: true,
    ...moduleTemplates(fam),
    mom2_dataset: 'wikipedia',
    mom2_n_samples: 100000,
    mom2_dtype: 'float32',
    subjectIndexRule: 'easyedit',
    templateSeed: 0,
    legacyTargetSpace: false,
    rectInLoop: false,
    ...over,
  };
}

/** The goldens' settings (original kmeng01 code). */
function tiny(fam: Family): MemitHParams {
  return preset(fam, {
    layers: [1, 2],
    v_loss_layer: 3,
    v_num_grad_steps: 5,
    mom2_update_weight: 15000,
    mom2_dataset: 'wikitext',
    mom2_n_samples: 2000,
    mom2_dtype: 'float64',
    subjectIndexRule: 'original',
  });
}

/** MEMIT presets by model key; '/original' keys are the kmeng01 settings where they differ. */
export const MEMIT_PRESETS: Record<string, MemitHParams> = {
  'gpt2-xl': preset(GPT2, { layers: [13, 14, 15, 16, 17], v_loss_layer: 47, mom2_update_weight: 20000 }),
  'gpt2-xl/original': preset(GPT2, {
    layers: [13, 14, 15, 16, 17],
    v_loss_layer: 47,
    mom2_update_weight: 20000,
    subjectIndexRule: 'original',
  }),
  'gpt-j-6b': preset(GPTJ, { layers: [3, 4, 5, 6, 7, 8], v_loss_layer: 27, v_num_grad_steps: 25, mom2_update_weight: 15000 }),
  'gpt-j-6b/original': preset(GPTJ, {
    layers: [3, 4, 5, 6, 7, 8],
    v_loss_layer: 27,
    v_num_grad_steps: 25,
    mom2_update_weight: 15000,
    subjectIndexRule: 'original',
  }),
  'llama-2-7b': preset(LLAMA, {
    layers: [4, 5, 6, 7, 8],
    v_loss_layer: 31,
    v_num_grad_steps: 25,
    v_weight_decay: 1e-3,
    clamp_norm_factor: 4,
    mom2_update_weight: 15000,
  }),
  'tiny-gpt2': tiny(GPT2),
  'tiny-llama': tiny(LLAMA),
};
