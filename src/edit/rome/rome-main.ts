/**
 * ROME (methods.md §2) and R-ROME (§3) for one request: per layer (ascending, each on the
 * model with the previous layers' updates in place) k̄ and u, v*, then r and ΔW = r uᵀ.
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
import { encodeTarget } from '../shared/subject-index.js';
import { checkLayers } from '../shared/modules.js';
import { inverseSecondMoment, leftVector, romeKeys, type RomeKeys } from './compute-u.js';
import { computeV, type RomeV } from './compute-v.js';
import type { RomeHParams } from './hparams.js';

/** Everything ROME computed for one layer (tensors owned by the caller; see disposeRomeLayer). */
export interface RomeLayerResult {
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

export interface RomeRun {
  targetIds: number[];
  layers: RomeLayerResult[];
}

export function disposeRomeLayer(r: RomeLayerResult): void {
  const k = r.keys;
  [k.keys, k.values, k.kStar, k.vBar, k.kEdit, k.vEdit, r.u, r.v.delta, r.v.vInit, r.v.vStar, r.right, r.deltaW].forEach((t) =>
    t.dispose(),
  );
}

const now = (): number => performance.now() / 1000;

/**
 * ΔW for each layer of `hp.layers`. The model is left unchanged (intermediate layers' updates
 * are applied while later layers are computed, then restored); apply the deltas yourself.
 * @example const run = executeRome(model, tok, request, hp, ['{}', 'The sky. {}'], ctx);
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
  if (hp.mom2_adjustment && !ctx.stats)
    throw new Error('ROME: mom2_adjustment is true but no statistics provider was given (EditContext.stats)');
  if (templates.length === 0) throw new Error('ROME: no context templates');
  const parts = requestParts(request);
  const targetIds = encodeTarget(tok, spacedTarget(request.target_new, hp.legacyTargetSpace));
  const randomPrefix = !hp.original_implementation && hp.enable_random_prefix_keys;
  const promptKeys = !hp.original_implementation && !hp.enable_random_prefix_keys && hp.enable_prompt_keys;

  // C describes the unedited model: invert every layer's before any weight changes
  if (hp.mom2_adjustment) for (const l of layers) inverseSecondMoment(model, l, moduleAt(hp.rewrite_module_tmp, l), ctx);

  const temp = new WeightEditor(model); // earlier layers' updates while later layers are computed
  const out: RomeLayerResult[] = [];
  try {
    for (const [i, layer] of layers.entries()) {
      const t0 = now();
      const name = moduleAt(hp.rewrite_module_tmp, layer);
      const keys = romeKeys(model, tok, parts, templates, layer, hp);
      let u: Tensor | null = null;
      let v: RomeV | null = null;
      try {
        u = leftVector(model, layer, name, promptKeys ? keys.kEdit : keys.kStar, hp.mom2_adjustment, ctx);
        const t1 = now();
        v = computeV(model, tok, parts, targetIds, templates, layer, hp);
        const t2 = now();
        // ROME: residual and denominator from the bare prompt (k₀, v₀); R-ROME: from the averaged k̄, v̄
        const kDen = randomPrefix ? keys.kStar : keys.kEdit;
        const vCur = randomPrefix ? keys.vBar : keys.vEdit;
        const uu = u;
        const vs = v.vStar;
        const { right, deltaW } = T.noGrad(() =>
          T.tidy(() => {
            const r = T.div(T.sub(vs, vCur), T.sum(T.mul(kDen, uu))); // [D]
            const d =
              model.arch.weightLayout === 'in_out'
                ? T.matmul(T.unsqueeze(uu, 1), T.unsqueeze(r, 0))
                : T.matmul(T.unsqueeze(r, 1), T.unsqueeze(uu, 0));
            return { right: r, deltaW: d };
          }),
        );
        T.keep(right);
        T.keep(deltaW);
        const weightName = `${name}.weight`;
        if (i < layers.length - 1) temp.add(weightName, deltaW);
        out.push({
          layer,
          weightName,
          keys,
          u,
          v,
          right,
          deltaW,
          timings: { keys: t1 - t0, v_optimisation: t2 - t1, update: now() - t2 },
        });
      } catch (e) {
        const k = keys;
        [k.keys, k.values, k.kStar, k.vBar, k.kEdit, k.vEdit, u, v?.delta, v?.vInit, v?.vStar].forEach((t) => t?.dispose());
        throw e;
      }
    }
  } catch (e) {
    out.forEach(disposeRomeLayer);
    throw e;
  } finally {
    temp.restore();
    temp.result('ROME', [], { total: 0 }, false).dispose();
  }
  return { targetIds, layers: out };
}
