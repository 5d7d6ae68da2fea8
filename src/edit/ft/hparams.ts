/**
 * FT-L / FT-M hyperparameters: the EasyEdit FT YAML fields (../shared/README.md, "EasyEdit interface"),
 * lmedit's two legacy flags, and the presets of README.md, "Presets", plus the tiny golden configurations.
 */
import { worldPresets } from '../shared/world-presets.js';
import { parseWithSchema, type HParamsOf, type Schema } from '../hparams.js';
import { GPT2_MODULES, GPTJ_MODULES, LLAMA_MODULES } from '../../models/index.js';
import { moduleTemplates } from '../shared/modules.js';

const tmpl = (doc: string) => ({ type: 'string' as const, doc });

export const FT_SCHEMA = {
  layers: { type: 'int[]', doc: 'layers whose rewrite_module_tmp parameters are trained' },
  num_steps: { type: 'int', doc: 'epochs over the requests' },
  lr: { type: 'float', doc: 'Adam learning rate' },
  weight_decay: { type: 'float', doc: "Adam's L2 weight decay (torch semantics: added to the gradient)" },
  kl_factor: { type: 'float', default: 0, doc: 'present in every FT YAML, unused by the reference code' },
  norm_constraint: { type: 'float|false', doc: 'L∞ bound on |W − W_orig|, or false for none' },
  objective_optimization: {
    type: 'string',
    oneOf: ['prompt_last', 'target_new'],
    doc: "prompt_last = FT-L (ROME's constrained fine-tuning), target_new = FT-M (EasyEdit)",
  },
  rewrite_module_tmp: tmpl('trained parameters: every name CONTAINING this (formatted, {} = layer)'),
  layer_module_tmp: tmpl('block module'),
  mlp_module_tmp: tmpl('MLP module'),
  attn_module_tmp: tmpl('attention module'),
  ln_f_module: tmpl('final norm'),
  lm_head_module: tmpl('LM head'),
  // kmeng01/rome's FTHyperParams default
  batch_size: { type: 'int', default: 128, doc: 'requests per optimiser step' },
  // ---- lmedit additions ----
  legacy_last_index: {
    type: 'bool',
    default: false,
    doc: 'FT-L: read the logits at attention_mask.sum − 1 of a left-padded batch (EasyEdit, quirk 13)',
  },
  legacy_target_space: { type: 'bool', default: false, doc: "prepend ' ' to every target but ' ' (EasyEdit, quirk 11)" },
} as const satisfies Schema;

export type FTHParams = HParamsOf<typeof FT_SCHEMA>;

/** `prompt_last` = FT-L (ROME's constrained fine-tuning), `target_new` = FT-M (EasyEdit). */
export type FTObjective = FTHParams['objective_optimization'];

/**
 * Parse an FT YAML/JSON object. `objective` fills `objective_optimization` when the file has
 * none (kmeng01 JSON files) and must agree with it when it has one.
 * @example const hp = parseFTHParams(readHParamsFile('hparams/FT/gpt2-xl.yaml'), 'gpt2-xl.yaml', 'prompt_last');
 */
export function parseFTHParams(raw: unknown, source: string, objective: FTObjective): FTHParams {
  const withObjective =
    raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !('objective_optimization' in raw)
      ? { ...(raw as Record<string, unknown>), objective_optimization: objective }
      : raw;
  const hp = parseWithSchema(withObjective, FT_SCHEMA, source, 'FT');
  if (hp.objective_optimization !== objective) {
    const want = objective === 'prompt_last' ? 'FT-L' : 'FT-M';
    throw new Error(`${source}: objective_optimization is "${hp.objective_optimization}" but this is ${want} (${objective})`);
  }
  validateFTHParams(hp, source);
  return hp;
}

/** Range checks shared by parsed files and hand-built objects. */
export function validateFTHParams(hp: FTHParams, source = 'FT hparams'): void {
  const bad = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (hp.layers.length === 0) bad('"layers" is empty');
  if (hp.layers.some((l) => l < 0)) bad(`"layers" has a negative layer (${hp.layers.join(', ')})`);
  if (hp.num_steps < 0) bad(`"num_steps" must be >= 0, got ${hp.num_steps}`);
  if (!(hp.lr >= 0)) bad(`"lr" must be >= 0, got ${hp.lr}`);
  if (!(hp.weight_decay >= 0)) bad(`"weight_decay" must be >= 0, got ${hp.weight_decay}`);
  if (hp.norm_constraint !== false && !(hp.norm_constraint >= 0))
    bad(`"norm_constraint" must be >= 0 or false, got ${hp.norm_constraint}`);
  if (hp.batch_size < 1) bad(`"batch_size" must be >= 1, got ${hp.batch_size}`);
  if (!hp.rewrite_module_tmp.includes('{}')) bad(`"rewrite_module_tmp" "${hp.rewrite_module_tmp}" has no {} for the layer`);
}

