/**
 * MEMIT for a batch of requests (equations in ./README.md): z_i = h_i^L + δ_i at L = max(R)
 * (./compute-z.ts), then for each layer l ∈ R, ascending, on the model with the lower layers'
 * updates in place:
 *   K     = the requests' keys at l, averaged over the context templates        [d_k, n]
 *   resid = (Z − H^L) / (|R| − j)      the remaining error, shared by the layers left
 *   Δ_l   = resid · [(λC_l + K Kᵀ)⁻¹ K]ᵀ                                          (float64)
 * The share is by count (|R| − j), not by distance to L: layers [0, 2] split the error 1/2, 1/1.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { WeightEditor } from '../apply.js';
import { moduleAt } from '../hparams.js';
import { spacedTarget, validateRequest } from '../request.js';
import type { EditContext, EditRequest } from '../types.js';
import { inContext, lookupRows, readAt, requestParts, templateMean, type LookupRow } from '../shared/keys.js';
import { encodeTarget } from '../shared/subject-index.js';
import { checkLayers, checkModules } from '../shared/modules.js';
import { computeZs, type MemitZ } from './compute-z.js';
import type { MemitHParams } from './hparams.js';

/** What MEMIT computed at one layer; owns its tensors. */
export interface MemitLayerResult extends Disposable {
  layer: number;
  /** `${rewrite_module_tmp}.weight` at this layer */
  weightName: string;
  /** template-averaged keys on the current model [n, d_k] */
  keys: Tensor;
  /** block-L output at the bare prompts' subject token, current model [n, D] */
  curZ: Tensor;
  /** (z − cur_z)ᵀ / (|R| − j), float64 [D, n] */
  resid: Tensor;
  /** G with Δ = resid · Gᵀ, float64 [d_k, n]: MEMIT's (λC + K Kᵀ)⁻¹ K, or a rival's solve */
  adjK: Tensor;
  /** Δ_l in the weight's stored layout, float32 (before any RECT transform) */
  deltaW: Tensor;
  seconds: number;
}

/** A MEMIT run; owns the z and every layer's tensors. */
export interface MemitRun extends Disposable {
  zs: MemitZ[];
  layers: MemitLayerResult[];
  /** token ids of each request's target */
  targetIds: number[][];
  /** tokenised key contexts per request (groups flattened) and the bare prompts */
  keyRows: LookupRow[];
  promptRows: LookupRow[];
  seconds: { z: number; layers: number };
}

const now = (): number => performance.now() / 1000;

/**
 * The closed form at one layer: G [d_k, n] (float64) with Δ_l = resid · Gᵀ. MEMIT's is
 * (λC + K Kᵀ)⁻¹ K; EMMET and AlphaEdit bring their own.
 */
export type LayerSolve = (at: {
  /** position of the layer in hp.layers */
  index: number;
  layer: number;
  /** `${rewrite_module_tmp}` at this layer */
  moduleName: string;
  /** template-averaged keys, float64 [d_k, n] */
  K: Tensor;
  /** the layer's statistics C = E[k kᵀ] of the unedited model [d_k, d_k] */
  C: Tensor;
}) => Tensor;

/** MEMIT's solve: (λC + K Kᵀ)⁻¹ K, λ = mom2_update_weight. */
export function memitSolve(lambda: number): LayerSolve {
  return ({ K, C }) =>
    T.tidy(() => solveSystem(T.add(T.mul(T.cast(C, 'float64'), lambda), T.matmul(K, T.transpose(K))), T.contiguous(K)));
}

export interface MemitOptions {
  /** the per-layer closed form (default MEMIT's) */
  solve?: LayerSolve;
  /**
   * Editor the deltas go through inside the loop. Default: a private editor without transform
   * whose changes are undone at the end (the caller then applies `layers[i].deltaW`). Pass one
   * with RECT as transform to apply RECT inside the loop (its changes are kept).
   */
  loopEditor?: WeightEditor;
}

/**
 * MEMIT for a batch of requests. With the default options the model is unchanged on return.
 * @example using run = executeMemit(model, tok, requests, hp, [['{}'], ['The sky. {}']], ctx);
 */
