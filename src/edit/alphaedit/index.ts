/**
 * AlphaEdit (Fang et al., ICLR 2025): MEMIT's pipeline with each layer's update projected onto
 * the null space of the preserved keys (./projector.ts) and a ridge solve that also holds the
 * keys of earlier edits of the same sequential run (./solve.ts; equations in ./README.md).
 * Those keys live in the run's EditSession; without one every edit starts from an empty cache.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { EditContext, EditMethod, EditRequest, EditResult } from '../types.js';
import { applyMemitFamily } from '../memit/index.js';
import { ALPHAEDIT_PRESETS, parseAlphaEditHParams, type AlphaEditHParams } from './hparams.js';
import { nullSpaceBasis } from './projector.js';
import { alphaEditSolve } from './solve.js';
import { statsCacheDir } from '../stats/cache.js';

export { ALPHAEDIT_PRESETS, parseAlphaEditHParams, type AlphaEditHParams } from './hparams.js';
export { nullSpaceBasis } from './projector.js';
export { alphaEditSolve, type AlphaEditSolveOptions } from './solve.js';

/** The session key of a layer's earlier keys K_p [N, d_k] (float64). */
const cacheKey = (moduleName: string): string => `alphaedit:keys:${moduleName}`;

function applyAlphaEdit(model: CausalLM, requests: EditRequest[], hp: AlphaEditHParams, ctx: EditContext): EditResult {
  const session = ctx.session;
  const solve = alphaEditSolve({
    alpha: hp.L2,
    solveDtype: hp.solve_dtype,
    basis: ({ moduleName, C }) => nullSpaceBasis(C, hp.nullspace_threshold, ctx.log, moduleName, statsCacheDir()),
    previousKeys: (m) => session?.get<Tensor>(cacheKey(m)) ?? null,
  });
  return applyMemitFamily('AlphaEdit', model, requests, hp, ctx, {
    solve,
    // Ĉ += K Kᵀ of this call: its solve-time keys equal the keys after the call (rivals.md §1.3)
    afterRun: (run) => {
      if (!session) return;
      for (const l of run.layers) {
        const key = cacheKey(l.weightName.replace(/\.weight$/, ''));
        const prev = session.get<Tensor>(key);
        const now = T.keep(
          T.noGrad(() =>
            T.tidy(() => (prev ? T.concat([prev, T.cast(l.keys, 'float64')], 0) : T.cast(T.clone(l.keys), 'float64'))),
          ),
        );
        session.set(key, now);
      }
    },
  });
}

/**
 * @example using session = new EditSession();
 * alphaEdit.apply(model, requests, alphaEdit.presets['gpt2-xl']!, { tokenizer, stats, session });
 */
export const alphaEdit: EditMethod<AlphaEditHParams> = {
  name: 'AlphaEdit',
  batchable: true,
  parseHParams: parseAlphaEditHParams,
  presets: ALPHAEDIT_PRESETS,
  apply: applyAlphaEdit,
};
