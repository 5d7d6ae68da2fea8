/**
 * MEND hyperparameters: the EasyEdit MEND YAML fields (../shared/README.md, "EasyEdit interface"; network and
 * training settings in README.md, "Presets"), lmedit's `legacy_mend_labels` flag, and the presets per model.
 */
import { parseWithSchema, type HParamsOf, type Schema } from '../hparams.js';

const f = (doc: string, dflt?: number) => ({ type: 'float' as const, doc, ...(dflt !== undefined ? { default: dflt } : {}) });
const b = (doc: string, dflt: boolean) => ({ type: 'bool' as const, doc, default: dflt });
const i = (doc: string, dflt: number) => ({ type: 'int' as const, doc, default: dflt });

export const MEND_SCHEMA = {
  archive: {
    type: 'string|null',
    default: null,
    doc: 'trained editor: a folder written by `lmedit mend train`, or a safetensors export of an EasyEdit/MEND state_dict',
  },
  model_class: { type: 'string', default: '', doc: 'recorded only' },
  tokenizer_class: { type: 'string', default: '', doc: 'recorded only' },
  tokenizer_name: { type: 'string|null', default: null, doc: 'recorded only' },
  inner_params: { type: 'string[]', doc: 'edited weight matrices (HF names); the order indexes edit_lrs and shape modes' },
  alg: { type: 'string', default: 'MEND' },
  lr: f('Adam lr of the editor network', 1e-6),
  edit_lr: f('initial value of every learned edit learning rate α_p', 1e-4),
  lr_lr: f('Adam lr of the edit learning rates', 1e-4),
  lr_scale: f('extra factor on ΔW at edit time', 1.0),
  seed: i('network init seed and data order', 42),
  debug: b('recorded only', false),
  cedit: f('weight of L_edit (post-edit NLL on the rephrase)', 0.1),
  cloc: f('weight of L_loc (locality KL)', 1.0),
  cbase: f('weight of L_base (train_base only)', 1.0),
  dropout: f('must be 0', 0),
  train_base: b('not supported (the base model stays frozen)', false),
  no_grad_layers: { type: 'any', default: null, doc: 'recorded only' },
  one_sided: b('combine: false only: transform the smaller side', false),
  n_hidden: i('the IDMLP has n_hidden + 1 residual low-rank layers', 1),
  hidden_dim: { type: 'any', default: null, doc: 'unused by IDMLP' },
  init: { type: 'string', default: 'id', doc: 'id (U = 0: the network starts as the identity) | xavier' },
  norm: b('normalise x and δ with running statistics', true),
  combine: b('one network over [x; δ] (true) or one per side', true),
  x_only: b('combine: false only: transform x only', false),
  delta_only: b('combine: false only: transform δ only', false),
  act: { type: 'string', default: 'relu', doc: 'recorded only: every IDMLP layer uses clamp(min = 0)' },
  rank: i('rank r of U V (capped at the input size)', 1920),
  mlp_class: { type: 'string', default: 'IDMLP', doc: 'IDMLP only' },
  shared: b('one network per weight shape, with per-parameter modes', true),
  // ---- training (EditTrainer) ----
  batch_size: i('edits per training iteration', 1),
  max_iters: i('training iterations', 100000),
  max_epochs: { type: 'float|null', default: null, doc: 'stop after this many passes over the training data' },
  log_interval: i('log every n iterations', 1000),
  val_interval: i('validate every n iterations', 1000),
  val_steps: i('validation batches per validation (capped by the validation set)', 500),
  val_batch_size: i('edits per validation batch', 5),
  early_stop_patience: i('iterations without improvement before stopping', 20000),
  early_stop_key: { type: 'string', default: 'loss/total_edit_val' },
  accumulate_bs: i('optimizer step every accumulate_bs iterations (EasyEdit: at iterations 10, 20, ... for 10)', 10),
  opt: { type: 'string', default: 'Adam', doc: 'Adam only' },
  grad_clip: f('max global gradient norm', 100),
  model_save_pt: i("training-state checkpoint every this many iterations (lmedit reuses EasyEdit's field)", 5000),
  eval_only: b('recorded only', true),
  half: b('must be false', false),
  silent: b('recorded only', false),
  save: b('recorded only', false),
  verbose: b('recorded only', true),
  final_eval: b('recorded only', true),
  eval_log_interval: i('recorded only', 1000),
  max_output_length: { type: 'int|null', default: null, doc: 'recorded only' },
  // ---- lmedit addition ----
  legacy_mend_labels: b("EasyEdit's batch labels (pads scored, LLaMA targets with BOS, left padding), quirk 15", false),
} as const satisfies Schema;

export type MendHParams = HParamsOf<typeof MEND_SCHEMA>;

/**
 * Parse an EasyEdit MEND YAML/JSON object (edit or training file).
 * @example const hp = parseMendHParams(readHParamsFile('hparams/MEND/gpt2-xl.yaml'), 'gpt2-xl.yaml');
 */
export function parseMendHParams(raw: unknown, source: string): MendHParams {
  const hp = parseWithSchema(raw, MEND_SCHEMA, source, 'MEND');
  validateMendHParams(hp, source);
  return hp;
}

