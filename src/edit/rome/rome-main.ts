/**
 * ROME and R-ROME for one request (equations in ./README.md): per layer ℓ, ascending, each on
 * the model with the lower layers' updates in place,
 *   u  = C⁻¹ k̄ (or k̄ without mom2_adjustment)          k̄: the key averaged over the templates
 *   v* = h₀ + δ                                          δ: ./compute-v.ts
 *   r  = (v* − v₀) / (k₀ᵀ u)                              k₀, v₀: key and value of the bare prompt
 *   ΔW = u rᵀ (in the weight's stored layout)
 * R-ROME takes k̄ and v̄ (template means) where ROME takes k₀ and v₀.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { WeightEditor } from '../apply.js';
import { moduleAt } from '../hparams.js';
import { spacedTarget, validateRequest } from '../request.js';
import type { EditContext, EditRequest } from '../types.js';
import { requestParts } from '../shared/keys.js';
import { encodeTarget, type SubjectPrompt } from '../shared/subject-index.js';
import { checkLayers, checkModules } from '../shared/modules.js';
import { inverseSecondMoment, leftVector, romeKeys, type RomeKeys } from './compute-u.js';
import { computeV, type RomeV } from './compute-v.js';
import type { RomeHParams } from './hparams.js';

/** Everything ROME computed for one layer; owns its tensors. */
export interface RomeLayerResult extends Disposable {
  layer: number;
  /** `${rewrite_module_tmp}.weight` at this layer */
  weightName: string;
  keys: RomeKeys;
  /** u [d_k] */
  u: Tensor;
  v: RomeV;
  /** r [D] */
  right: Tensor;
  /** ΔW in the weight's stored layout: u ⊗ r [d_k, D] for Conv1D, r ⊗ u [D, d_k] for Linear */
  deltaW: Tensor;
  timings: { keys: number; v_optimisation: number; update: number };
}

/** ROME's result for a request: the target's token ids and one result per edited layer. */
export interface RomeRun extends Disposable {
  targetIds: number[];
  layers: RomeLayerResult[];
}

const now = (): number => performance.now() / 1000;

/**
 * ΔW for each layer of `hp.layers`. The model is left unchanged (intermediate layers' updates
 * are applied while later layers are computed, then restored); apply the deltas yourself.
 * @example using run = executeRome(model, tok, request, hp, ['{}', 'The sky. {}'], ctx);
 */
export function executeRome(
  model: CausalLM,
  tok: Tokenizer,
  request: EditRequest,
  hp: RomeHParams,
  templates: readonly string[],
  ctx: EditContext,
): RomeRun {
  validateRequest(request, 'ROME request', { needsSubject: true });
  const layers = checkLayers(model, hp.layers, hp.rewrite_module_tmp, 'ROME');
  checkModules(model, hp, 'ROME');
  if (hp.mom2_adjustment && !ctx.stats)
    throw new Error('ROME: mom2_adjustment is true but no statistics provider was given (EditContext.stats)');
  if (templates.length === 0) throw new Error('ROME: no context templates');
  const prompt = requestParts(request);
  const targetIds = encodeTarget(tok, spacedTarget(request.target_new, hp.legacy_target_space));

  // C describes the unedited model: invert every layer's before any weight changes
  if (hp.mom2_adjustment) for (const l of layers) inverseSecondMoment(model, l, moduleAt(hp.rewrite_module_tmp, l), ctx);

  using lower = new WeightEditor(model); // lower layers' updates while higher ones are computed; undone at the end
  const results: RomeLayerResult[] = [];
  const run = T.owning({ targetIds, layers: results }, results);
  try {
    for (const layer of layers) {
      const result = romeLayer(model, tok, prompt, targetIds, templates, layer, hp, ctx);
      results.push(result);
      if (layer !== layers[layers.length - 1]) lower.add(result.weightName, result.deltaW);
    }
    return run;
  } catch (e) {
    run[Symbol.dispose]();
    throw e;
  }
}

/** u, v*, r and ΔW at one layer. */
function romeLayer(
  model: CausalLM,
  tok: Tokenizer,
  prompt: SubjectPrompt,
  targetIds: readonly number[],
  templates: readonly string[],
  layer: number,
  hp: RomeHParams,
  ctx: EditContext,
): RomeLayerResult {
  const t0 = now();
  const name = moduleAt(hp.rewrite_module_tmp, layer);
  const rRome = !hp.original_implementation;
  const promptKeys = rRome && !hp.enable_random_prefix_keys && hp.enable_prompt_keys;
  const randomPrefix = rRome && hp.enable_random_prefix_keys;
  const keys = romeKeys(model, tok, prompt, templates, layer, hp);
  let u: Tensor | undefined;
  let v: RomeV | undefined;
  try {
    u = leftVector(model, layer, name, promptKeys ? keys.kEdit : keys.kStar, hp.mom2_adjustment, ctx);
    const t1 = now();
    v = computeV(model, tok, prompt, targetIds, templates, layer, hp);
    const t2 = now();
    // ROME: residual and denominator from the bare prompt (k₀, v₀); R-ROME: from the template means (k̄, v̄)
    const [k0, v0] = randomPrefix ? [keys.kStar, keys.vBar] : [keys.kEdit, keys.vEdit];
    const [uu, vStar] = [u, v.vStar];
    const { right, deltaW } = T.noGrad(() =>
      T.tidy(() => {
        const r = T.div(T.sub(vStar, v0), T.sum(T.mul(k0, uu))); // [D]
        const dW = model.arch.weightLayout === 'in_out' ? outer(uu, r) : outer(r, uu); // [d_k, D] or [D, d_k]
        return { right: T.keep(r), deltaW: T.keep(dW) };
      }),
    );
    const timings = { keys: t1 - t0, v_optimisation: t2 - t1, update: now() - t2 };
    return T.owning({ layer, weightName: `${name}.weight`, keys, u, v, right, deltaW, timings }, [keys, u, v, right, deltaW]);
  } catch (e) {
    for (const part of [keys, u, v]) part?.[Symbol.dispose]();
    throw e;
  }
}

/** a bᵀ for vectors a [m], b [n] → [m, n]. */
function outer(a: Tensor, b: Tensor): Tensor {
  return T.matmul(T.unsqueeze(a, 1), T.unsqueeze(b, 0));
}
