/**
 * One KN edit end to end (the reference `apply_kn_to_model`): attribution on the prompt (and
 * its rephrasings when refining), neuron selection, the value-slot update through a
 * WeightEditor, and the before/after probe the reference code prints.
 */
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { WeightEditor } from '../apply.js';
import type { EditContext, EditRequest, EditResult, RequestDiagnostics } from '../types.js';
import { knScores, type PromptScores } from './attribution.js';
import type { KNHParams } from './hparams.js';
import { knLayerNames, knModules } from './modules.js';
import { coarseNeurons, refineNeurons, type CoarseNeurons, type Neuron } from './selection.js';
import { greedyProbe, layerDelta, slotTokens, slotVector, type Probe, type WeightedTokens } from './update.js';

/** EasyEdit's stand-in for a missing ground truth: GPT-2's EOS, so lmedit uses the tokenizer's EOS token. */
export const PLACEHOLDER_TRUTH = '<|endoftext|>';

export interface KNRun {
  /** the attribution prompt(s): the request prompt first, then rephrasings when refining */
  prompts: string[];
  truthIds: number[];
  targetIds: number[];
  /** per prompt: scores and coarse neurons */
  perPrompt: { scores: PromptScores; coarse: CoarseNeurons }[];
  neurons: Neuron[];
  /** the embeddings written into every selected slot, with their factors */
  slot: WeightedTokens;
  before: Probe;
  after: Probe;
  result: EditResult;
}

/** The request prompt with `{}` filled by the subject when it is still a template. */
export function knPrompt(r: EditRequest): string {
  return r.prompt.includes('{}') && r.subject ? r.prompt.replace('{}', r.subject) : r.prompt;
}

/** Answer ids whose neurons are attributed: plain `encode(ground_truth)` (no space added; LLaMA keeps BOS). */
export function truthIdsFor(model: CausalLM, tok: Tokenizer, r: EditRequest, hp: KNHParams, prompt: string): number[] {
  const where = `KN request${r.case_id !== undefined ? ` ${r.case_id}` : ''}`;
  let ids: number[];
  if (r.ground_truth !== undefined) {
    ids = tok.encode(r.ground_truth);
    if (ids.length === 0) throw new Error(`${where}: ground_truth "${r.ground_truth}" encodes to no tokens`);
    return ids;
  }
  switch (hp.kn_missing_truth) {
    case 'error':
      throw new Error(
        `${where}: KN attributes the ground-truth answer but the request has no ground_truth (set kn_missing_truth to placeholder or prediction)`,
      );
    case 'prediction':
      // one greedy step; the scored token (0) is irrelevant, only the argmax is used
      return [greedyProbe(model, tok, prompt, [0]).argmaxTokens[0]!];
    case 'placeholder':
      // EasyEdit writes '<|endoftext|>', GPT-2's EOS. Other tokenizers split that string into many
      // pieces (stories260K: 13), each attributed and edited, so the stand-in is the tokenizer's EOS.
      if (tok.eosId !== null) return [tok.eosId];
      throw new Error(
        `${where}: the request has no ground_truth and the tokenizer has no EOS token to stand in for it (EasyEdit's ${PLACEHOLDER_TRUTH}); give ground_truth`,
      );
  }
}

/**
 * Run KN on one request; the ΔW go through a WeightEditor (RECT via ctx.transformDelta).
 * @example const run = executeKN(model, tok, request, kn.presets['gpt2-xl']!, { tokenizer: tok });
 */
export function executeKN(method: string, model: CausalLM, request: EditRequest, hp: KNHParams, ctx: EditContext): KNRun {
  const tok = ctx.tokenizer;
  const t0 = performance.now();
  const mods = knModules(model);
  const prompt = knPrompt(request);
  const truthIds = truthIdsFor(model, tok, request, hp, prompt);
  const targetIds = tok.encode(request.target_new);
  if (targetIds.length === 0) throw new Error(`KN: target_new "${request.target_new}" encodes to no tokens`);
  const extendPrompt = hp.kn_extend_prompt === 'always' || (hp.kn_extend_prompt === 'reference' && model.config.arch === 'llama');

  // step 1 + 2: scores and coarse neurons per prompt, then the refinement
  const prompts = hp.refine ? [prompt, ...(request.rephrase_prompts ?? [])] : [prompt];
  const perPrompt = prompts.map((p, k) => {
    ctx.log?.(`KN: attribution for prompt ${k + 1}/${prompts.length}`);
    const scores = knScores(model, tok, p, truthIds, {
      steps: hp.steps,
      batchSize: hp.batch_size,
      extendPrompt,
      ...(ctx.log ? { log: ctx.log } : {}),
    });
    return { scores, coarse: coarseNeurons(scores.scores, scores.width, hp.adaptive_threshold) };
  });
  const neurons = refineNeurons(
    perPrompt.map((p) => p.coarse.neurons),
    hp.p,
    hp.refine,
  );
  const tAttr = performance.now();

  // step 3: one dense ΔW per layer with selected neurons
  const before = greedyProbe(model, tok, prompt, targetIds);
  const old = hp.kn_old_tokens === 'first' ? [before.argmaxTokens[0]!] : before.argmaxTokens;
  const slot = slotTokens(old, targetIds, hp);
  const v = slotVector(model, mods, slot);
  const byLayer = new Map<number, number[]>();
  for (const [l, i] of neurons) byLayer.set(l, [...(byLayer.get(l) ?? []), i]);
  using editor = new WeightEditor(model, ctx.transformDelta); // undone unless the result is returned
  for (const [l, indices] of [...byLayer].sort((a, b) => a[0] - b[0])) {
    using dW = layerDelta(model, mods, l, indices, v);
    editor.add(knLayerNames(mods, l).value, dW);
  }
  const after = greedyProbe(model, tok, prompt, targetIds);
  const tEdit = performance.now();

  const first = perPrompt[0]!.coarse;
  const diag: RequestDiagnostics = {
    losses: [],
    scalars: {
      neurons: neurons.length,
      coarse_neurons: perPrompt.reduce((s, p) => s + p.coarse.neurons.length, 0),
      prompts: prompts.length,
      layers_edited: byLayer.size,
      threshold: first.threshold,
      max_score: first.maxScore,
      target_prob_before: before.targetProb,
      target_prob_after: after.targetProb,
      argmax_prob_before: before.argmaxProb,
      argmax_prob_after: after.argmaxProb,
      old_token: old[0]!,
    },
    ...(request.case_id !== undefined ? { case_id: request.case_id } : {}),
  };
  const timings = { attribution: (tAttr - t0) / 1000, update: (tEdit - tAttr) / 1000, total: (tEdit - t0) / 1000 };
  const result = editor.result(method, [diag], timings, ctx.apply ?? true);
  return { prompts, truthIds, targetIds, perPrompt, neurons, slot, before, after, result };
}
