/**
 * KN hyperparameters: the EasyEdit/kmeng01 KN fields (../shared/README.md, "EasyEdit interface"),
 * lmedit's switches for the reference quirks (README.md; quirk 14 of docs/quirks.md), and the
 * presets (README.md, "Presets") plus the tiny models.
 */
import { worldPresets } from '../shared/world-presets.js';
import { checkChoices, parseWithSchema, type HParamsOf, type Schema } from '../hparams.js';

export const KN_SCHEMA = {
  lr_scale: { type: 'float', default: 1.0, doc: 'present in every KN file, unused by the reference code' },
  n_toks: { type: 'int', default: 10, doc: 'present in every KN file, unused by the reference code' },
  refine: { type: 'bool', default: false, doc: 'keep neurons shared by > p × #prompts coarse sets (prompt + rephrase_prompts)' },
  steps: { type: 'int', doc: 'integration points m: α = linspace(0, 1, m), both ends included' },
  batch_size: { type: 'int', doc: 'copies of the prompt per forward pass; divides steps' },
  adaptive_threshold: { type: 'float', doc: 'coarse neurons: score > adaptive_threshold · max(score)' },
  p: { type: 'float', default: 0.4, doc: 'sharing fraction of the refinement, in [0, 1)' },
  // ---- lmedit additions (the reference quirks: README.md, quirk 14 of docs/quirks.md) ----
  /**
   * Which greedy prediction is subtracted from each value slot (README.md, "The method", step 3). 'first' (kmeng01/rome,
   * the golden): 2 × the embedding of the argmax token at the last prompt position. 'continuation'
   * (later EasyEdit): the greedy continuation of |encode(target_new)| tokens, 2 × for one token,
   * each once for several.
   */
  kn_old_tokens: { type: 'string', oneOf: ['first', 'continuation'], default: 'first' },
  kn_symmetric: { type: 'bool', default: false, doc: "add 2·e for a one-token target (the paper's ±2·e; the code: 1·e)" },
  /**
   * Whether attribution re-tokenises the prompt extended by the argmax token between answer
   * tokens. 'reference': as the reference code, LLaMA extends the prompt, GPT-2 / GPT-J score
   * every answer token at the bare prompt.
   */
  kn_extend_prompt: { type: 'string', oneOf: ['reference', 'always', 'never'], default: 'reference' },
  /**
   * What stands in for a missing ground_truth (the answer whose neurons are attributed):
   * 'placeholder' scores the tokenizer's EOS (EasyEdit's <|endoftext|>), 'prediction' the model's argmax token.
   */
  kn_missing_truth: { type: 'string', oneOf: ['placeholder', 'prediction', 'error'], default: 'placeholder' },
} as const satisfies Schema;

export type KNHParams = HParamsOf<typeof KN_SCHEMA>;
export type KNOldTokens = KNHParams['kn_old_tokens'];
export type KNExtendPrompt = KNHParams['kn_extend_prompt'];
export type KNMissingTruth = KNHParams['kn_missing_truth'];

/**
 * Parse a KN YAML/JSON object (EasyEdit or kmeng01 field names).
 * @example const hp = parseKNHParams(readHParamsFile('hparams/KN/gpt2-xl.yaml'), 'gpt2-xl.yaml');
 */
export function parseKNHParams(raw: unknown, source: string): KNHParams {
  const hp = parseWithSchema(raw, KN_SCHEMA, source, 'KN');
  validateKNHParams(hp, source);
  return hp;
}

/** Range checks shared by parsed files and hand-built objects. */
export function validateKNHParams(hp: KNHParams, source = 'KN hparams'): void {
  const bad = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (!Number.isInteger(hp.steps) || hp.steps < 1) bad(`"steps" must be a positive integer, got ${hp.steps}`);
  if (!Number.isInteger(hp.batch_size) || hp.batch_size < 1) bad(`"batch_size" must be a positive integer, got ${hp.batch_size}`);
  if (hp.steps % hp.batch_size !== 0) {
    bad(
      `"steps" (${hp.steps}) must be divisible by "batch_size" (${hp.batch_size}): the integration points are split into equal chunks`,
    );
  }
  if (!Number.isFinite(hp.adaptive_threshold)) bad(`"adaptive_threshold" must be a number, got ${hp.adaptive_threshold}`);
  if (!(hp.p >= 0 && hp.p < 1)) bad(`"p" must be in [0, 1), got ${hp.p}`);
  checkChoices(hp, KN_SCHEMA, source);
}

const COMMON = {
  lr_scale: 1.0,
  n_toks: 10,
  refine: false,
  p: 0.4,
  kn_old_tokens: 'first' as KNOldTokens,
  kn_symmetric: false,
  kn_extend_prompt: 'reference' as KNExtendPrompt,
  kn_missing_truth: 'placeholder' as KNMissingTruth,
};

/** README.md, "Presets" (the EasyEdit and kmeng01 KN files agree) and the tiny models (golden: kn/tiny-gpt2). */
export const KN_PRESETS: Record<string, KNHParams> = {
  'gpt2-xl': { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.2 },
  'gpt-j-6b': { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.1 },
  // one integration point (α = 0 only) to fit memory, as in EasyEdit's YAML
  'llama-2-7b': { ...COMMON, steps: 1, batch_size: 1, adaptive_threshold: 0.2 },
  'tiny-gpt2': { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.2 },
  'tiny-llama': { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.2 },
  stories260K: { ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.2 },
  ...worldPresets(() => ({ ...COMMON, steps: 20, batch_size: 20, adaptive_threshold: 0.2 })),
};
