/**
 * MEND (Mitchell et al. 2022; README.md, "The method"): a trained editor network turns the fine-tuning
 * gradient of an edit into a low-rank weight update. The EditMethod (batchable; ΔW through
 * WeightEditor) plus the trainer, checkpoints and the EasyEdit state_dict reader.
 */
import type { EditMethod } from '../types.js';
import { applyMend } from './edit-step.js';
import { MEND_PRESETS, parseMendHParams, validateMendHParams, type MendHParams } from './hparams.js';

/**
 * MEND with a trained editor (`archive`); several requests edit in one stacked pass.
 * @example
 * const hp = { ...mend.presets['tiny-gpt2']!, archive: 'runs/mend-tiny' };
 * const res = mend.apply(model, [request], hp, { tokenizer });
 */
export const mend: EditMethod<MendHParams> = {
  name: 'MEND',
  batchable: true,
  parseHParams: (raw, source) => parseMendHParams(raw, source),
  presets: MEND_PRESETS,
  apply(model, requests, hparams, ctx) {
    validateMendHParams(hparams, 'MEND hparams');
    return applyMend(model, requests, hparams, ctx);
  },
};

export { MEND_PRESETS, MEND_SCHEMA, parseMendHParams, validateMendHParams, mendDefaults, type MendHParams } from './hparams.js';
export { IDMLP, type LowRankLayer, type IdmlpInit } from './idmlp.js';
export { RunningStats, NORM_EPS } from './normalizer.js';
export { GradientTransform, type TransformConfig } from './gradient-transform.js';
export { MendEditor, resolveInnerParams, type InnerParam } from './editor.js';
export { captureFactors, type Capture, type CaptureTarget, type Factors } from './gradient-capture.js';
export { applyMend, captureFor, metaLoss, withEditedWeights, type MetaBatch, type MetaTerms } from './edit-step.js';
export {
  editBatch,
  promptTargetBatch,
  legacyPromptTargetBatch,
  targetNll,
  locKl,
  tokenAccuracy,
  rowNll,
  forwardBatch,
  type LabelledBatch,
  type PromptTarget,
} from './inputs.js';
export {
  loadEditor,
  clearEditorCache,
  saveEditor,
  readEditorDir,
  readStateDict,
  writeEditYaml,
  modelIdentity,
  EDITOR_JSON,
  EDITOR_TENSORS,
  EDIT_YAML,
  type EditorJson,
  type TrainingSummary,
  type ModelIdentity,
} from './checkpoint.js';
export {
  trainMend,
  mendTrainRecords,
  type MendTrainRecord,
  type TrainMendOptions,
  type TrainMendResult,
  type TrainProgress,
} from './trainer.js';
export { NamedAdam, GradAccumulator } from './optimizer.js';
