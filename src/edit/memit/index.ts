/**
 * The MEMIT EditMethod: a batch of requests in one call; each layer's Δ goes through a
 * WeightEditor, with RECT (ctx.transformDelta) applied to the final deltas (default, post hoc)
 * or inside the layer loop (`rectInLoop`), methods.md §9 "Which matrices".
 */
import type { CausalLM } from '../../models/types.js';
import { WeightEditor } from '../apply.js';
import type { EditContext, EditMethod, EditRequest, EditResult, RequestDiagnostics } from '../types.js';
import { asGroups, contextTemplates } from '../shared/context-templates.js';
import { MEMIT_PRESETS, parseMemitHParams, type MemitHParams } from './hparams.js';
import { disposeMemitRun, executeMemit } from './memit-main.js';

export { type MemitHParams, MEMIT_PRESETS, parseMemitHParams } from './hparams.js';
export { executeMemit, disposeMemitRun, type MemitLayerResult, type MemitRun, type MemitOptions } from './memit-main.js';
export { computeZ, computeZs, Z_BATCH, type MemitZ } from './compute-z.js';

/** MEMIT's template groups: explicit ones from the context (a flat list = one group), else sampled and cached. */
export function memitTemplates(model: CausalLM, hp: MemitHParams, ctx: EditContext): string[][] {
  if (ctx.contextTemplates) return asGroups(ctx.contextTemplates);
  return contextTemplates(model, ctx.tokenizer, 'memit', { seed: ctx.seed ?? hp.templateSeed });
}

const norm = (xs: number[]): number => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));

function applyMemit(model: CausalLM, requests: EditRequest[], hp: MemitHParams, ctx: EditContext): EditResult {
  const t0 = performance.now();
  const groups = memitTemplates(model, hp, ctx);
  const tTemplates = (performance.now() - t0) / 1000;
  const editor = new WeightEditor(model, ctx.transformDelta);
  const inLoop = hp.rectInLoop && ctx.transformDelta !== undefined;
  let run: ReturnType<typeof executeMemit>;
  try {
    run = executeMemit(model, ctx.tokenizer, requests, hp, groups, ctx, inLoop ? { loopEditor: editor } : {});
  } catch (e) {
    editor.result('MEMIT', [], { total: 0 }, false).dispose(); // restored by executeMemit; free its deltas
    throw e;
  }
  const diags: RequestDiagnostics[] = [];
  try {
    // post hoc: the loop's own changes were undone; apply each final Δ_l (through RECT when set)
    if (!inLoop) for (const l of run.layers) editor.add(l.weightName, l.deltaW);
    requests.forEach((r, i) => {
      const z = run.zs[i]!;
      const first = z.steps[0]!;
      const last = z.steps[z.steps.length - 1]!;
      diags.push({
        ...(r.case_id !== undefined ? { case_id: r.case_id } : {}),
        losses: z.steps.map((s) => s[0]),
        scalars: {
          nll_init: first[1],
          nll_final: last[1],
          kl_final: last[2],
          steps: z.steps.length,
          delta_norm: norm(z.delta.toArray()),
          h_norm: norm(z.h0.toArray()),
        },
      });
    });
  } catch (e) {
    editor.restore();
    editor.result('MEMIT', [], { total: 0 }, false).dispose();
    throw e;
  } finally {
    disposeMemitRun(run);
  }
  const timings = {
    templates: tTemplates,
    z_optimisation: run.seconds.z,
    layers: run.seconds.layers,
    total: (performance.now() - t0) / 1000,
  };
  return editor.result('MEMIT', diags, timings, ctx.apply ?? true);
}

/**
 * MEMIT (Meng et al. 2023): many facts in one call.
 * @example
 * const res = memit.apply(model, requests, memit.presets['gpt2-xl']!, { tokenizer, stats });
 */
export const memit: EditMethod<MemitHParams> = {
  name: 'MEMIT',
  batchable: true,
  parseHParams: parseMemitHParams,
  presets: MEMIT_PRESETS,
  apply: applyMemit,
};
