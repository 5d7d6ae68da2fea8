/**
 * The fine-tuning loop shared by FT-L and FT-M (kmeng01/rome and EasyEdit `execute_ft`): pick
 * the trained parameters by substring, run Adam for `num_steps` epochs with the step skipped
 * on a small loss and an optional L∞ box, and return Δ = W − W_orig with the model unchanged.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import { scoreContinuations } from '../../models/score.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { WeightEditor } from '../apply.js';
import { moduleAt } from '../hparams.js';
import { spacedTarget, validateRequest } from '../request.js';
import type { EditContext, EditRequest, EditResult, RequestDiagnostics } from '../types.js';
import { Adam } from '../shared/adam.js';
import type { FTHParams } from './hparams.js';
import {
  padId,
  promptEncoding,
  promptLastBatch,
  promptLastLoss,
  targetEncoding,
  targetNewBatch,
  targetNewLoss,
  unkId,
  type Example,
  type LossBatch,
} from './losses.js';

/** Backward and the Adam step run only when the batch loss is at least this; an epoch whose mean loss is below it ends training. */
export const LOSS_THRESHOLD = 1e-2;

/**
 * Names of the trained parameters: every parameter whose name contains
 * `rewrite_module_tmp.format(layer)` for a layer in `layers` (so GPT-2 trains `c_proj.weight`
 * AND `c_proj.bias`; a template ending in `.weight` matches only the weight). Model order.
 * @example trainedParamNames(gpt2, hp) // ['transformer.h.0.mlp.c_proj.weight', 'transformer.h.0.mlp.c_proj.bias']
 */
export function trainedParamNames(model: CausalLM, hp: Pick<FTHParams, 'layers' | 'rewrite_module_tmp'>): string[] {
  const patterns = hp.layers.map((l) => moduleAt(hp.rewrite_module_tmp, l));
  const names = [...model.params.keys()].filter((n) => patterns.some((p) => n.includes(p)));
  if (names.length === 0) {
    const near = [...model.params.keys()]
      .filter((n) => n.includes(moduleAt(hp.rewrite_module_tmp, 0).split('.').slice(-2).join('.')))
      .slice(0, 3);
    throw new Error(
      `FT: no parameter name contains ${patterns.map((p) => `"${p}"`).join(' or ')} (layers ${hp.layers.join(', ')}; the model has ${model.arch.numLayers} layers${near.length ? `; e.g. ${near.join(', ')}` : ''})`,
    );
  }
  return names;
}

/** W ← clamp(W, lo, hi) elementwise (torch.clamp with tensor bounds: min(max(W, lo), hi)). */
export function clampInPlace(w: Tensor, lo: Tensor, hi: Tensor): void {
  T.noGrad(() => T.tidy(() => T.assign(w, T.minimum(T.maximum(w, lo), hi))));
}

/**
 * torch.optim.Adam over several parameters: one shared single-tensor Adam state per
 * parameter, with torch's `weight_decay` (L2 added to the gradient: g ← g + λ·p).
 * @example const opt = new ParamsAdam([w, b], 5e-4, 0); opt.step([w.grad, b.grad]);
 */
export class ParamsAdam {
  private readonly states: Adam[];

  constructor(
    private readonly params: readonly Tensor[],
    lr: number,
    private readonly weightDecay: number,
  ) {
    this.states = params.map((p) => new Adam(p.size, { lr }));
  }

  /** One step; a null gradient skips its parameter (torch skips params whose grad is None). */
  step(grads: readonly (Tensor | null)[]): void {
    this.params.forEach((p, i) => {
      const g = grads[i];
      if (!g) return;
      T.noGrad(() => T.tidy(() => this.states[i]!.step(p, this.weightDecay !== 0 ? T.add(g, T.mul(p, this.weightDecay)) : g)));
    });
  }
}

/** One mini-batch: its loss tensors and the requests (indices) it holds. */
interface MiniBatch {
  batch: LossBatch;
  requestIndex: number[];
}

/** Token ids of each request (prompt, spaced target; FT-M also the jointly tokenised prompt + target). */
export interface TokenizedRequest extends Example {
  /** prompt + target tokenised as one text (what FT-M trains on) */
  jointIds: number[];
}

