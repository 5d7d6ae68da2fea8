/**
 * AlphaEdit hyperparameters: MEMIT's fields (the same z, keys and layers; `mom2_update_weight`
 * is read but unused) plus the null-space threshold τ, the ridge α (`L2`) and the solve's
 * precision. Presets: the AlphaEdit repository's JSON and EasyEdit's YAML (rivals.md §1.7;
 * identical but for LLaMA-3's `L2`: 'llama3-8b' = EasyEdit 1, '/original' = AlphaEdit 10); the
 * tiny, stories260K and world presets pick τ from their statistics' spectrum (./README.md).
 */
import { parseWithSchema, type HParamsOf, type Schema } from '../hparams.js';
import { checkMemitFields, MEMIT_PRESETS, MEMIT_SCHEMA } from '../memit/index.js';
import { WORLD_PRESET_DEPTHS } from '../shared/world-presets.js';
import { LLAMA_MODULES } from '../../models/index.js';
import { moduleTemplates } from '../shared/modules.js';

const ALPHAEDIT_SCHEMA = {
  ...MEMIT_SCHEMA,
  mom2_update_weight: { type: 'float', doc: 'read but unused by AlphaEdit (C only builds the projector)' },
  nullspace_threshold: {
    type: 'float',
    default: 2e-2,
    doc: 'τ: eigenvalues of C strictly below it span the protected-free space',
  },
  L2: { type: 'float', default: 10, doc: 'α: ridge term of the projected solve' },
  solve_dtype: { type: 'string', oneOf: ['float64', 'float32'], default: 'float64', doc: "float32: the reference's LU solve" },
  P_loc: {
    type: 'string',
    default: '',
    doc: "EasyEdit's projector file: read, not used (lmedit caches the projector by C's hash)",
  },
} as const satisfies Schema;

export type AlphaEditHParams = HParamsOf<typeof ALPHAEDIT_SCHEMA>;

export function parseAlphaEditHParams(raw: unknown, source: string): AlphaEditHParams {
  const h = parseWithSchema(raw, ALPHAEDIT_SCHEMA, source, 'AlphaEdit');
  checkMemitFields(h, ALPHAEDIT_SCHEMA, source);
  if (!(h.nullspace_threshold > 0)) throw new Error(`${source}: nullspace_threshold must be > 0`);
  if (!(h.L2 > 0)) throw new Error(`${source}: L2 must be > 0`);
  return h;
}

const alpha = (base: string, over: Partial<AlphaEditHParams>): AlphaEditHParams => ({
  ...MEMIT_PRESETS[base]!,
  nullspace_threshold: 2e-2,
  L2: 10,
  solve_dtype: 'float64',
  P_loc: '',
  ...over,
});

const llama3 = (l2: number): AlphaEditHParams =>
  alpha('llama-2-7b', {
    ...moduleTemplates(LLAMA_MODULES),
    layers: [4, 5, 6, 7, 8],
    v_loss_layer: 31,
    v_num_grad_steps: 25,
    v_lr: 0.1,
    v_weight_decay: 0.5,
    clamp_norm_factor: 0.75,
    mom2_update_weight: 15000,
    L2: l2,
  });

export const ALPHAEDIT_PRESETS: Record<string, AlphaEditHParams> = {
  'gpt2-xl': alpha('gpt2-xl', {}),
  'gpt-j-6b': alpha('gpt-j-6b', {}),
  'llama3-8b': llama3(1),
  'llama3-8b/original': llama3(10),
  // small models: τ is absolute, so it follows their key scale (./README.md, "Small models")
  // (τ = 2e-2 leaves 10–40 % of d_k free on these three; the world models' keys are larger: 0.3
  // frees 154 of 352 directions of the default model's layer 0, where 16 of 16 sequential facts
  // (4 batches of 4) hold; 0.1 holds 14, 1e-2 (r = 8) none)
  'tiny-gpt2': alpha('tiny-gpt2', {}),
  'tiny-llama': alpha('tiny-llama', {}),
  stories260K: alpha('stories260K', {}),
  ...Object.fromEntries(WORLD_PRESET_DEPTHS.map((L) => [`world-l${L}`, alpha(`world-l${L}`, { nullspace_threshold: 0.3 })])),
};
