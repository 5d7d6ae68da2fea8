/**
 * MEMIT's first step (./README.md): z_i = h_i^L + δ_i, with δ added to the block output of
 * L = max(layers) at the subject token and the NLL read through ln_f and the LM head at
 * v_loss_layer — the loss of ROME's v* (../shared/v-optimization.ts).
 *
 * When L is the last block, δ reaches the logits only at the position it is added at: a
 * request whose target positions all come after its subject gets no NLL gradient, and the KL
 * and weight decay terms have zero gradient at δ = 0: δ stays 0 and z = h. (kmeng01/memit's KL
 * gradient there is float noise, p − p·Σp, which Adam's normalised step can turn into a move;
 * lmedit drops that term, see klDivergence in ../shared/v-optimization.ts.)
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { LookupRow } from '../shared/keys.js';
import type { SubjectPrompt } from '../shared/subject-index.js';
import { optimizeDeltas, vPrompts } from '../shared/v-optimization.js';
import type { MemitHParams } from './hparams.js';

/** One request's z; owns its tensors. */
export interface MemitZ extends Disposable {
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
  const site = { site: 'block', layer: layerL, lossLayer: Math.max(hp.v_loss_layer, layerL) } as const;
  const out: MemitZ[] = [];
  try {
    for (let s = 0; s < prompts.length; s += Z_BATCH) {
      const chunk = prompts.slice(s, s + Z_BATCH).map((prompt, k) => {
        const ids = targetIds[s + k]!;
        return { targetIds: ids, ...vPrompts(tok, prompt, ids, templates, hp) };
      });
      optimizeDeltas(model, chunk, site, hp).forEach(({ delta, h0, steps }, k) => {
        const z = T.keep(T.noGrad(() => T.add(h0, delta)));
        const { rewriting, kl } = chunk[k]!;
        out.push(T.owning({ z, delta, h0, steps, rewriting, kl }, [z, delta, h0]));
      });
    }
    return out;
  } catch (e) {
    out.forEach((z) => z[Symbol.dispose]());
    throw e;
  }
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
