/**
 * ROME / R-ROME hyperparameters: EasyEdit YAML fields (methods.md §11), lmedit additions, and
 * the presets of methods.md §10 ('easyedit' default, '/original' = kmeng01) plus the tiny
 * golden models.
 */
import { parseWithSchema, type Schema } from '../hparams.js';
import { LOCATE_EDIT_SCHEMA, type LocateEditHParams } from '../shared/locate-hparams.js';
import { FACT_TOKENS } from '../shared/subject-index.js';
import {
  GPT2_MODULES as GPT2,
  GPTJ_MODULES as GPTJ,
  LLAMA_MODULES as LLAMA,
  moduleTemplates,
  type ModuleFamily as Family,
} from '../shared/modules.js';

export interface RomeHParams extends LocateEditHParams {
  context_template_length_params: number[][];
  /** R-ROME (§3): keys and values averaged over the context templates */
  enable_random_prefix_keys: boolean;
  /** R-ROME: keys and values from the bare prompt only */
  enable_prompt_keys: boolean;
  /** ROME's mixed computation (u from the averaged key, v₀ and k₀·u from the bare prompt); overrides the two above */
  original_implementation: boolean;
  /** lmedit: template sampling recipe, 'easyedit' (five seed words) or 'original' (from <|endoftext|>) */
  templateRecipe: 'easyedit' | 'original';
}

const ROME_SCHEMA: Schema = {
  ...LOCATE_EDIT_SCHEMA,
  context_template_length_params: {
    type: 'int[][]',
    default: [
      [5, 10],
      [10, 10],
    ],
  },
  templateRecipe: { type: 'string', default: 'easyedit' },
};

const R_ROME_FLAGS: Schema = {
  enable_random_prefix_keys: { type: 'bool', default: true },
  enable_prompt_keys: { type: 'bool', default: false },
  original_implementation: { type: 'bool', default: false },
};

/** Check the enumerated and numeric fields parseWithSchema cannot. */
function check(h: RomeHParams, source: string): RomeHParams {
  const bad = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (!FACT_TOKENS.includes(h.fact_token)) bad(`fact_token "${h.fact_token}" is not one of ${FACT_TOKENS.join(', ')}`);
  if (h.subjectIndexRule !== 'easyedit' && h.subjectIndexRule !== 'original')
    bad(`subjectIndexRule must be 'easyedit' or 'original'`);
  if (h.templateRecipe !== 'easyedit' && h.templateRecipe !== 'original') bad(`templateRecipe must be 'easyedit' or 'original'`);
  if (!h.original_implementation && h.enable_random_prefix_keys === h.enable_prompt_keys) {
    bad('set exactly one of enable_random_prefix_keys / enable_prompt_keys (or original_implementation)');
  }
  if (h.layers.length === 0) bad('layers is empty');
  if (new Set(h.layers).size !== h.layers.length) bad(`layers ${JSON.stringify(h.layers)} repeats a layer`);
  if (h.v_num_grad_steps < 1) bad('v_num_grad_steps must be >= 1');
  if (!(h.clamp_norm_factor > 0)) bad('clamp_norm_factor must be > 0');
  for (const [len, n] of h.context_template_length_params as [number, number][]) {
    if (!(len > 0) || !(n >= 0)) bad(`context_template_length_params entry [${len}, ${n}] is invalid`);
  }
  for (const k of ['rewrite_module_tmp', 'layer_module_tmp', 'mlp_module_tmp'] as const)
    if (!h[k].includes('{}')) bad(`${k} "${h[k]}" has no {}`);
  return h;
}

/**
 * Parse a ROME YAML/JSON object. The R-ROME flags are accepted (so presets round-trip) and
 * default to ROME's original mixed key/value computation.
 */
export function parseRomeHParams(raw: unknown, source: string): RomeHParams {
  const flags: Schema = {
    enable_random_prefix_keys: { type: 'bool', default: false },
    enable_prompt_keys: { type: 'bool', default: false },
    original_implementation: { type: 'bool', default: true },
  };
  return check(parseWithSchema<RomeHParams>(raw, { ...ROME_SCHEMA, ...flags }, source, 'ROME'), source);
}

/** Parse an R-ROME object: the ROME fields plus the three key flags (§3). */
export function parseRRomeHParams(raw: unknown, source: string): RomeHParams {
  return check(parseWithSchema<RomeHParams>(raw, { ...ROME_SCHEMA, ...R_ROME_FLAGS }, source, 'R-ROME'), source);
}

function preset(fam: Family, over: Partial<RomeHParams> & Pick<RomeHParams, 'layers' | 'v_loss_layer'>): RomeHParams {
  return {
    fact_token: 'subject_last',
    v_num_grad_steps: 20,
    v_lr: 0.5,
    v_weight_decay: 0.5,
    clamp_norm_factor: 4,
    kl_factor: 0.0625,
    mom2_adjustment: false,
    context_template_length_params: [
      [5, 10],
      [10, 10],
    ],
    ...moduleTemplates(fam),
    mom2_dataset: 'wikipedia',
    mom2_n_samples: 100000,
    mom2_dtype: 'float32',
    enable_random_prefix_keys: false,
    enable_prompt_keys: false,
    original_implementation: true,
    subjectIndexRule: 'easyedit',
    templateRecipe: 'easyedit',
    templateSeed: 0,
    legacyTargetSpace: false,
    ...over,
  };
}

const ORIGINAL = { mom2_adjustment: true, subjectIndexRule: 'original', templateRecipe: 'original' } as const;

/** The goldens' settings (original kmeng01 code, mom2_adjustment false = the `nocov` case). */
function tiny(fam: Family, layer: number, nLayers: number): RomeHParams {
  return preset(fam, {
    layers: [layer],
    v_loss_layer: nLayers - 1,
    v_num_grad_steps: 5,
    mom2_dataset: 'wikitext',
    mom2_n_samples: 2000,
    subjectIndexRule: 'original',
    templateRecipe: 'original',
  });
}

/** ROME presets by model key; '/original' keys are the kmeng01 settings where they differ. */
export const ROME_PRESETS: Record<string, RomeHParams> = {
  'gpt2-xl': preset(GPT2, { layers: [17], v_loss_layer: 47 }),
  'gpt2-xl/original': preset(GPT2, { layers: [17], v_loss_layer: 47, ...ORIGINAL }),
  'gpt-j-6b': preset(GPTJ, { layers: [5], v_loss_layer: 27 }),
  'gpt-j-6b/original': preset(GPTJ, { layers: [5], v_loss_layer: 27, ...ORIGINAL }),
  'llama-2-7b': preset(LLAMA, { layers: [5], v_loss_layer: 31, v_num_grad_steps: 25, v_weight_decay: 1e-3 }),
  'tiny-gpt2': tiny(GPT2, 1, 4),
  'tiny-llama': tiny(LLAMA, 1, 4),
  stories260K: tiny(LLAMA, 2, 5),
};

/** R-ROME presets: the ROME ones with random-prefix keys. */
export const R_ROME_PRESETS: Record<string, RomeHParams> = Object.fromEntries(
  Object.entries(ROME_PRESETS).map(([k, h]) => [
    k,
    { ...h, enable_random_prefix_keys: true, enable_prompt_keys: false, original_implementation: false },
  ]),
);
