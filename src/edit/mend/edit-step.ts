/**
 * MEND's edit (README.md, "The method", steps 1–6): capture x and δ on prompt + target, transform them
 * into the pseudo-gradient, and add ΔW_p = α_p · lr_scale · Σ_t x̃_t δ̃_tᵀ through the
 * WeightEditor. Also the meta-training objective: the same ΔW kept in the autograd graph,
 * the post-edit NLL on the rephrase and KL(pre ‖ post) on the locality input.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import { WeightEditor } from '../apply.js';
import { validateRequest } from '../request.js';
import type { EditContext, EditRequest, EditResult, RequestDiagnostics } from '../types.js';
import { loadEditor } from './checkpoint.js';
import type { MendEditor } from './editor.js';
import { captureFactors, type Capture } from './gradient-capture.js';
import type { MendHParams } from './hparams.js';
import { editBatch, forwardBatch, locKl, rowNll, targetNll, type LabelledBatch } from './inputs.js';

/** Capture x and δ for every inner parameter of `editor` on an edit batch. */
export function captureFor(model: CausalLM, editor: MendEditor, batch: LabelledBatch): Capture {
  return captureFactors(
    model,
    batch,
    editor.params.map((p) => ({ module: p.module, dout: p.dout })),
  );
}

/**
 * Run `fn` with every W_p replaced by W_p + ΔW_p as a node of the autograd graph (so the
 * post-edit loss differentiates into ΔW), and put the original tensors back afterwards.
 * @example withEditedWeights(model, deltas, () => targetNll(forwardBatch(model, b), b));
 */
export function withEditedWeights<R>(model: CausalLM, deltas: ReadonlyMap<string, Tensor>, fn: () => R): R {
  const originals = new Map<string, Tensor>();
  try {
    for (const [name, dW] of deltas) {
      const w = model.param(name);
      originals.set(name, w);
      const edited = T.add(w.dtype === dW.dtype ? w : T.cast(w, dW.dtype), dW); // W + ΔW
      edited.name = name;
      model.params.set(name, edited);
    }
    return fn();
  } finally {
    for (const [name, w] of originals) model.params.set(name, w);
  }
}

/** The three batches of one meta-training example. */
export interface MetaBatch {
  /** prompt + target: the edit input */
  edit: LabelledBatch;
  /** rephrase + target: scored after the edit (L_edit) */
  rephrase: LabelledBatch;
  /** locality prompt + answer: KL to the unedited model (L_loc) */
  loc: LabelledBatch;
}

/** The meta-objective's terms (scalars in the graph) and the post-edit logits. */
export interface MetaTerms {
  total: Tensor;
  edit: Tensor;
  loc: Tensor;
  rephraseLogits: Tensor;
  locLogits: Tensor;
}

/**
 * L = cedit · L_edit + cloc · L_loc after applying the editor's ΔW (training uses no
 * lr_scale, as EasyEdit's MEND.edit). Differentiable w.r.t. the editor's parameters.
 * `preLocLogProbs` [B, L, V] are the unedited model's log-probabilities on `batch.loc`.
 */
export function metaLoss(
  model: CausalLM,
  editor: MendEditor,
  capture: Capture,
  batch: MetaBatch,
  preLocLogProbs: Tensor,
  hp: MendHParams,
): MetaTerms {
  const deltas = editor.deltas(capture.factors, 1);
  return withEditedWeights(model, deltas, () => {
    const rephraseLogits = forwardBatch(model, batch.rephrase); // [B, L, V]
    const edit = targetNll(rephraseLogits, batch.rephrase);
    const locLogits = forwardBatch(model, batch.loc); // [B, L', V]
    const loc = locKl(preLocLogProbs, locLogits, batch.loc);
    const total = T.add(T.mul(edit, hp.cedit), T.mul(loc, hp.cloc));
    return { total, edit, loc, rephraseLogits, locLogits };
  });
}

/**
 * The EditMethod body: one stacked forward/backward for all requests, ΔW from the trained
 * editor in `hp.archive`, every ΔW applied through a WeightEditor (RECT, NaN check, restore).
 */
export function applyMend(model: CausalLM, requests: EditRequest[], hp: MendHParams, ctx: EditContext): EditResult {
  const t0 = performance.now();
  if (requests.length === 0) throw new Error('MEND: no requests');
  requests.forEach((r, i) =>
    validateRequest(r, `MEND request ${i}${r.case_id !== undefined ? ` (case ${r.case_id})` : ''}`, { needsSubject: false }),
  );
  const editor = loadEditor(hp.archive, model, hp, ctx.log);
  const t1 = performance.now();
  const batch = editBatch(
    ctx.tokenizer,
    requests.map((r) => ({ prompt: r.prompt, target: r.target_new })),
    hp.legacy_mend_labels,
  );
  using weights = new WeightEditor(model, ctx.transformDelta); // undone unless the result is returned
  try {
    const capture = captureFor(model, editor, batch);
    const t2 = performance.now();
    let t3 = t2;
    try {
      const deltas = T.noGrad(() => T.tidy(() => editor.deltas(capture.factors, hp.lr_scale)));
      try {
        for (const [name, dW] of deltas) weights.add(name, dW);
      } finally {
        for (const d of deltas.values()) d.dispose();
      }
      t3 = performance.now();
    } finally {
      capture.dispose();
    }
    const post = T.noGrad(() => T.tidy(() => rowNll(forwardBatch(model, batch), batch)));
    const t4 = performance.now();
    const diagnostics: RequestDiagnostics[] = requests.map((r, i) => ({
      ...(r.case_id !== undefined ? { case_id: r.case_id } : {}),
      losses: [capture.loss],
      scalars: { pre_target_nll: capture.rowNll[i]!, post_target_nll: post[i]! },
    }));
    const s = (ms: number) => ms / 1000;
    const timings = { load: s(t1 - t0), capture: s(t2 - t1), update: s(t3 - t2), score: s(t4 - t3), total: s(t4 - t0) };
    return weights.result('MEND', diagnostics, timings, ctx.apply ?? true);
  } finally {
    batch.dispose();
  }
}
