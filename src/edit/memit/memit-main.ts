/**
 * MEMIT's layer loop (methods.md §4): z per request at L = max(R), then for each layer l in
 * ascending order keys K on the current model, resid = (Z − H^L) / (|R| − i) and
 * Δ_l = resid · [(λC_l + K Kᵀ)⁻¹ K]ᵀ solved in float64, applied before the next layer.
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
import { encodeTarget, type SubjectPrompt } from '../shared/subject-index.js';
import { checkLayers } from '../shared/modules.js';
import { computeZs, type MemitZ } from './compute-z.js';
import type { MemitHParams } from './hparams.js';

export interface MemitLayerResult {
  layer: number;
  /** `${rewrite_module_tmp}.weight` at this layer */
  weightName: string;
  /** template-averaged keys on the current model [n, d_k] */
  keys: Tensor;
  /** block-L output at the bare prompts' subject token, current model [n, D] */
  curZ: Tensor;
  /** (z − cur_z)ᵀ / (|R| − i), float64 [D, n] */
  resid: Tensor;
  /** (λC + K Kᵀ)⁻¹ K, float64 [d_k, n] */
  adjK: Tensor;
  /** Δ_l in the weight's stored layout, float32 (before any RECT transform) */
  deltaW: Tensor;
  seconds: number;
}

export interface MemitRun {
  zs: MemitZ[];
  layers: MemitLayerResult[];
  /** token ids of each request's target */
  targetIds: number[][];
  /** tokenised key contexts per request (groups flattened) and the bare prompts */
  keyRows: LookupRow[];
  promptRows: LookupRow[];
  seconds: { z: number; layers: number };
}

export function disposeMemitRun(run: MemitRun): void {
  for (const z of run.zs) [z.z, z.delta, z.h0].forEach((t) => t.dispose());
  for (const l of run.layers) [l.keys, l.curZ, l.resid, l.adjK, l.deltaW].forEach((t) => t.dispose());
}

const now = (): number => performance.now() / 1000;

/** X with A X = B for the SPD system of MEMIT; LU when Cholesky finds it not positive definite. */
function solveSystem(A: Tensor, B: Tensor): Tensor {
  try {
    return T.solveSPD(A, B);
  } catch {
    return T.solve(A, B);
  }
}

export interface MemitOptions {
  /**
   * Editor the deltas go through inside the loop. Default: a private editor without transform
   * whose changes are undone at the end (the caller then applies `layers[i].deltaW`). Pass one
   * with RECT as transform to apply RECT inside the loop (its changes are kept).
   */
  loopEditor?: WeightEditor;
}

/**
 * MEMIT for a batch of requests. With the default options the model is unchanged on return.
 * @example const run = executeMemit(model, tok, requests, hp, [['{}'], ['The sky. {}']], ctx);
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
  if (!ctx.stats) throw new Error('MEMIT needs second-moment statistics (EditContext.stats)');
  const stats = ctx.stats;
  const templates = groups.flat();
  if (templates.length === 0) throw new Error('MEMIT: no context templates');
  const sizes = groups.map((g) => g.length);
  const n = requests.length;
  const layerL = layers[layers.length - 1]!;
  const blockL = moduleAt(hp.layer_module_tmp, layerL);
  const parts: SubjectPrompt[] = requests.map(requestParts);
  const targetIds = requests.map((r) => encodeTarget(tok, spacedTarget(r.target_new, hp.legacyTargetSpace)));
  // key contexts: request-major, then templates in group order (compute_ks); then the bare prompts
  const keyRows = lookupRows(
    tok,
    parts.flatMap((p) => templates.map((t) => inContext(t, p))),
    hp.fact_token,
    hp.subjectIndexRule,
  );
  const promptRows = lookupRows(tok, parts, hp.fact_token, hp.subjectIndexRule);

  // C describes the unedited model: take every layer's before any weight changes
  const Cs = layers.map((l) => stats.secondMoment(model, l, moduleAt(hp.rewrite_module_tmp, l)));

  const loop = opts.loopEditor ?? new WeightEditor(model);
  const zs: MemitZ[] = [];
  const out: MemitLayerResult[] = [];
  const tz = now();
  let tLayers = 0;
  try {
    zs.push(...computeZs(model, tok, parts, targetIds, templates, layerL, hp));
    const tl = now();
    const Z = T.keep(
      T.noGrad(() =>
        T.tidy(() =>
          T.stack(
            zs.map((z) => z.z),
            0,
          ),
        ),
      ),
    ); // [n, D]
    try {
      for (const [j, layer] of layers.entries()) {
        const t0 = now();
        const name = moduleAt(hp.rewrite_module_tmp, layer);
        const weightName = `${name}.weight`;
        const C = Cs[j]!;
        const read = readAt(model, [...keyRows, ...promptRows], { inputs: [name], outputs: [blockL], stopAfter: blockL });
        const kAll = read.inputs.get(name)!; // [n·m + n, d_k]
        const hAll = read.outputs.get(blockL)!; // [n·m + n, D]
        let r: Omit<MemitLayerResult, 'layer' | 'weightName' | 'seconds'>;
        try {
          r = T.noGrad(() =>
            T.tidy(() => {
              const keys = templateMean(T.narrow(kAll, 0, 0, n * templates.length), n, sizes); // [n, d_k]
              const curZ = T.contiguous(T.narrow(hAll, 0, n * templates.length, n * templates.length + n)); // [n, D]
              // z − cur_z in float32 as the reference does, then float64
              const resid = T.div(T.transpose(T.cast(T.sub(Z, curZ), 'float64')), layers.length - j); // [D, n]
              const K = T.transpose(T.cast(keys, 'float64')); // [d_k, n]
              const dK = K.shape[0]!;
              if (C.rank !== 2 || C.shape[0] !== dK || C.shape[1] !== dK) {
                throw new Error(`MEMIT: statistics for ${name} are [${C.shape.join(', ')}], expected [${dK}, ${dK}]`);
              }
              const A = T.add(T.mul(T.cast(C, 'float64'), hp.mom2_update_weight), T.matmul(K, T.transpose(K))); // [d_k, d_k]
              const adjK = solveSystem(A, T.contiguous(K)); // [d_k, n]
              const upd =
                model.arch.weightLayout === 'in_out' ? T.matmul(adjK, T.transpose(resid)) : T.matmul(resid, T.transpose(adjK));
              return { keys, curZ: T.clone(curZ), resid: T.contiguous(resid), adjK, deltaW: T.cast(upd, 'float32') };
            }),
          );
        } finally {
          kAll.dispose();
          hAll.dispose();
        }
        for (const t of Object.values(r)) T.keep(t);
        out.push({ layer, weightName, ...r, seconds: 0 });
        loop.add(weightName, r.deltaW); // later layers see this one
        out[out.length - 1]!.seconds = now() - t0;
      }
    } finally {
      Z.dispose();
    }
    tLayers = now() - tl;
  } catch (e) {
    for (const z of zs) [z.z, z.delta, z.h0].forEach((t) => t.dispose());
    for (const l of out) [l.keys, l.curZ, l.resid, l.adjK, l.deltaW].forEach((t) => t.dispose());
    loop.restore();
    if (!opts.loopEditor) loop.result('MEMIT', [], { total: 0 }, false).dispose();
    throw e;
  }
  if (!opts.loopEditor) {
    loop.restore();
    loop.result('MEMIT', [], { total: 0 }, false).dispose();
  }
  return { zs, layers: out, targetIds, keyRows, promptRows, seconds: { z: now() - tz - tLayers, layers: tLayers } };
}
