/**
 * The ROME and R-ROME EditMethods: one request per call (sequential editing is the
 * orchestrator's job), ΔW applied through a WeightEditor (RECT via ctx.transformDelta).
 */
import type { CausalLM } from '../../models/types.js';
import { WeightEditor } from '../apply.js';
import type { EditContext, EditMethod, EditRequest, EditResult, RequestDiagnostics } from '../types.js';
import { asGroups, contextTemplates } from '../shared/context-templates.js';
import { ROME_PRESETS, R_ROME_PRESETS, parseRRomeHParams, parseRomeHParams, type RomeHParams } from './hparams.js';
import { disposeRomeLayer, executeRome } from './rome-main.js';

export { type RomeHParams, ROME_PRESETS, R_ROME_PRESETS, parseRomeHParams, parseRRomeHParams } from './hparams.js';
export { executeRome, disposeRomeLayer, type RomeLayerResult, type RomeRun } from './rome-main.js';

/** The flat template list ROME uses: explicit ones from the context, else sampled and cached. */
export function romeTemplates(model: CausalLM, hp: RomeHParams, ctx: EditContext): string[] {
  if (ctx.contextTemplates) return asGroups(ctx.contextTemplates).flat();
  const recipe = hp.templateRecipe === 'original' ? 'rome-original' : 'rome-easyedit';
  const lengthParams = hp.context_template_length_params.map(([len, n]) => [len!, n!] as const);
  return contextTemplates(model, ctx.tokenizer, recipe, { seed: ctx.seed ?? hp.templateSeed, lengthParams }).flat();
}

function applyRome(method: string, model: CausalLM, requests: EditRequest[], hp: RomeHParams, ctx: EditContext): EditResult {
  if (requests.length !== 1) {
    throw new Error(`${method} edits one request per call (got ${requests.length}); run several requests sequentially`);
  }
  const request = requests[0]!;
  const t0 = performance.now();
  const templates = romeTemplates(model, hp, ctx);
  const tTemplates = (performance.now() - t0) / 1000;
  const run = executeRome(model, ctx.tokenizer, request, hp, templates, ctx);
  const editor = new WeightEditor(model, ctx.transformDelta);
  const timings = { templates: tTemplates, keys: 0, v_optimisation: 0, update: 0, total: 0 };
  const diag: RequestDiagnostics = {
    losses: [],
    scalars: {},
    ...(request.case_id !== undefined ? { case_id: request.case_id } : {}),
  };
  try {
    const tApply = performance.now();
    for (const l of run.layers) editor.add(l.weightName, l.deltaW);
    timings.update += (performance.now() - tApply) / 1000;
  } catch (e) {
    editor.restore();
    editor.result(method, [], { total: 0 }, false).dispose();
    throw e;
  } finally {
    for (const l of run.layers) {
      timings.keys += l.timings.keys;
      timings.v_optimisation += l.timings.v_optimisation;
      timings.update += l.timings.update;
      diag.losses.push(...l.v.steps.map((s) => s[0]));
      const first = l.v.steps[0]!;
      const last = l.v.steps[l.v.steps.length - 1]!;
      Object.assign(diag.scalars, {
        [`layer${l.layer}.nll_init`]: first[1],
        [`layer${l.layer}.nll_final`]: last[1],
        [`layer${l.layer}.kl_final`]: last[2],
        [`layer${l.layer}.steps`]: l.v.steps.length,
        [`layer${l.layer}.delta_norm`]: l.v.delta.toArray().reduce((s, x) => s + x * x, 0) ** 0.5,
        [`layer${l.layer}.v_init_norm`]: l.v.vInit.toArray().reduce((s, x) => s + x * x, 0) ** 0.5,
        [`layer${l.layer}.right_norm`]: l.right.toArray().reduce((s, x) => s + x * x, 0) ** 0.5,
      });
      disposeRomeLayer(l);
    }
  }
  timings.total = (performance.now() - t0) / 1000;
  return editor.result(method, [diag], timings, ctx.apply ?? true);
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

/** R-ROME (Gupta et al. 2024): ROME with consistent keys (methods.md §3). */
export const rRome: EditMethod<RomeHParams> = {
  name: 'R-ROME',
  batchable: false,
  parseHParams: parseRRomeHParams,
  presets: R_ROME_PRESETS,
  apply: (model, requests, hp, ctx) => applyRome('R-ROME', model, requests, hp, ctx),
};
