/**
 * FT-L and FT-M, the fine-tuning baselines (README.md, "The method"): two EditMethod objects over one
 * training loop, differing only in the objective (`prompt_last` vs `target_new`).
 */
import type { EditMethod } from '../types.js';
import { applyFT } from './ft-main.js';
import { FT_L_PRESETS, FT_M_PRESETS, parseFTHParams, validateFTHParams, type FTHParams, type FTObjective } from './hparams.js';

function ftMethod(name: string, objective: FTObjective, presets: Record<string, FTHParams>): EditMethod<FTHParams> {
  return {
    name,
    batchable: true,
    parseHParams: (raw, source) => parseFTHParams(raw, source, objective),
    presets,
    apply(model, requests, hparams, ctx) {
      validateFTHParams(hparams, `${name} hparams`);
      if (hparams.objective_optimization !== objective) {
        throw new Error(
          `${name}: hparams have objective_optimization "${hparams.objective_optimization}", expected "${objective}"`,
        );
      }
      return applyFT(name, model, requests, hparams, ctx);
    },
  };
}

/**
 * FT-L: ROME's constrained fine-tuning, NLL of every target token from the last prompt position.
 * @example const res = ftL.apply(model, [req], ftL.presets['gpt2-xl']!, { tokenizer });
 */
export const ftL: EditMethod<FTHParams> = ftMethod('FT-L', 'prompt_last', FT_L_PRESETS);

/**
 * FT-M: EasyEdit's teacher-forced cross-entropy on prompt + target, masked to the target.
 * @example const res = ftM.apply(model, [req], ftM.presets['llama-2-7b']!, { tokenizer });
 */
export const ftM: EditMethod<FTHParams> = ftMethod('FT-M', 'target_new', FT_M_PRESETS);

export {
  FT_L_PRESETS,
  FT_M_PRESETS,
  FT_SCHEMA,
  parseFTHParams,
  validateFTHParams,
  type FTHParams,
  type FTObjective,
} from './hparams.js';
export {
  applyFT,
  executeFT,
  trainedParamNames,
  clampInPlace,
  targetNll,
  ParamsAdam,
  LOSS_THRESHOLD,
  type FTRun,
} from './ft-main.js';
export { promptLastLoss, targetNewLoss, promptLastBatch, targetNewBatch } from './losses.js';
