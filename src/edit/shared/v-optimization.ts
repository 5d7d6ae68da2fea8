/**
 * The δ optimisation shared by ROME (v*: δ at the MLP output of layer ℓ) and MEMIT (z: δ at the
 * block output of L), as kmeng01/rome's compute_v.py writes it (./README.md, "Computing v* and z"):
 *
 *   L(δ) = NLL + KL + weight decay
 *        = mean_p −(1/|t|) Σ_j log P_δ(t_j | p) + kl_factor · KL(P_δ ‖ P_0) + v_weight_decay · ‖δ‖ / ‖h₀‖²
 *
 * minimised with torch's Adam; a request stops once its loss is below 5e-2, takes no step on
 * the last iteration, and after each step δ is projected onto ‖δ‖ ≤ clamp_norm_factor · ‖h₀‖.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { Adam } from './adam.js';
import { inContext, lookupRows, type LookupRow } from './keys.js';
import { PromptBatches, type DeltaPrompts, type DeltaSite } from './prompt-batches.js';
import type { FactToken, SubjectIndexRule, SubjectPrompt } from './subject-index.js';

/** The hparams the optimisation reads (EasyEdit names). */
export interface VOptHParams {
  v_num_grad_steps: number;
  v_lr: number;
  v_weight_decay: number;
  clamp_norm_factor: number;
  kl_factor: number;
}

export interface VOptResult {
  /** δ [D] */
  delta: Tensor;
  /** h₀ [D]: the site's output at the lookup token of rewriting prompt 0, δ = 0 */
  h0: Tensor;
  /** per forward pass: [loss, nll, kl, weight decay] */
  steps: [number, number, number, number][];
}

/** The loss below which a request stops (compute_v.py's `if loss < 5e-2: break`). */
const STOP_LOSS = 5e-2;

/**
 * The rewriting prompts `template.format(prompt) + decode(target[:-1])` and the KL prompt, tokenised.
 * @example const { rewriting, kl } = vPrompts(tok, parts, targetIds, ['{}'], hp);
 */
export function vPrompts(
  tok: Tokenizer,
  prompt: SubjectPrompt,
  targetIds: readonly number[],
  templates: readonly string[],
  hp: { fact_token: FactToken; subject_index_rule: SubjectIndexRule },
): { rewriting: LookupRow[]; kl: LookupRow[] } {
  const tail = tok.decode(targetIds.slice(0, -1));
  const rows = (ps: SubjectPrompt[]): LookupRow[] => lookupRows(tok, ps, hp.fact_token, hp.subject_index_rule);
  return {
    rewriting: rows(templates.map((t) => inContext(t, prompt, tail))),
    kl: rows([{ pre: '', subject: prompt.subject, post: ' is a' }]),
  };
}

/**
 * KL(P ‖ P₀) per row from log-probabilities [K, V]. The log-ratio is held constant: its own
 * gradient, p − p·Σp, is zero in exact arithmetic but float noise in practice, and Adam's
 * normalised step turns noise into a real move when nothing else pulls on δ (MEMIT's z at the
 * last block, where δ reaches no target position). What remains is the exact gradient
 * p ⊙ (log P/P₀ − KL), zero at δ = 0. Same value as torch's kl_div(log P₀, log P, log_target=True).
 */
function klDivergence(logP: Tensor, logP0: Tensor): Tensor {
  const logRatio = T.noGrad(() => T.sub(logP, logP0));
  return T.sum(T.mul(T.exp(logP), logRatio), -1); // [K]
}

/**
 * Optimise δ for one request.
 * @example const { delta, h0, steps } = optimizeDelta(model, prompts, { site: 'mlp', layer: 17, lossLayer: 47 }, hp);
 */
export function optimizeDelta(model: CausalLM, prompts: DeltaPrompts, site: DeltaSite, hp: VOptHParams): VOptResult {
  return optimizeDeltas(model, [prompts], site, hp)[0]!;
}

/**
 * Optimise the δ of several requests together (MEMIT's batch): one forward/backward per step
 * over all their prompts, each request with its own δ, Adam state, norm clamp and stop. The
 * result equals one request at a time, since a request's prompts see only its own δ.
 * @example const [a, b] = optimizeDeltas(model, [promptsA, promptsB], { site: 'block', layer: 8, lossLayer: 47 }, hp);
 */
