/**
 * Locality (docs/evaluation.md, "Locality"): for s = loc_prompt + " " + loc_answer, the argmax predictions
 * at the answer positions are recorded on the unedited model (pre) and on the edited one
 * (post); locality = the fraction of positions where they agree. The gold answer only fixes
 * the positions. Example: [29, 234, 334] vs [29, 234, 333] gives 0.667.
 */
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { PromptAnswer } from '../../edit/types.js';
import { answerPredictions, encodePair } from './token-accuracy.js';

/** The model's argmax predictions at the answer positions of each probe (batched). */
export function localityPredictions(
  model: CausalLM,
  tok: Tokenizer,
  probes: readonly PromptAnswer[],
  opts: { batchSize?: number } = {},
): number[][] {
  return answerPredictions(
    model,
    probes.map((p) => encodePair(tok, { prompt: p.prompt, answer: p.ground_truth })),
    opts,
  );
}

/** mean_j [post_j = pre_j]; NaN for a probe with no answer positions. */
export function localityAgreement(pre: readonly number[], post: readonly number[]): number {
  if (pre.length !== post.length) throw new Error(`locality: ${pre.length} pre vs ${post.length} post predictions`);
  if (pre.length === 0) return NaN;
  let same = 0;
  pre.forEach((p, j) => {
    if (p === post[j]) same++;
  });
  return same / pre.length;
}
