/**
 * MEMIT step 1 (methods.md §4): z_i = h_i^L + δ_i, with δ added to the block output of
 * L = max(layers) at the subject token and the NLL read through ln_f and the LM head at
 * v_loss_layer (the same loss as ROME's v*, §1.5).
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { LookupRow } from '../shared/keys.js';
import type { SubjectPrompt } from '../shared/subject-index.js';
import { optimizeDelta, vPrompts } from '../shared/v-optimization.js';
import type { MemitHParams } from './hparams.js';

export interface MemitZ {
  /** z = h + δ [D] */
  z: Tensor;
  /** δ [D] */
  delta: Tensor;
  /** block-L output at the subject token of rewriting prompt 0, before the edit [D] */
  h0: Tensor;
  /** per forward: [loss, nll, kl, weight decay] */
  steps: [number, number, number, number][];
  rewriting: LookupRow[];
  kl: LookupRow[];
}

/**
 * The target residual z for one request at block L, over the flattened context templates.
 * @example const { z } = computeZ(model, tok, parts, targetIds, ['{}', 'The sky. {}'], 17, hp);
 */
export function computeZ(
  model: CausalLM,
  tok: Tokenizer,
  prompt: SubjectPrompt,
  targetIds: readonly number[],
  templates: readonly string[],
  layerL: number,
  hp: MemitHParams,
): MemitZ {
  const { rewriting, kl } = vPrompts(tok, prompt, targetIds, templates, hp);
  const r = optimizeDelta(
    model,
    {
      rewriting,
      kl,
      targetIds,
      site: 'block',
      layer: layerL,
      lossLayer: hp.v_loss_layer,
      modules: { layer: hp.layer_module_tmp, mlp: hp.mlp_module_tmp, lnF: hp.ln_f_module, lmHead: hp.lm_head_module },
    },
    hp,
  );
  const z = T.keep(T.noGrad(() => T.add(r.h0, r.delta)));
  return { z, delta: r.delta, h0: r.h0, steps: r.steps, rewriting, kl };
}