export function executeMemit(
  model: CausalLM,
  tok: Tokenizer,
  requests: readonly EditRequest[],
  hp: MemitHParams,
  groups: readonly (readonly string[])[],
  ctx: EditContext,
  opts: MemitOptions = {},
): MemitRun {
  if (requests.length === 0) throw new Error('MEMIT: no requests');
  requests.forEach((r, i) => validateRequest(r, `MEMIT request ${i}`, { needsSubject: true }));
  const layers = checkLayers(model, hp.layers, hp.rewrite_module_tmp, 'MEMIT');
  checkModules(model, hp, 'MEMIT');
  if (!ctx.stats) throw new Error('MEMIT needs second-moment statistics (EditContext.stats)');
  const templates = groups.flat();
  if (templates.length === 0) throw new Error('MEMIT: no context templates');
  const prompts = requests.map(requestParts);
  const targetIds = requests.map((r) => encodeTarget(tok, spacedTarget(r.target_new, hp.legacy_target_space)));
  // key contexts: request-major, then templates in group order (compute_ks); then the bare prompts
  const rows = (ps: ReturnType<typeof requestParts>[]): LookupRow[] => lookupRows(tok, ps, hp.fact_token, hp.subject_index_rule);
  const keyRows = rows(prompts.flatMap((p) => templates.map((t) => inContext(t, p))));
  const promptRows = rows(prompts);
  // C describes the unedited model: take every layer's before any weight changes
  const Cs = layers.map((l) => ctx.stats!.secondMoment(model, l, moduleAt(hp.rewrite_module_tmp, l)));

  using scratch = opts.loopEditor ? null : new WeightEditor(model); // undone when the run returns
  const loop = opts.loopEditor ?? scratch!;
  const layerL = layers[layers.length - 1]!;
  const solve = opts.solve ?? memitSolve(hp.mom2_update_weight);
  const tz = now();
  const zs = computeZs(model, tok, prompts, targetIds, templates, layerL, hp);
  const results: MemitLayerResult[] = [];
  const seconds = { z: now() - tz, layers: 0 };
  const run = T.owning({ zs, layers: results, targetIds, keyRows, promptRows, seconds }, [zs, results]);
  try {
    using Z = T.noGrad(() =>
      T.tidy(() =>
        T.stack(
          zs.map((z) => z.z),
          0,
        ),
      ),
    ); // [n, D]
    for (const [j, layer] of layers.entries()) {
      const t0 = now();
      const share = layers.length - j; // the layers left, this one included
      const step = memitLayer(model, hp, solve, { index: j, layer, layerL, share, Z, C: Cs[j]!, keyRows, promptRows, groups });
      results.push(step);
      loop.add(step.weightName, step.deltaW); // higher layers see this one
      step.seconds = now() - t0;
    }
    seconds.layers = now() - tz - seconds.z;
    return run;
  } catch (e) {
    run[Symbol.dispose]();
    throw e;
  }
}

/** K, resid, (λC + K Kᵀ)⁻¹ K and Δ at one layer, on the current model. */
function memitLayer(
  model: CausalLM,
  hp: MemitHParams,
  solve: LayerSolve,
  at: {
    index: number;
    layer: number;
    layerL: number;
    /** |R| − j: the layers that still share the residual */
    share: number;
    /** z of every request [n, D] */
    Z: Tensor;
    C: Tensor;
    keyRows: readonly LookupRow[];
    promptRows: readonly LookupRow[];
    groups: readonly (readonly string[])[];
  },
): MemitLayerResult {
  const { Z, C, keyRows, promptRows } = at;
  const name = moduleAt(hp.rewrite_module_tmp, at.layer);
  const blockL = moduleAt(hp.layer_module_tmp, at.layerL);
  const n = promptRows.length;
  const m = keyRows.length; // n · |templates|
  const read = readAt(model, [...keyRows, ...promptRows], { inputs: [name], outputs: [blockL], stopAfter: blockL });
  using kAll = read.inputs.get(name)!; // [m + n, d_k]
  using hAll = read.outputs.get(blockL)!; // [m + n, D]
  return T.noGrad(() =>
    T.tidy(() => {
      const keys = templateMean(
        T.narrow(kAll, 0, 0, m),
        n,
        at.groups.map((g) => g.length),
      ); // [n, d_k]
      const curZ = T.contiguous(T.narrow(hAll, 0, m, m + n)); // [n, D]
      // z − cur_z in float32 as the reference does, then float64
      const resid = T.div(T.transpose(T.cast(T.sub(Z, curZ), 'float64')), at.share); // [D, n]
      const K = T.transpose(T.cast(keys, 'float64')); // [d_k, n]
      const dK = K.shape[0]!;
      if (C.rank !== 2 || C.shape[0] !== dK || C.shape[1] !== dK)
        throw new Error(`MEMIT: statistics for ${name} are [${C.shape.join(', ')}], expected [${dK}, ${dK}]`);
      const adjK = solve({ index: at.index, layer: at.layer, moduleName: name, K: T.contiguous(K), C }); // [d_k, n]
      const upd = model.arch.weightLayout === 'in_out' ? T.matmul(adjK, T.transpose(resid)) : T.matmul(resid, T.transpose(adjK));
      const out = {
        keys: T.keep(keys),
        curZ: T.keep(T.clone(curZ)),
        resid: T.keep(T.contiguous(resid)),
        adjK: T.keep(adjK),
        deltaW: T.keep(T.cast(upd, 'float32')),
      };
      return T.owning({ layer: at.layer, weightName: `${name}.weight`, ...out, seconds: 0 }, Object.values(out));
    }),
  );
}

/** X with A X = B for an SPD system; LU when Cholesky finds it not positive definite. */
export function solveSystem(A: Tensor, B: Tensor): Tensor {
  try {
    return T.solveSPD(A, B);
  } catch {
    return T.solve(A, B);
  }
}