export function optimizeDeltas(
  model: CausalLM,
  requests: readonly DeltaPrompts[],
  site: DeltaSite,
  hp: VOptHParams,
): VOptResult[] {
  if (requests.length === 0) return [];
  checkInputs(model, requests, site);
  const P = requests.length;
  using batch = new PromptBatches(model, requests, site);
  const { h0NormSq, maxNorm } = T.noGrad(() =>
    T.tidy(() => {
      const h0Norm = T.norm(T.stack(batch.h0, 0), 2, 1); // [P]
      return { h0NormSq: T.keep(T.square(h0Norm)), maxNorm: T.mul(h0Norm, hp.clamp_norm_factor).toArray() };
    }),
  );
  const delta = T.zeros([P, model.arch.hiddenSize]); // row p = request p's δ
  const opts = requests.map(() => new Adam(model.arch.hiddenSize, { lr: hp.v_lr }));
  const steps: VOptResult['steps'][] = requests.map(() => []);
  const running = new Set(requests.keys());
  let logP0: Tensor | null = null; // KL prompts' log P at δ = 0

  /** [loss, nll, kl, weight decay] of each request, each [P]. */
  const objective = (rows: { nll: Tensor; kl: Tensor | null }): Tensor[] => {
    const logProbs = T.logSoftmax(model.lmHead(rows.nll), -1); // [R, V]
    const nll = batch.perRequest(
      T.mul(T.nllLoss(logProbs, batch.labels, { reduction: 'none' }), batch.nllWeight),
      batch.nllOwner,
    );
    let kl = T.zeros([P]);
    if (rows.kl) {
      const klLogProbs = T.logSoftmax(model.lmHead(rows.kl), -1); // [K, V]
      logP0 ??= T.keep(T.noGrad(() => T.clone(klLogProbs)));
      kl = T.mul(batch.perRequest(T.mul(klDivergence(klLogProbs, logP0), batch.klWeight!), batch.klOwner!), hp.kl_factor);
    }
    const weightDecay = T.mul(T.div(T.norm(delta, 2, 1), h0NormSq), hp.v_weight_decay);
    return [T.add(T.add(nll, kl), weightDecay), nll, kl, weightDecay];
  };

  try {
    for (let it = 0; it < hp.v_num_grad_steps && running.size > 0; it++) {
      const last = it === hp.v_num_grad_steps - 1;
      T.tidy(() => {
        delta.requiresGrad = !last;
        using rows = last ? T.noGrad(() => batch.lossRows(delta)) : batch.lossRows(delta);
        const terms = last ? T.noGrad(() => objective(rows)) : objective(rows);
        const values = T.noGrad(() => terms.map((t) => t.toArray()));
        for (const p of [...running]) {
          steps[p]!.push([values[0]![p]!, values[1]![p]!, values[2]![p]!, values[3]![p]!]);
          if (values[0]![p]! < STOP_LOSS || last) running.delete(p);
        }
        if (running.size === 0) return;
        T.backward(T.sum(terms[0]!));
        T.noGrad(() => {
          for (const p of running) stepAndClamp(delta, delta.grad, p, opts[p]!, maxNorm[p]!);
        });
        T.zeroGrad([delta]);
      });
    }
    return T.tidy(() =>
      requests.map((_, p) => ({
        delta: T.keep(T.reshape(T.clone(T.narrow(delta, 0, p, p + 1)), [model.arch.hiddenSize])), // [D]
        h0: T.keep(T.clone(batch.h0[p]!)),
        steps: steps[p]!,
      })),
    );
  } finally {
    delta.requiresGrad = false;
    T.zeroGrad([delta]);
    for (const t of [delta, h0NormSq, logP0 as Tensor | null]) t?.dispose();
  }
}

/** Adam step on request p's row of δ, then the projection onto ‖δ‖ ≤ max norm. */
function stepAndClamp(delta: Tensor, grad: Tensor | null, p: number, opt: Adam, maxNorm: number): void {
  const d = T.narrow(delta, 0, p, p + 1); // [1, D] view
  opt.step(d, grad ? T.narrow(grad, 0, p, p + 1) : T.zerosLike(d));
  const n = T.norm(d).toArray()[0]!;
  if (n > maxNorm) T.assign(d, T.div(T.mul(d, maxNorm), n));
}

function checkInputs(model: CausalLM, requests: readonly DeltaPrompts[], site: DeltaSite): void {
  const nLayers = model.arch.numLayers;
  if (!Number.isInteger(site.layer) || site.layer < 0 || site.layer >= nLayers)
    throw new Error(`v optimisation: layer ${site.layer} is outside [0, ${nLayers})`);
  if (!Number.isInteger(site.lossLayer) || site.lossLayer < site.layer || site.lossLayer >= nLayers)
    throw new Error(`v optimisation: loss layer ${site.lossLayer} is outside [${site.layer}, ${nLayers})`);
  for (const r of requests) {
    const m = r.targetIds.length;
    if (m === 0) throw new Error('v optimisation: empty target');
    if (r.rewriting.length === 0) throw new Error('v optimisation: no rewriting prompts');
    for (const row of r.rewriting) {
      if (row.ids.length < m)
        throw new Error(`v optimisation: a rewriting prompt of ${row.ids.length} tokens cannot hold ${m} target positions`);
    }
  }
}
