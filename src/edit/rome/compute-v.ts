/**
 * ROME step 3 (./README.md, "The method"; ../shared/README.md, "Computing v* and z"): v* = h₀ + δ, with δ added to the MLP output of layer ℓ
 * at the subject token of every rewriting prompt and of the KL prompt "{subject} is a".
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { LookupRow } from '../shared/keys.js';
import type { SubjectPrompt } from '../shared/subject-index.js';
import { optimizeDelta, vPrompts } from '../shared/v-optimization.js';
import type { RomeHParams } from './hparams.js';

/** v* and how it was found; owns its tensors. */
export interface RomeV extends Disposable {
  /** δ [D] */
  delta: Tensor;
  /** h₀ = MLP output at the subject token of rewriting prompt 0, before the edit [D] */
  vInit: Tensor;
  /** v* = h₀ + δ [D] */
  vStar: Tensor;
  /** per forward: [loss, nll, kl, weight decay] */
  steps: [number, number, number, number][];
  /** the optimisation batch: rewriting prompts then the KL prompt */
  rewriting: LookupRow[];
  kl: LookupRow[];
}

/** Run the v* optimisation for one request at layer ℓ. */
export function computeV(
  model: CausalLM,
  tok: Tokenizer,
  prompt: SubjectPrompt,
  targetIds: readonly number[],
  templates: readonly string[],
  layer: number,
  hp: RomeHParams,
): RomeV {
  const { rewriting, kl } = vPrompts(tok, prompt, targetIds, templates, hp);
  // ROME reads the NLL from the model's logits (compute_v.py), whatever v_loss_layer says
  const site = { site: 'mlp', layer, lossLayer: model.arch.numLayers - 1 } as const;
  const r = optimizeDelta(model, { rewriting, kl, targetIds }, site, hp);
  const vStar = T.keep(T.noGrad(() => T.add(r.h0, r.delta)));
  return T.owning({ delta: r.delta, vInit: r.h0, vStar, steps: r.steps, rewriting, kl }, [r.delta, r.h0, vStar]);
}
