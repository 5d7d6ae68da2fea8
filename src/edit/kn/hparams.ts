/**
 * KN hyperparameters: the EasyEdit/kmeng01 KN fields (methods.md §11), lmedit's switches for
 * the reference quirks (§7, quirk 14), and the presets of §10 plus the tiny models.
 */
import { parseWithSchema, type Schema } from '../hparams.js';

/** Which greedy prediction is subtracted from each value slot (methods.md §7 step 3). */
export type KNOldTokens = 'first' | 'continuation';
/** Whether attribution re-tokenises the prompt extended by the argmax token between answer tokens. */
export type KNExtendPrompt = 'reference' | 'always' | 'never';
/** What stands in for a missing `ground_truth` (the answer whose neurons are attributed). */
export type KNMissingTruth = 'placeholder' | 'prediction' | 'error';

export interface KNHParams {
  /** present in every KN file, unused by the reference code */
  lr_scale: number;
  /** present in every KN file, unused by the reference code */
  n_toks: number;
  /** keep only neurons shared by more than `p` × #prompts coarse sets (prompt + rephrase_prompts) */
  refine: boolean;
  /** integration points m: α = linspace(0, 1, m), both ends included */
  steps: number;
  /** copies of the prompt per forward pass; `steps` must be a multiple of it */
  batch_size: number;
  /** coarse neurons: score > adaptive_threshold · max(score) */
  adaptive_threshold: number;
  /** sharing fraction of the refinement, in [0, 1) */
  p: number;
  /**
   * 'first' (kmeng01/rome, the golden): subtract 2 × the embedding of the argmax token at the
   * last prompt position. 'continuation' (later EasyEdit): the greedy continuation of
   * |encode(target_new)| tokens, 2 × for one token, each once for several.
   */
  knOldTokens: KNOldTokens;
  /** add 2 × the target embedding when the target is one token (the paper's ±2·e; the code adds it once) */
  knSymmetric: boolean;
  /**
   * 'reference': as the reference code, LLaMA extends the prompt by the decoded argmax token before
   * scoring the next answer token, GPT-2 / GPT-J score every answer token at the bare prompt.
   */
  knExtendPrompt: KNExtendPrompt;
  /** 'placeholder' scores `<|endoftext|>` as EasyEdit does (§11); 'prediction' the model's argmax token */
  knMissingTruth: KNMissingTruth;
}

export const KN_SCHEMA: Schema = {
  lr_scale: { type: 'float', default: 1.0, doc: 'unused by the reference code' },
  n_toks: { type: 'int', default: 10, doc: 'unused by the reference code' },
  refine: { type: 'bool', default: false, doc: 'refine the coarse neurons over prompt + rephrase_prompts' },
  steps: { type: 'int', doc: 'integrated-gradient points (both ends of [0, 1] included)' },
  batch_size: { type: 'int', doc: 'prompt copies per forward pass; divides steps' },
  adaptive_threshold: { type: 'float', doc: 'fraction of the maximum score a neuron must exceed' },
  p: { type: 'float', default: 0.4, doc: 'refinement sharing fraction in [0, 1)' },
  knOldTokens: { type: 'string', default: 'first', doc: 'first (kmeng01, golden) | continuation (later EasyEdit)' },
  knSymmetric: { type: 'bool', default: false, doc: 'add 2·e for a single-token target' },
  knExtendPrompt: { type: 'string', default: 'reference', doc: 'reference | always | never' },
  knMissingTruth: { type: 'string', default: 'placeholder', doc: 'placeholder | prediction | error' },
};

/**
 * Parse a KN YAML/JSON object (EasyEdit or kmeng01 field names).
 * @example const hp = parseKNHParams(readHParamsFile('hparams/KN/gpt2-xl.yaml'), 'gpt2-xl.yaml');
 */
export function parseKNHParams(raw: unknown, source: string): KNHParams {
  const hp = parseWithSchema<KNHParams>(raw, KN_SCHEMA, source, 'KN');
  validateKNHParams(hp, source);
  return hp;
}

const oneOf = <V extends string>(v: string, allowed: readonly V[]): v is V => (allowed as readonly string[]).includes(v);

/** Range checks shared by parsed files and hand-built objects. */
export function validateKNHParams(hp: KNHParams, source = 'KN hparams'): void {
  const bad = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (!Number.isInteger(hp.steps) || hp.steps < 1) bad(`"steps" must be a positive integer, got ${hp.steps}`);
  if (!Number.isInteger(hp.batch_size) || hp.batch_size < 1) bad(`"batch_size" must be a positive integer, got ${hp.batch_size}`);
  if (hp.steps % hp.batch_size !== 0) {
    bad(`"steps" (${hp.steps}) must be divisible by "batch_size" (${hp.batch_size}): the integration points are split into equal chunks`);
  }
  if (!Number.isFinite(hp.adaptive_threshold)) bad(`"adaptive_threshold" must be a number, got ${hp.adaptive_threshold}`);
  if (!(hp.p >= 0 && hp.p < 1)) bad(`"p" must be in [0, 1), got ${hp.p}`);
  if (!oneOf(hp.knOldTokens, ['first', 'continuation'] as const)) bad(`"knOldTokens" must be first or continuation, got "${hp.knOldTokens}"`);
  if (!oneOf(hp.knExtendPrompt, ['reference', 'always', 'never'] as const)) {
    bad(`"knExtendPrompt" must be reference, always or never, got "${hp.knExtendPrompt}"`);
  }
  if (!oneOf(hp.knMissingTruth, ['placeholder', 'prediction', 'error'] as const)) {
    bad(`"knMissingTruth" must be placeholder, prediction or error, got "${hp.knMissingTruth}"`);
  }
}

const COMMON = {
  lr_scale: 1.0,
  n_toks: 10,
  refine: false,
  p: 0.4,
  knOldTokens: 'first' as KNOldTokens,
  knSymmetric: false,
  knExtendPrompt: 'reference' as KNExtendPrompt,
  knMissingTruth: 'placeholder' as KNMissingTruth,
};

/** methods.md §10 (the EasyEdit and kmeng01 KN files agree) and the tiny models (golden: kn/tiny-gpt2). */
export const KN_PRESETS: Record<string, KNHParams> = {
  'gpt2-xl': { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.2 },
  'gpt-j-6b': { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.1 },
  // one integration point (α = 0 only) to fit memory, as in EasyEdit's YAML
  'llama-2-7b': { ...COMMON, steps: 1, batch_size: 1, adaptive_threshold: 0.2 },
  'tiny-gpt2': { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.2 },
  'tiny-llama': { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.2 },
  stories260K: { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.2 },
};
