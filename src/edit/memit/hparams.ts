/**
 * MEMIT hyperparameters: EasyEdit YAML fields (../shared/README.md, "EasyEdit interface"),
 * lmedit additions, and the presets of README.md, "Presets" ('easyedit' default, '/original' =
 * kmeng01) plus the tiny goldens.
 */
import { worldPresets } from '../shared/world-presets.js';
import { parseWithSchema, type HParamsOf, type Schema } from '../hparams.js';
import { LOCATE_EDIT_SCHEMA, checkLocateHParams } from '../shared/locate-hparams.js';
import {
  GPT2_MODULES as GPT2,
  GPTJ_MODULES as GPTJ,
  LLAMA_MODULES as LLAMA,
  type ModuleNames as Family,
} from '../../models/index.js';
import { moduleTemplates } from '../shared/modules.js';

export const MEMIT_SCHEMA = {
  ...LOCATE_EDIT_SCHEMA,
  layer_selection: { type: 'string', oneOf: ['all'], default: 'all' },
  mom2_adjustment: { type: 'bool', default: true, doc: 'read but ignored: MEMIT always uses C (quirk 9)' },
  mom2_update_weight: { type: 'float', doc: 'λ in (λC + KKᵀ)' },
  rect_in_loop: { type: 'bool', default: false, doc: 'apply RECT (ctx.transformDelta) inside the layer loop, not after it' },
} as const satisfies Schema;

export type MemitHParams = HParamsOf<typeof MEMIT_SCHEMA>;

/** Parse a MEMIT YAML/JSON object. */
export function parseMemitHParams(raw: unknown, source: string): MemitHParams {
  const h = parseWithSchema(raw, MEMIT_SCHEMA, source, 'MEMIT');
  const bad = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (h.layers.length === 0) bad('layers is empty');
  if (new Set(h.layers).size !== h.layers.length) bad(`layers ${JSON.stringify(h.layers)} repeats a layer`);
  checkLocateHParams(h, bad);
  if (h.v_num_grad_steps < 1) bad('v_num_grad_steps must be >= 1');
  if (!(h.clamp_norm_factor > 0)) bad('clamp_norm_factor must be > 0');
  if (!(h.mom2_update_weight > 0)) bad('mom2_update_weight must be > 0');
  for (const k of ['rewrite_module_tmp', 'layer_module_tmp', 'mlp_module_tmp'] as const)
    if (!h[k].includes('{}')) bad(`${k} "${h[k]}" has no {}`);
  return h;
}

/**
 * MEMIT's checks (layers, modules, z settings) on the MEMIT fields of a method whose schema
 * extends MEMIT's (EMMET, AlphaEdit): `own` lists the fields the method adds.
 */
export function checkMemitFields(h: Readonly<Record<string, unknown>>, own: Schema, source: string): void {
  const added = new Set(Object.keys(own).filter((k) => !(k in MEMIT_SCHEMA)));
  parseMemitHParams(Object.fromEntries(Object.entries(h).filter(([k]) => !added.has(k))), source);
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
    mom2_max_tokens: null,
    subject_index_rule: 'easyedit',
    template_seed: 0,
    legacy_target_space: false,
    rect_in_loop: false,
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
    subject_index_rule: 'original',
  });
}

/** MEMIT presets by model key; '/original' keys are the kmeng01 settings where they differ. */
export const MEMIT_PRESETS: Record<string, MemitHParams> = {
  'gpt2-xl': preset(GPT2, { layers: [13, 14, 15, 16, 17], v_loss_layer: 47, mom2_update_weight: 20000 }),
  'gpt2-xl/original': preset(GPT2, {
    layers: [13, 14, 15, 16, 17],
    v_loss_layer: 47,
    mom2_update_weight: 20000,
    subject_index_rule: 'original',
  }),
  'gpt-j-6b': preset(GPTJ, { layers: [3, 4, 5, 6, 7, 8], v_loss_layer: 27, v_num_grad_steps: 25, mom2_update_weight: 15000 }),
  'gpt-j-6b/original': preset(GPTJ, {
    layers: [3, 4, 5, 6, 7, 8],
    v_loss_layer: 27,
    v_num_grad_steps: 25,
    mom2_update_weight: 15000,
    subject_index_rule: 'original',
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
  // stories260K: two early layers, loss at the last block; λ = 100 against its small statistics
  // (NLL 2.20 → 0.73 on eight story facts edited one at a time, 5/8 below 0.5)
  stories260K: preset(LLAMA, {
    layers: [1, 2],
    v_loss_layer: 4,
    v_num_grad_steps: 25,
    clamp_norm_factor: 10,
    v_weight_decay: 0.01,
    mom2_update_weight: 100,
    mom2_dataset: 'wikitext',
    mom2_n_samples: 2000,
  }),
  // world models: the last token, as ROME's world presets (src/edit/rome/hparams.ts says why)
  ...worldPresets((L) =>
    preset(LLAMA, {
      layers: Array.from({ length: Math.max(1, L - 1) }, (_, i) => i),
      v_loss_layer: L - 1,
      fact_token: 'last',
      v_num_grad_steps: 50,
      clamp_norm_factor: 20,
      v_weight_decay: 0.01,
      mom2_update_weight: 100,
      mom2_dataset: 'world',
      mom2_n_samples: 1000,
    }),
  ),
};
