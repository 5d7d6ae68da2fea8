/**
 * EMMET hyperparameters: MEMIT's fields (the same pipeline) plus `emmet_lambda` (λ_e),
 * `update_norm_lambda` (λ_u), when λ_e applies to a single edit, and the reference's explicit
 * inverses. Presets: EasyEdit YAML (default) and the EMMET authors' JSON ('/original'),
 * ../shared/spec/rivals.md §2.4; tiny and world presets chosen so that λ_e·w equals MEMIT's λ.
 */
import { parseWithSchema, type HParamsOf, type Schema } from '../hparams.js';
import { checkMemitFields, MEMIT_PRESETS, MEMIT_SCHEMA } from '../memit/index.js';
import { WORLD_PRESET_DEPTHS } from '../shared/world-presets.js';

const EMMET_SCHEMA = {
  ...MEMIT_SCHEMA,
  mom2_update_weight: { type: 'float', doc: 'w in C̃ = w·C + λ_u I' },
  emmet_lambda: { type: 'float', default: 0.1, doc: 'λ_e: Tikhonov term on the n×n constraint system (0: exact ΔW K = R)' },
  update_norm_lambda: { type: 'float', default: 0, doc: 'λ_u: ‖ΔW‖_F penalty, added to w·C before inversion' },
  lambda_on_single_edit: {
    type: 'string',
    oneOf: ['always', 'batch_only'],
    default: 'always',
    doc: "λ_e also for one request (EasyEdit) or only for batches (the EMMET authors' code)",
  },
  explicit_inverse: { type: 'bool', default: false, doc: "the reference's explicit fp64 inverses instead of one SPD solve" },
} as const satisfies Schema;

export type EmmetHParams = HParamsOf<typeof EMMET_SCHEMA>;

export function parseEmmetHParams(raw: unknown, source: string): EmmetHParams {
  const h = parseWithSchema(raw, EMMET_SCHEMA, source, 'EMMET');
  checkMemitFields(h, EMMET_SCHEMA, source);
  const bad = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (!(h.emmet_lambda >= 0)) bad('emmet_lambda must be >= 0');
  if (!(h.update_norm_lambda >= 0)) bad('update_norm_lambda must be >= 0');
  return h;
}

type Over = Partial<EmmetHParams>;
const emmet = (base: string, over: Over): EmmetHParams => ({
  ...MEMIT_PRESETS[base]!,
  emmet_lambda: 0.1,
  update_norm_lambda: 0,
  lambda_on_single_edit: 'always',
  explicit_inverse: false,
  ...over,
});
const original: Over = { lambda_on_single_edit: 'batch_only', subject_index_rule: 'easyedit' };

export const EMMET_PRESETS: Record<string, EmmetHParams> = {
  'gpt2-xl': emmet('gpt2-xl', { layers: [17], mom2_update_weight: 10000 }),
  'gpt2-xl/original': emmet('gpt2-xl', { ...original, layers: [17], mom2_update_weight: 1000 }),
  'gpt-j-6b': emmet('gpt-j-6b', { layers: [5], v_num_grad_steps: 25, mom2_update_weight: 100000 }),
  'gpt-j-6b/original': emmet('gpt-j-6b', { ...original, layers: [5], v_num_grad_steps: 25, mom2_update_weight: 1 }),
  'llama-2-7b': emmet('llama-2-7b', { layers: [5], clamp_norm_factor: 4, v_weight_decay: 1e-3, mom2_update_weight: 100000 }),
  'llama-2-7b/original': emmet('llama-2-7b', {
    ...original,
    layers: [5],
    clamp_norm_factor: 4,
    v_weight_decay: 1e-3,
    mom2_update_weight: 1,
  }),
  // the tiny models: λ_e·w = MEMIT's λ (the identity of rivals.md §2.1)
  'tiny-gpt2': emmet('tiny-gpt2', { mom2_update_weight: 150000 }),
  'tiny-llama': emmet('tiny-llama', { mom2_update_weight: 150000 }),
  stories260K: emmet('stories260K', { mom2_update_weight: 1000 }),
  ...Object.fromEntries(WORLD_PRESET_DEPTHS.map((L) => [`world-l${L}`, emmet(`world-l${L}`, { mom2_update_weight: 1000 })])),
};
