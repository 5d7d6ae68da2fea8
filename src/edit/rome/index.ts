/**
 * The ROME and R-ROME EditMethods: one request per call (sequential editing is the
 * orchestrator's job), ΔW applied through a WeightEditor (RECT via ctx.transformDelta).
 */
import type { CausalLM } from '../../models/types.js';
import { WeightEditor } from '../apply.js';
import type { EditContext, EditMethod, EditRequest, EditResult, RequestDiagnostics } from '../types.js';
import { asGroups, contextTemplates } from '../shared/context-templates.js';
import { ROME_PRESETS, R_ROME_PRESETS, parseRRomeHParams, parseRomeHParams, type RomeHParams } from './hparams.js';
import { executeRome, type RomeRun } from './rome-main.js';
import type { Tensor } from '../../tensor/index.js';

export { type RomeHParams, ROME_PRESETS, R_ROME_PRESETS, parseRomeHParams, parseRRomeHParams } from './hparams.js';
export { executeRome, type RomeLayerResult, type RomeRun } from './rome-main.js';

/** The flat template list ROME uses: explicit ones from the context, else sampled and cached. */
export function romeTemplates(model: CausalLM, hp: RomeHParams, ctx: EditContext): string[] {
  if (ctx.contextTemplates) return asGroups(ctx.contextTemplates).flat();
  const recipe = hp.template_recipe === 'original' ? 'rome-original' : 'rome-easyedit';
  const lengthParams = hp.context_template_length_params.map(([len, n]) => [len!, n!] as const);
  return contextTemplates(model, ctx.tokenizer, recipe, { seed: ctx.seed ?? hp.template_seed, lengthParams }).flat();
}

function applyRome(method: string, model: CausalLM, requests: EditRequest[], hp: RomeHParams, ctx: EditContext): EditResult {
  if (requests.length !== 1) {
    throw new Error(`${method} edits one request per call (got ${requests.length}); run several requests sequentially`);
  }
  const request = requests[0]!;
  const t0 = performance.now();
  const templates = romeTemplates(model, hp, ctx);
  const tTemplates = (performance.now() - t0) / 1000;
  using run = executeRome(model, ctx.tokenizer, request, hp, templates, ctx);
  using editor = new WeightEditor(model, ctx.transformDelta);
  const tApply = performance.now();
  for (const l of run.layers) editor.add(l.weightName, l.deltaW);
  const timings = { templates: tTemplates, keys: 0, v_optimisation: 0, update: (performance.now() - tApply) / 1000, total: 0 };
  for (const l of run.layers) {
    timings.keys += l.timings.keys;
    timings.v_optimisation += l.timings.v_optimisation;
    timings.update += l.timings.update;
  }
  timings.total = (performance.now() - t0) / 1000;
  return editor.result(method, [diagnostics(request, run)], timings, ctx.apply ?? true);
}

/** The v* losses and the norms of each layer's vectors. */
function diagnostics(request: EditRequest, run: RomeRun): RequestDiagnostics {
  const norm = (t: Tensor): number => t.toArray().reduce((s, x) => s + x * x, 0) ** 0.5;
  const diag: RequestDiagnostics = {
    losses: run.layers.flatMap((l) => l.v.steps.map((s) => s[0])),
    scalars: {},
    ...(request.case_id !== undefined ? { case_id: request.case_id } : {}),
  };
  for (const l of run.layers) {
    const [first, last] = [l.v.steps[0]!, l.v.steps[l.v.steps.length - 1]!];
    Object.assign(diag.scalars, {
      [`layer${l.layer}.nll_init`]: first[1],
      [`layer${l.layer}.nll_final`]: last[1],
      [`layer${l.layer}.kl_final`]: last[2],
      [`layer${l.layer}.steps`]: l.v.steps.length,
      [`layer${l.layer}.delta_norm`]: norm(l.v.delta),
      [`layer${l.layer}.v_init_norm`]: norm(l.v.vInit),
      [`layer${l.layer}.right_norm`]: norm(l.right),
    });
  }
  return diag;
}

/**
 * ROME (Meng et al. 2022).
 * @example
 * const hp = rome.presets['gpt2-xl']!;
 * const res = rome.apply(model, [{ prompt: 'The Eiffel Tower is in', subject: 'The Eiffel Tower', target_new: 'Rome' }], hp, { tokenizer });
 * res.restore(); // undo
 */
export const rome: EditMethod<RomeHParams> = {
  name: 'ROME',
  batchable: false,
  parseHParams: parseRomeHParams,
  presets: ROME_PRESETS,
  apply: (model, requests, hp, ctx) => applyRome('ROME', model, requests, hp, ctx),
};

/** R-ROME (Gupta et al. 2024): ROME with consistent keys (README.md, "The method"). */
export const rRome: EditMethod<RomeHParams> = {
  name: 'R-ROME',
  batchable: false,
  parseHParams: parseRRomeHParams,
  presets: R_ROME_PRESETS,
  apply: (model, requests, hp, ctx) => applyRome('R-ROME', model, requests, hp, ctx),
};