/** Tokenise requests as both objectives need them. */
export function tokenizeRequests(
  tok: Tokenizer,
  requests: readonly EditRequest[],
  hp: Pick<FTHParams, 'legacy_target_space'>,
): TokenizedRequest[] {
  const penc = promptEncoding(tok);
  return requests.map((r, i) => {
    const target = spacedTarget(r.target_new, hp.legacy_target_space);
    const promptIds = tok.encode(r.prompt, penc);
    const targetIds = tok.encode(target, targetEncoding());
    if (promptIds.length === 0) throw new Error(`FT request ${i}: the prompt has no tokens`);
    if (targetIds.length === 0) throw new Error(`FT request ${i}: the target "${target}" has no tokens`);
    return { promptIds, targetIds, jointIds: tok.encode(r.prompt + target, penc) };
  });
}

function buildBatches(tok: Tokenizer, examples: readonly TokenizedRequest[], hp: FTHParams): MiniBatch[] {
  const out: MiniBatch[] = [];
  try {
    for (let s = 0; s < examples.length; s += hp.batch_size) {
      const requestIndex = examples.slice(s, s + hp.batch_size).map((_, j) => s + j);
      const chunk = requestIndex.map((i) => examples[i]!);
      const batch =
        hp.objective_optimization === 'prompt_last'
          ? promptLastBatch(chunk, { pad: padId(tok), unk: unkId(tok), legacyLastIndex: hp.legacy_last_index })
          : targetNewBatch(
              chunk.map((e) => ({ ids: e.jointIds, promptLength: e.promptIds.length })),
              { pad: padId(tok) },
            );
      out.push({ batch, requestIndex });
    }
  } catch (e) {
    out.forEach((b) => b.batch.dispose());
    throw e;
  }
  return out;
}

/** What the training loop produced; the caller owns `deltas`. */
export interface FTRun {
  /** Δ = W_trained − W_orig per trained parameter (float32, stored layout) */
  deltas: Map<string, Tensor>;
  /** per request, its loss at every epoch (before that epoch's step) */
  losses: number[][];
  /** mean loss of each epoch (the reference's loss_meter) */
  epochLosses: number[];
  epochs: number;
}

/**
 * Run the FT optimisation and return the deltas; the model's weights are unchanged afterwards.
 * The trained parameters are float32 copies put in the model's parameter map in place of
 * the originals for the duration (so the originals stay bit-exact, and half-precision
 * weights train in float32); they are the leaves that require grad.
 * @example const run = executeFT(model, tok, [request], FT_L_PRESETS['tiny-gpt2']!);
 */
export function executeFT(
  model: CausalLM,
  tok: Tokenizer,
  requests: readonly EditRequest[],
  hp: FTHParams,
  log?: (msg: string) => void,
): FTRun {
  const examples = tokenizeRequests(tok, requests, hp);
  return trainOnExamples(model, tok, examples, hp, log);
}

