/**
 * EMMET (Gupta et al. 2024, "A Unified Framework for Model Editing"): batch editing under
 * equality constraints ΔW K = R, relaxed by λ_e. MEMIT's pipeline with EMMET's closed form per
 * layer (./solve.ts; equations and quirks in ./README.md).
 */
import type { CausalLM } from '../../models/types.js';
import type { EditContext, EditMethod, EditRequest, EditResult } from '../types.js';
import { applyMemitFamily } from '../memit/index.js';
import { EMMET_PRESETS, parseEmmetHParams, type EmmetHParams } from './hparams.js';
import { emmetSolve } from './solve.js';

export { EMMET_PRESETS, parseEmmetHParams, type EmmetHParams } from './hparams.js';
export { emmetSolve, pinv, type EmmetSolveOptions } from './solve.js';

function applyEmmet(model: CausalLM, requests: EditRequest[], hp: EmmetHParams, ctx: EditContext): EditResult {
  const single = requests.length === 1 && hp.lambda_on_single_edit === 'batch_only';
  const solve = emmetSolve({
    weight: hp.mom2_update_weight,
    lambda: single ? 0 : hp.emmet_lambda,
    normLambda: hp.update_norm_lambda,
    explicitInverse: hp.explicit_inverse,
    ...(ctx.log ? { log: ctx.log } : {}),
  });
  return applyMemitFamily('EMMET', model, requests, hp, ctx, { solve });
}

/**
 * @example const res = emmet.apply(model, requests, emmet.presets['gpt2-xl']!, { tokenizer, stats });
 */
export const emmet: EditMethod<EmmetHParams> = {
  name: 'EMMET',
  batchable: true,
  parseHParams: parseEmmetHParams,
  presets: EMMET_PRESETS,
  apply: applyEmmet,
};
