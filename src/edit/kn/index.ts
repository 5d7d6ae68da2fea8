/**
 * KN, knowledge neurons (Dai et al. 2022; the kmeng01/rome and EasyEdit code, README.md, "The method"):
 * one request per call, every ΔW through a WeightEditor.
 */
import { validateRequest } from '../request.js';
import type { EditMethod } from '../types.js';
import { KN_PRESETS, parseKNHParams, validateKNHParams, type KNHParams } from './hparams.js';
import { executeKN } from './kn-main.js';

/**
 * KN as an EditMethod. Diagnostics per request (`scalars`): neurons, coarse_neurons, threshold,
 * max_score, target_prob_before/after, argmax_prob_before/after, old_token, layers_edited.
 * @example
 * const res = kn.apply(model, [{ prompt: 'LeBron James plays the sport of', subject: 'LeBron James',
 *   target_new: ' ice hockey', ground_truth: ' basketball' }], kn.presets['gpt2-xl']!, { tokenizer });
 * res.restore(); // undo, bit for bit
 */
export const kn: EditMethod<KNHParams> = {
  name: 'KN',
  batchable: false,
  parseHParams: parseKNHParams,
  presets: KN_PRESETS,
  apply(model, requests, hp, ctx) {
    validateKNHParams(hp);
    if (requests.length !== 1) {
      throw new Error(`KN edits one request per call (got ${requests.length}); run several requests sequentially`);
    }
    const request = requests[0]!;
    validateRequest(request, `KN request ${request.case_id ?? 0}`, { needsSubject: false });
    return executeKN('KN', model, request, hp, ctx).result;
  },
};

export {
  KN_PRESETS,
  KN_SCHEMA,
  parseKNHParams,
  validateKNHParams,
  type KNHParams,
  type KNOldTokens,
  type KNExtendPrompt,
  type KNMissingTruth,
} from './hparams.js';
export { executeKN, knPrompt, truthIdsFor, PLACEHOLDER_TRUTH, type KNRun } from './kn-main.js';
export {
  knScores,
  layerAttribution,
  patchedProbability,
  runBaseline,
  disposeBaseline,
  linspace32,
  type Baseline,
  type PromptScores,
} from './attribution.js';
export { coarseNeurons, refineNeurons, type Neuron, type CoarseNeurons } from './selection.js';
export { greedyProbe, slotTokens, slotVector, layerDelta, type Probe, type WeightedTokens } from './update.js';
export { knModules, knLayerNames, type KNModules } from './modules.js';
