/**
 * The MEMIT EditMethod: a batch of requests in one call; each layer's Δ goes through a
 * WeightEditor, with RECT (ctx.transformDelta) applied to the final deltas (default, post hoc)
 * or inside the layer loop (`rect_in_loop`); see ../rect/README.md, "Which matrices".
 */
import type { CausalLM } from '../../models/types.js';
import { WeightEditor } from '../apply.js';
import type { EditContext, EditMethod, EditRequest, EditResult, RequestDiagnostics } from '../types.js';
import { asGroups, contextTemplates } from '../shared/context-templates.js';
import { MEMIT_PRESETS, parseMemitHParams, type MemitHParams } from './hparams.js';
import { executeMemit, type LayerSolve, type MemitRun } from './memit-main.js';
import type { MemitZ } from './compute-z.js';

export { type MemitHParams, checkMemitFields, MEMIT_PRESETS, MEMIT_SCHEMA, parseMemitHParams } from './hparams.js';
export {
  executeMemit,
  memitSolve,
  solveSystem,
  type LayerSolve,
  type MemitLayerResult,
  type MemitRun,
  type MemitOptions,
} from './memit-main.js';
export { computeZ, computeZs, Z_BATCH, type MemitZ } from './compute-z.js';

/** MEMIT's template groups: explicit ones from the context (a flat list = one group), else sampled and cached. */
export function memitTemplates(model: CausalLM, hp: MemitHParams, ctx: EditContext): string[][] {
  if (ctx.contextTemplates) return asGroups(ctx.contextTemplates);
  return contextTemplates(model, ctx.tokenizer, 'memit', { seed: ctx.seed ?? hp.template_seed });
}

const norm = (xs: number[]): number => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));

function applyMemit(model: CausalLM, requests: EditRequest[], hp: MemitHParams, ctx: EditContext): EditResult {
  return applyMemitFamily('MEMIT', model, requests, hp, ctx);
}

/**
 * A method of MEMIT's pipeline (z, keys, residual spread over the layers) with its own per-layer
 * closed form `solve` (EMMET, AlphaEdit); `afterRun` sees the run before its tensors are freed.
 */
export function applyMemitFamily(
  name: string,
  model: CausalLM,
  requests: EditRequest[],
  hp: MemitHParams,
  ctx: EditContext,
  family: { solve?: LayerSolve; afterRun?: (run: MemitRun) => void } = {},
): EditResult {
  const t0 = performance.now();
  const groups = memitTemplates(model, hp, ctx);
  const tTemplates = (performance.now() - t0) / 1000;
  using editor = new WeightEditor(model, ctx.transformDelta);
  const inLoop = hp.rect_in_loop && ctx.transformDelta !== undefined;
  using run = executeMemit(model, ctx.tokenizer, requests, hp, groups, ctx, {
    ...(inLoop ? { loopEditor: editor } : {}),
    ...(family.solve ? { solve: family.solve } : {}),
  });
  family.afterRun?.(run);
  // post hoc: the loop's own changes were undone; apply each final Δ_l (through RECT when set)
  if (!inLoop) for (const l of run.layers) editor.add(l.weightName, l.deltaW);
  const diags = requests.map((r, i) => diagnostics(r, run.zs[i]!));
  const timings = {
    templates: tTemplates,
    z_optimisation: run.seconds.z,
    layers: run.seconds.layers,
    total: (performance.now() - t0) / 1000,
  };
  return editor.result(name, diags, timings, ctx.apply ?? true);
}

/** z's losses and norms. */
function diagnostics(r: EditRequest, z: MemitZ): RequestDiagnostics {
  const [first, last] = [z.steps[0]!, z.steps[z.steps.length - 1]!];
  return {
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
  };
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