/** Range and support checks shared by parsed files and hand-built objects. */
export function validateMendHParams(hp: MendHParams, source = 'MEND hparams'): void {
  const bad = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (hp.archive !== null && typeof hp.archive !== 'string')
    bad(`"archive" must be a path or null, got ${JSON.stringify(hp.archive)}`);
  if (hp.alg.toUpperCase() !== 'MEND') bad(`alg is "${hp.alg}" but this is MEND`);
  if (hp.inner_params.length === 0) bad('"inner_params" is empty');
  if (new Set(hp.inner_params).size !== hp.inner_params.length) bad('"inner_params" lists a parameter twice');
  if (hp.mlp_class !== 'IDMLP') bad(`mlp_class "${hp.mlp_class}" is not supported (lmedit implements IDMLP)`);
  if (hp.init !== 'id' && hp.init !== 'xavier') bad(`init must be "id" or "xavier", got "${hp.init}"`);
  if (hp.train_base) bad('train_base: true is not supported (lmedit keeps the base model frozen)');
  if (hp.dropout !== 0) bad(`dropout must be 0 (the reference IDMLP has none), got ${hp.dropout}`);
  if (hp.half) bad('half: true is not supported (the editor runs in float32)');
  if (hp.opt !== 'Adam') bad(`opt "${hp.opt}" is not supported (Adam only)`);
  if (hp.combine && (hp.one_sided || hp.x_only || hp.delta_only))
    bad('combine cannot be used with one_sided / x_only / delta_only (as in MEND)');
  if (hp.rank < 1) bad(`"rank" must be >= 1, got ${hp.rank}`);
  if (hp.n_hidden < 0) bad(`"n_hidden" must be >= 0, got ${hp.n_hidden}`);
  for (const k of [
    'batch_size',
    'val_interval',
    'val_batch_size',
    'accumulate_bs',
    'model_save_pt',
    'log_interval',
    'val_steps',
  ] as const) {
    if (!(hp[k] >= 1)) bad(`"${k}" must be >= 1, got ${hp[k]}`);
  }
  if (hp.max_iters < 0) bad(`"max_iters" must be >= 0, got ${hp.max_iters}`);
  if (hp.max_epochs !== null && !(typeof hp.max_epochs === 'number' && hp.max_epochs > 0))
    bad(`"max_epochs" must be a positive number or null`);
  if (!(hp.grad_clip > 0)) bad(`"grad_clip" must be > 0, got ${hp.grad_clip}`);
  if (!(hp.lr >= 0 && hp.lr_lr >= 0)) bad('"lr" and "lr_lr" must be >= 0');
}

/** The hparams with every default filled in (for building presets and tests). */
export function mendDefaults(inner_params: string[], over: Partial<MendHParams> = {}): MendHParams {
  const base = parseWithSchema({ inner_params }, MEND_SCHEMA, 'MEND defaults');
  return { ...base, ...over, inner_params: [...(over.inner_params ?? inner_params)] };
}

const expand = (layers: number[], tmpl: string, mods: string[]): string[] =>
  layers.flatMap((l) => mods.map((m) => tmpl.replace('{}', String(l)).replace('<m>', m)));

/**
 * Tiny models train fast with a larger network learning rate and a small rank: the settings
 * `test/mend.test.ts` measures (the editor beats the untrained one on held-out rephrases).
 */
const TINY_TRAINING: Partial<MendHParams> = {
  rank: 32,
  lr: 1e-3,
  lr_lr: 1e-3,
  edit_lr: 1e-3,
  accumulate_bs: 5,
  max_iters: 2000,
  val_interval: 100,
  log_interval: 50,
  val_steps: 4,
  val_batch_size: 5,
  early_stop_patience: 600,
  model_save_pt: 100,
};

/**
 * Presets (README.md, "Presets"; `archive` must be set to a trained editor). The paper models
 * edit the last three MLP layers; the GPT-2 XL list keeps EasyEdit's order (c_proj before
 * c_fc), which fixes the order of edit_lrs in its checkpoints.
 */
export const MEND_PRESETS: Record<string, MendHParams> = {
  'gpt2-xl': mendDefaults(expand([45, 46, 47], 'transformer.h.{}.mlp.<m>.weight', ['c_proj', 'c_fc']), {
    model_class: 'GPT2LMHeadModel',
    tokenizer_class: 'GPT2Tokenizer',
  }),
  'gpt-j-6b': mendDefaults(expand([25, 26, 27], 'transformer.h.{}.mlp.<m>.weight', ['fc_in', 'fc_out']), {
    model_class: 'GPTJForCausalLM',
    tokenizer_class: 'AutoTokenizer',
  }),
  'llama-2-7b': mendDefaults(expand([29, 30, 31], 'model.layers.{}.mlp.<m>.weight', ['gate_proj', 'up_proj', 'down_proj']), {
    model_class: 'LlamaForCausalLM',
    tokenizer_class: 'LlamaTokenizer',
    early_stop_key: 'edit/acc_val',
    early_stop_patience: 30000,
  }),
  'tiny-gpt2': mendDefaults(expand([2, 3], 'transformer.h.{}.mlp.<m>.weight', ['c_fc', 'c_proj']), {
    model_class: 'GPT2LMHeadModel',
    ...TINY_TRAINING,
  }),
  'tiny-llama': mendDefaults(expand([2, 3], 'model.layers.{}.mlp.<m>.weight', ['gate_proj', 'up_proj', 'down_proj']), {
    model_class: 'LlamaForCausalLM',
    ...TINY_TRAINING,
  }),
  stories260K: mendDefaults(expand([3, 4], 'model.layers.{}.mlp.<m>.weight', ['gate_proj', 'up_proj', 'down_proj']), {
    model_class: 'LlamaForCausalLM',
    ...TINY_TRAINING,
  }),
};
