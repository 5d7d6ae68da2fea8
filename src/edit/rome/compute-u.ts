/**
 * ROME steps 1–2 (README.md, "The method"): the key k̄ = mean over context templates of the rewrite
 * module's input at the subject token, and the left vector u = C⁻¹k̄ / ‖C⁻¹k̄‖ (or k̄/‖k̄‖).
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { EditContext } from '../types.js';
import { moduleAt } from '../hparams.js';
import { inContext, lookupRows, readAt, type LookupRow } from '../shared/keys.js';
import type { SubjectPrompt } from '../shared/subject-index.js';
import type { RomeHParams } from './hparams.js';

/** Keys/values of the rewrite module at the subject token, per template and for the bare prompt. */
/** ROME's keys and values; owns its tensors. */
export interface RomeKeys extends Disposable {
  /** k per template [n, d_k] */
  keys: Tensor;
  /** v (rewrite-module output) per template [n, D] */
  values: Tensor;
  /** k̄ = mean of keys [d_k] */
  kStar: Tensor;
  /** v̄ = mean of values [D] (R-ROME) */
  vBar: Tensor;
  /** k₀, v₀ at the bare prompt [d_k], [D] */
  kEdit: Tensor;
  vEdit: Tensor;
  /** tokenised template contexts and the bare prompt, with lookup indices */
  rows: LookupRow[];
  editRow: LookupRow;
}

/**
 * Step 1: read the rewrite module's input and output at the subject token of every
 * `template.format(prompt)` and of the bare prompt, in one batched forward.
 */
export function romeKeys(
  model: CausalLM,
  tok: Tokenizer,
  prompt: SubjectPrompt,
  templates: readonly string[],
  layer: number,
  hp: RomeHParams,
): RomeKeys {
  const name = moduleAt(hp.rewrite_module_tmp, layer);
  const rule = hp.subject_index_rule;
  const rows = lookupRows(
    tok,
    templates.map((t) => inContext(t, prompt)),
    hp.fact_token,
    rule,
  );
  const [editRow] = lookupRows(tok, [prompt], hp.fact_token, rule);
  const { inputs, outputs } = readAt(model, [...rows, editRow!], { inputs: [name], outputs: [name], stopAfter: name });
  const kAll = inputs.get(name)!; // [n + 1, d_k]
  const vAll = outputs.get(name)!; // [n + 1, D]
  const n = rows.length;
  const r = T.noGrad(() =>
    T.tidy(() => {
      const keys = T.contiguous(T.narrow(kAll, 0, 0, n));
      const values = T.contiguous(T.narrow(vAll, 0, 0, n));
      return {
        keys: T.clone(keys),
        values: T.clone(values),
        kStar: T.mean(keys, 0),
        vBar: T.mean(values, 0),
        kEdit: T.reshape(T.clone(T.narrow(kAll, 0, n, n + 1)), [kAll.shape[1]!]),
        vEdit: T.reshape(T.clone(T.narrow(vAll, 0, n, n + 1)), [vAll.shape[1]!]),
      };
    }),
  );
  kAll.dispose();
  vAll.dispose();
  for (const t of Object.values(r)) T.keep(t);
  return T.owning({ ...r, rows, editRow: editRow! }, Object.values(r));
}

/**
 * The cached C⁻¹ of each (model, module), with the statistics it inverts. An entry is reused only
 * for the very C tensor it was computed from (a provider that memoises C, as createStatsProvider
 * does, hits every time): statistics are never compared by value, so different ones cannot share
 * an inverse, and a provider returning a fresh tensor per call gets a fresh inverse per call.
 */
const invCache = new WeakMap<CausalLM, Map<string, { C: Tensor; inv: Tensor }>>();

/**
 * C⁻¹ of the rewrite module's second moment, computed in float64 and cached (float32) per
 * statistics tensor as ROME does — later edits of the same layer reuse it.
 */
export function inverseSecondMoment(model: CausalLM, layer: number, moduleName: string, ctx: EditContext): Tensor {
  if (!ctx.stats) throw new Error(`ROME: mom2_adjustment needs second-moment statistics (EditContext.stats) for ${moduleName}`);
  const C = ctx.stats.secondMoment(model, layer, moduleName);
  if (C.rank !== 2 || C.shape[0] !== C.shape[1])
    throw new Error(`ROME: statistics for ${moduleName} are not a square matrix (${C.shape.join('x')})`);
  let perModel = invCache.get(model);
  if (!perModel) invCache.set(model, (perModel = new Map()));
  const hit = perModel.get(moduleName);
  if (hit && hit.C === C && !C.disposed) return hit.inv;
  const inv = T.keep(T.noGrad(() => T.tidy(() => T.cast(T.inverse(T.cast(C, 'float64')), 'float32')))); // [d_k, d_k]
  hit?.inv.dispose();
  perModel.set(moduleName, { C, inv });
  return inv;
}

/** Forget the cached inverses of a model. */
export function clearInverseCache(model: CausalLM): void {
  invCache.get(model)?.forEach((e) => e.inv.dispose());
  invCache.delete(model);
}

/**
 * u from a key k [d_k]: C⁻¹k normalised when `mom2` (statistics from ctx.stats), else k/‖k‖.
 * @example const u = leftVector(model, 17, 'transformer.h.17.mlp.c_proj', kStar, true, ctx);
 */
export function leftVector(
  model: CausalLM,
  layer: number,
  moduleName: string,
  k: Tensor,
  mom2: boolean,
  ctx: EditContext,
): Tensor {
  const inv = mom2 ? inverseSecondMoment(model, layer, moduleName, ctx) : null;
  return T.noGrad(() =>
    T.tidy(() => {
      if (inv && inv.shape[0] !== k.size)
        throw new Error(`ROME: statistics for ${moduleName} are ${inv.shape[0]}-dimensional, the key has ${k.size} entries`);
      const v = inv ? T.reshape(T.matmul(inv, T.reshape(k, [k.size, 1])), [k.size]) : k; // [d_k]
      return T.div(v, T.norm(v));
    }),
  );
}