/** executeFT on already tokenised requests. */
export function trainOnExamples(
  model: CausalLM,
  tok: Tokenizer,
  examples: readonly TokenizedRequest[],
  hp: FTHParams,
  log?: (msg: string) => void,
): FTRun {
  const names = trainedParamNames(model, hp);
  const originals = names.map((n) => model.param(n));
  for (const [i, w] of originals.entries()) {
    // the shared Adam keeps float32 state; float64 models are not supported
    if (w.dtype !== 'float32' && w.dtype !== 'bfloat16' && w.dtype !== 'float16') {
      throw new Error(`FT: trains float32 (or half-precision, via a float32 copy) weights; ${names[i]} is ${w.dtype}`);
    }
  }
  const batches = buildBatches(tok, examples, hp);
  const owned: Tensor[] = [];
  const own = (t: Tensor): Tensor => {
    owned.push(T.keep(t));
    return t;
  };
  try {
    // half-precision weights train in float32
    const orig32 = originals.map((w) => (w.dtype === 'float32' ? w : own(T.noGrad(() => T.cast(w, 'float32')))));
    const params = orig32.map((w, i) => {
      const c = own(T.noGrad(() => T.clone(w)));
      c.name = names[i];
      c.requiresGrad = true;
      return c;
    });
    const nc = hp.norm_constraint;
    const box =
      nc === false ? null : orig32.map((w) => ({ lo: own(T.noGrad(() => T.sub(w, nc))), hi: own(T.noGrad(() => T.add(w, nc))) }));
    names.forEach((n, i) => model.params.set(n, params[i]!));
    const optimizer = new ParamsAdam(params, hp.lr, hp.weight_decay);
    const lossFn = hp.objective_optimization === 'prompt_last' ? promptLastLoss : targetNewLoss;
    const losses: number[][] = examples.map(() => []);
    const epochLosses: number[] = [];
    for (let epoch = 0; epoch < hp.num_steps; epoch++) {
      let sum = 0;
      let count = 0;
      for (const { batch, requestIndex } of batches) {
        const { value, rows } = T.tidy(() => {
          const perExample = lossFn(model, batch); // [B]
          const loss = T.mean(perExample);
          const value = loss.item();
          if (value >= LOSS_THRESHOLD) {
            T.backward(loss);
            optimizer.step(params.map((p) => p.grad));
          }
          T.zeroGrad(params);
          return { value, rows: perExample.toArray() };
        });
        // the box is applied after every mini-batch, stepped or not, as in the reference
        if (box) params.forEach((p, i) => clampInPlace(p, box[i]!.lo, box[i]!.hi));
        sum += value * requestIndex.length;
        count += requestIndex.length;
        requestIndex.forEach((r, j) => losses[r]!.push(rows[j]!));
      }
      const avg = sum / count;
      epochLosses.push(avg);
      log?.(`FT epoch ${epoch}: loss ${avg.toPrecision(6)}`);
      if (avg < LOSS_THRESHOLD) break;
    }
    const deltas = new Map<string, Tensor>();
    names.forEach((n, i) => deltas.set(n, T.keep(T.noGrad(() => T.sub(params[i]!, orig32[i]!)))));
    return { deltas, losses, epochLosses, epochs: epochLosses.length };
  } finally {
    names.forEach((n, i) => model.params.set(n, originals[i]!));
    for (const t of owned) t.dispose();
    batches.forEach((b) => b.batch.dispose());
  }
}

/** Mean teacher-forced NLL of each request's target tokens given its prompt (no grad). */
export function targetNll(model: CausalLM, examples: readonly Example[]): number[] {
  const scored = scoreContinuations(
    model,
    examples.map((e) => ({ prompt: e.promptIds, continuation: e.targetIds })),
  );
  return scored.map((s, i) => -s.logprob / examples[i]!.targetIds.length);
}

/**
 * The EditMethod body of FT-L and FT-M: train, then apply each Δ through a WeightEditor (RECT
 * transform, NaN check, snapshot, restore) like every other method.
 */
export function applyFT(method: string, model: CausalLM, requests: EditRequest[], hp: FTHParams, ctx: EditContext): EditResult {
  const t0 = performance.now();
  if (requests.length === 0) throw new Error(`${method}: no requests`);
  requests.forEach((r, i) =>
    validateRequest(r, `${method} request ${i}${r.case_id !== undefined ? ` (case ${r.case_id})` : ''}`, { needsSubject: false }),
  );
  const examples = tokenizeRequests(ctx.tokenizer, requests, hp);
  const pre = targetNll(model, examples);
  const t1 = performance.now();
  const run = trainOnExamples(model, ctx.tokenizer, examples, hp, ctx.log);
  const t2 = performance.now();
  using editor = new WeightEditor(model, ctx.transformDelta); // undone unless the result is returned
  try {
    for (const [name, delta] of run.deltas) editor.add(name, delta);
  } finally {
    for (const d of run.deltas.values()) d.dispose();
  }
  const t3 = performance.now();
  const post = targetNll(model, examples);
  const t4 = performance.now();
  const diagnostics: RequestDiagnostics[] = requests.map((r, i) => ({
    ...(r.case_id !== undefined ? { case_id: r.case_id } : {}),
    losses: run.losses[i]!,
    scalars: { pre_target_nll: pre[i]!, post_target_nll: post[i]!, epochs: run.epochs },
  }));
  const s = (ms: number) => ms / 1000;
  const timings = { score: s(t1 - t0 + (t4 - t3)), train: s(t2 - t1), apply: s(t3 - t2), total: s(t4 - t0) };
  return editor.result(method, diagnostics, timings, ctx.apply ?? true);
}
