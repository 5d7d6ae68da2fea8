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
import { optimizeDeltas, vPrompts } from '../shared/v-optimization.js';
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

/** Requests whose z are optimised in one batch (bounds the activations kept for backward). */
export const Z_BATCH = 16;

/**
 * The target residuals z of the requests at block L, over the flattened context templates;
 * up to Z_BATCH requests share each forward/backward (each keeps its own δ, Adam and stop).
 * @example const [{ z }] = computeZs(model, tok, [parts], [targetIds], ['{}', 'The sky. {}'], 17, hp);
 */
export function computeZs(
  model: CausalLM,
  tok: Tokenizer,
  prompts: readonly SubjectPrompt[],
  targetIds: readonly (readonly number[])[],
  templates: readonly string[],
  layerL: number,
  hp: MemitHParams,
): MemitZ[] {
  const out: MemitZ[] = [];
  for (let s = 0; s < prompts.length; s += Z_BATCH) {
    const chunk = prompts.slice(s, s + Z_BATCH).map((prompt, k) => {
      const ids = targetIds[s + k]!;
      return { ids, ...vPrompts(tok, prompt, ids, templates, hp) };
    });
    const results = optimizeDeltas(
      model,
      chunk.map(({ ids, rewriting, kl }) => ({
        rewriting,
        kl,
        targetIds: ids,
        site: 'block' as const,
        layer: layerL,
        lossLayer: hp.v_loss_layer,
        modules: { layer: hp.layer_module_tmp, mlp: hp.mlp_module_tmp, lnF: hp.ln_f_module, lmHead: hp.lm_head_module },
      })),
      hp,
    );
    results.forEach((r, k) => {
      const z = T.keep(T.noGrad(() => T.add(r.h0, r.delta)));
      out.push({ z, delta: r.delta, h0: r.h0, steps: r.steps, rewriting: chunk[k]!.rewriting, kl: chunk[k]!.kl });
    });
  }
  return out;
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
  return computeZs(model, tok, [prompt], [targetIds], templates, layerL, hp)[0]!;
}