// EasyEdit's module templates per family, shared with ROME/MEMIT
const GPT2_TEMPLATES = moduleTemplates(GPT2_MODULES);
const GPTJ_TEMPLATES = moduleTemplates(GPTJ_MODULES);
const LLAMA_TEMPLATES = moduleTemplates(LLAMA_MODULES);

const COMMON = { num_steps: 25, lr: 5e-4, weight_decay: 0, kl_factor: 0, legacy_last_index: false, legacy_target_space: false };

/** Presets shared by FT-L and FT-M, without the objective. */
function presetTable(): Record<string, Omit<FTHParams, 'objective_optimization'>> {
  return {
    // easyedit (README.md, "Presets")
    'gpt2-xl': { ...COMMON, ...GPT2_TEMPLATES, layers: [0], norm_constraint: 5e-4, batch_size: 3 },
    'gpt-j-6b': { ...COMMON, ...GPTJ_TEMPLATES, layers: [21], norm_constraint: false, batch_size: 1 },
    // the LLaMA YAML names the weight itself, so the substring match leaves no bias (there is none anyway)
    'llama-2-7b': {
      ...COMMON,
      ...LLAMA_TEMPLATES,
      rewrite_module_tmp: 'model.layers.{}.mlp.down_proj.weight',
      layers: [21],
      norm_constraint: false,
      batch_size: 1,
    },
    // the goldens in ../shared/reference/ft_*/ (5 epochs, one request)
    'tiny-gpt2': { ...COMMON, ...GPT2_TEMPLATES, num_steps: 5, layers: [0], norm_constraint: 5e-4, batch_size: 128 },
    'tiny-gpt2-unconstr': { ...COMMON, ...GPT2_TEMPLATES, num_steps: 5, layers: [0], norm_constraint: false, batch_size: 128 },
    'tiny-llama': { ...COMMON, ...LLAMA_TEMPLATES, num_steps: 5, layers: [0], norm_constraint: 5e-4, batch_size: 128 },
    'tiny-llama-unconstr': { ...COMMON, ...LLAMA_TEMPLATES, num_steps: 5, layers: [0], norm_constraint: false, batch_size: 128 },
    // stories260K: a middle block's MLP at a learning rate that moves a d64 model (FT-M: NLL 2.20 →
    // 0.04 on eight story facts, 8/8 below 0.5; FT-L's last-token objective: 2/8)
    stories260K: {
      ...COMMON,
      ...LLAMA_TEMPLATES,
      rewrite_module_tmp: 'model.layers.{}.mlp.down_proj.weight',
      lr: 5e-3,
      layers: [2],
      norm_constraint: false,
      batch_size: 1,
    },
    // world models (src/world): the last block's MLP, a learning rate that moves a d128 model
    ...worldPresets((L) => ({
      ...COMMON,
      ...LLAMA_TEMPLATES,
      rewrite_module_tmp: 'model.layers.{}.mlp.down_proj.weight',
      lr: 5e-3,
      layers: [L - 1],
      norm_constraint: false,
      batch_size: 1,
    })),
  };
}

/** kmeng01/rome's FT-L configurations (`original` preset; batch_size is its default 128). */
function originalTable(): Record<string, Omit<FTHParams, 'objective_optimization'>> {
  return {
    'gpt2-xl/original': { ...COMMON, ...GPT2_TEMPLATES, layers: [0], norm_constraint: 5e-4, batch_size: 128 },
    'gpt2-xl/original-unconstrained': { ...COMMON, ...GPT2_TEMPLATES, layers: [1], norm_constraint: false, batch_size: 128 },
    'gpt-j-6b/original': { ...COMMON, ...GPTJ_TEMPLATES, layers: [0], norm_constraint: 5e-5, batch_size: 128 },
    'gpt-j-6b/original-unconstrained': { ...COMMON, ...GPTJ_TEMPLATES, layers: [21], norm_constraint: false, batch_size: 128 },
  };
}

function withObjective(
  table: Record<string, Omit<FTHParams, 'objective_optimization'>>,
  objective: FTObjective,
): Record<string, FTHParams> {
  return Object.fromEntries(
    Object.entries(table).map(([k, v]) => [k, { ...v, layers: [...v.layers], objective_optimization: objective }]),
  );
}

/** FT-L presets: easyedit values, kmeng01 `*-original` variants, tiny golden configs. */
export const FT_L_PRESETS: Record<string, FTHParams> = withObjective({ ...presetTable(), ...originalTable() }, 'prompt_last');

/** FT-M presets: easyedit values (the original repositories have no FT-M) and tiny golden configs. */
export const FT_M_PRESETS: Record<string, FTHParams> = withObjective(presetTable(), 'target_new');
