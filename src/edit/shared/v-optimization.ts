/**
 * The δ optimisation shared by ROME (v*, δ at the MLP output of layer ℓ) and MEMIT (z, δ at
 * the block output of L), methods.md §1.5:
 *   L(δ) = mean_p −(1/|t|) Σ_j log P(t_j) + kl_factor·KL(P_δ ‖ P_0) + v_weight_decay·‖δ‖/‖h₀‖²
 * with torch's Adam, early stop at 5e-2, no step on the last iteration, and projection onto
 * ‖δ‖ ≤ clamp_norm_factor·‖h₀‖. Everything up to the edited block is computed once.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { lengthGroups } from '../../models/length-groups.js';
import type { CausalLM } from '../../models/types.js';
import { Trace } from '../../models/hooks.js';
import { moduleAt } from '../hparams.js';
import { Adam } from './adam.js';
import { flatRows, inContext, lookupRows, rightPad, type LookupRow } from './keys.js';
import type { FactToken, SubjectIndexRule, SubjectPrompt } from './subject-index.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { ResumeTrace } from './resume-trace.js';

/** The hparams the optimisation reads (EasyEdit names). */
export interface VOptHParams {
  v_num_grad_steps: number;
  v_lr: number;
  v_weight_decay: number;
  clamp_norm_factor: number;
  kl_factor: number;
}

export interface VOptInput {
  /** rewriting prompts: context + prompt + decode(target[:-1]); lookup = subject token */
  rewriting: readonly LookupRow[];
  /** KL prompts ("{subject} is a"); lookup = subject token */
  kl: readonly LookupRow[];
  targetIds: readonly number[];
  /** 'mlp': δ added to the MLP output of `layer` (ROME); 'block': to the block output (MEMIT) */
  site: 'mlp' | 'block';
  layer: number;
  /**
   * MEMIT reads the NLL from ln_f(block output of this layer) @ lm_head; when it is the last
   * block (every preset) that equals the model logits. Omit for ROME (model logits).
   */
  lossLayer?: number;
  /** module names (EasyEdit `*_module_tmp`); default: the model's architecture info */
  modules?: { layer?: string; mlp?: string; lnF?: string; lmHead?: string };
}

export interface VOptResult {
  /** δ [D] */
  delta: Tensor;
  /** h₀ [D]: the site's output at the lookup token of rewriting prompt 0, δ = 0 */
  h0: Tensor;
  /** per forward pass: [loss, nll, kl, weight decay] */
  steps: [number, number, number, number][];
}

/**
 * The rewriting prompts `template.format(prompt) + decode(target[:-1])` and the KL prompt, tokenised.
 * @example const { rewriting, kl } = vPrompts(tok, parts, targetIds, ['{}'], hp);
 */
export function vPrompts(
  tok: Tokenizer,
  prompt: SubjectPrompt,
  targetIds: readonly number[],
  templates: readonly string[],
  hp: { fact_token: FactToken; subjectIndexRule: SubjectIndexRule },
): { rewriting: LookupRow[]; kl: LookupRow[] } {
  const tail = tok.decode(targetIds.slice(0, -1));
  const rewriting = lookupRows(
    tok,
    templates.map((t) => inContext(t, prompt, tail)),
    hp.fact_token,
    hp.subjectIndexRule,
  );
  const kl = lookupRows(tok, [{ pre: '', subject: prompt.subject, post: ' is a' }], hp.fact_token, hp.subjectIndexRule);
  return { rewriting, kl };
}

const f = Math.fround;

function norm32(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return f(Math.sqrt(s));
}

/** ln_f as the model applies it (LayerNorm for GPT-2/GPT-J, RMSNorm for LLaMA). */
function finalNorm(model: CausalLM, name: string, x: Tensor): Tensor {
  const w = model.param(`${name}.weight`);
  const b = model.params.get(`${name}.bias`) ?? null;
  return model.config.arch === 'llama' ? T.rmsNorm(x, w, model.config.normEps) : T.layerNorm(x, w, b, model.config.normEps);
}

/** LM head on selected rows: x [R, D] → logits [R, V] (+ bias when the head has one). */
function lmHead(model: CausalLM, name: string, x: Tensor): Tensor {
  // a tied head (stories260K's lm_head) has no weight of its own: use the embedding it shares
  const own = model.params.has(`${name}.weight`);
  const w = model.param(`${own ? name : model.arch.lmHead}.weight`); // [V, D]
  const b = own ? model.params.get(`${name}.bias`) : undefined;
  const y = T.matmul(x, T.transpose(w)); // [R, V]
  return b ? T.add(y, b) : y;
}


/**
 * Optimise δ for one request.
 * @example const { delta, h0, steps } = optimizeDelta(model, { rewriting, kl, targetIds, site: 'mlp', layer: 17 }, hp);
 */
export function optimizeDelta(model: CausalLM, input: VOptInput, hp: VOptHParams): VOptResult {
  return optimizeDeltas(model, [input], hp)[0]!;
}

/** Validated per-request facts of the optimisation. */
interface Problem {
  input: VOptInput;
  rows: LookupRow[];
  m: number;
  nRw: number;
}

/**
 * Optimise the δ of several requests together (MEMIT's batch): one forward/backward per step
 * over all their prompts, each request with its own δ, Adam state, norm clamp and early stop
 * — the same result as one request at a time, since a request's rows see only its own δ.
 * All inputs share the site, layer, loss layer and modules.
 * @example const [a, b] = optimizeDeltas(model, [inputA, inputB], hp);
 */
export function optimizeDeltas(model: CausalLM, inputs: readonly VOptInput[], hp: VOptHParams): VOptResult[] {
  if (inputs.length === 0) return [];
  const input = inputs[0]!;
  for (const other of inputs) {
    if (other.site !== input.site || other.layer !== input.layer || other.lossLayer !== input.lossLayer || JSON.stringify(other.modules ?? {}) !== JSON.stringify(input.modules ?? {}))
      throw new Error('v optimisation: requests optimised together must share the site, layer, loss layer and modules');
  }
  const { arch } = model;
  const D = arch.hiddenSize;
  const layer = input.layer;
  const nLayers = arch.numLayers;
  if (!Number.isInteger(layer) || layer < 0 || layer >= nLayers)
    throw new Error(`v optimisation: layer ${layer} is outside [0, ${nLayers})`);
  const lossLayer = input.lossLayer === undefined ? nLayers - 1 : Math.max(input.lossLayer, layer);
  if (lossLayer >= nLayers) throw new Error(`v optimisation: v_loss_layer ${lossLayer} is outside [0, ${nLayers})`);
  const problems: Problem[] = inputs.map((inp) => {
    const m = inp.targetIds.length;
    if (m === 0) throw new Error('v optimisation: empty target');
    const nRw = inp.rewriting.length;
    if (nRw === 0) throw new Error('v optimisation: no rewriting prompts');
    for (const r of inp.rewriting) {
      if (r.ids.length < m)
        throw new Error(`v optimisation: a rewriting prompt of ${r.ids.length} tokens cannot hold ${m} target positions`);
    }
    return { input: inp, rows: [...inp.rewriting, ...inp.kl], m, nRw };
  });
  const P = problems.length;
  const layerTmp = input.modules?.layer || arch.layerTemplate;
  const lnF = input.modules?.lnF || arch.finalNorm;
  const head = input.modules?.lmHead || arch.lmHead;
  const blockName = moduleAt(layerTmp, layer);
  const siteName = input.site === 'mlp' ? moduleAt(input.modules?.mlp || arch.mlpTemplate, layer) : blockName;
  const lossBlock = moduleAt(layerTmp, lossLayer);
  if (blockName !== moduleAt(arch.layerTemplate, layer))
    throw new Error(`v optimisation: layer module "${blockName}" is not a block of this model (${arch.layerTemplate})`);
  const useLogits = input.lossLayer === undefined || lossLayer === nLayers - 1;

  // every prompt of every request, tagged with its request
  const all = problems.flatMap((pr, p) => pr.rows.map((row, i) => ({ p, i, row })));
  // NLL rows (each target position of each rewriting prompt) and KL rows, in group order, with
  // their request and weight: Σ_rows w·(−log p) = mean over prompts of the per-prompt mean NLL
  const nllOwner: number[] = [];
  const nllWeight: number[] = [];
  const labels: number[] = [];
  const klOwner: number[] = [];
  const klWeight: number[] = [];

  // Rows of similar length run together: right-padding 22 prompts of 7–19 tokens to one length
  // wasted a quarter of every step's work. Each group is its own batch; the NLL and KL rows of
  // all groups meet again before the LM head.
  const groups = lengthGroups(all.map((a) => a.row.ids.length)).map((members) => {
    const ids = rightPad(members.map((k) => all[k]!.row.ids)); // [Bg, Tg]
    const Tn = ids.shape[1]!;
    const nllRowIdx: number[] = [];
    const klRowIdx: number[] = [];
    members.forEach((k, b) => {
      const { p, i, row } = all[k]!;
      const pr = problems[p]!;
      if (i < pr.nRw) {
        // rewriting prompt of length n scores target j at position n − m + j (no shift)
        for (let j = 0; j < pr.m; j++) {
          nllRowIdx.push(b * Tn + row.ids.length - pr.m + j);
          labels.push(pr.input.targetIds[j]!);
          nllOwner.push(p);
          nllWeight.push(1 / (pr.m * pr.nRw));
        }
      } else {
        klRowIdx.push(b * Tn + row.idx);
        klOwner.push(p);
        klWeight.push(hp.kl_factor / pr.input.kl.length);
      }
    });
    return {
      members,
      ids,
      Tn,
      // δ of the prompt's request goes in at its lookup token
      deltaRows: flatRows(
        members.map((k) => all[k]!.row.idx),
        Tn,
      ),
      owner: T.tensor(Int32Array.from(members.map((k) => all[k]!.p)), [members.length], 'int32'),
      nllRows: T.tensor(Int32Array.from(nllRowIdx), [nllRowIdx.length], 'int32'),
      klRows: klRowIdx.length > 0 ? T.tensor(Int32Array.from(klRowIdx), [klRowIdx.length], 'int32') : null,
      base2d: null as Tensor | null,
    };
  });
  const labelT = T.tensor(Int32Array.from(labels), [labels.length], 'int32');
  const nllW = T.tensor(Float32Array.from(nllWeight), [nllWeight.length], 'float32');
  const klW = T.tensor(Float32Array.from(klWeight), [klWeight.length], 'float32');
  const hasKl = klWeight.length > 0;

  // δ = 0 pass up to the edited block: its output is fixed for the whole optimisation
  const h0s: (Tensor | null)[] = new Array<Tensor | null>(P).fill(null);
  for (const g of groups) {
    T.noGrad(() =>
      T.tidy(() => {
        const tr = new Trace({ retainOutput: [...new Set([siteName, blockName])], stopAfter: blockName });
        try {
          model.forward({ ids: g.ids, trace: tr, logits: 'none' });
          g.base2d = T.keep(T.reshape(T.clone(tr.output(blockName)), [g.members.length * g.Tn, D])); // [Bg·Tg, D]
          const site = T.reshape(T.contiguous(tr.output(siteName)), [g.members.length * g.Tn, D]);
          g.members.forEach((k, b) => {
            const { p, i, row } = all[k]!;
            if (i !== 0) return;
            const at = b * g.Tn + row.idx;
            h0s[p] = T.keep(T.reshape(T.clone(T.narrow(site, 0, at, at + 1)), [D])); // [D]
          });
        } finally {
          tr.dispose();
        }
      }),
    );
  }
  const h0: Tensor[] = h0s.map((h) => {
    if (!h) throw new Error('v optimisation: internal error, a request has no rewriting prompt 0');
    return h;
  });

  const delta = T.keep(T.zeros([P, D])); // float32 leaf; row p is request p's δ
  const dAll = delta.storage as Float32Array;
  const state = h0.map((h, p) => {
    const h0Norm = norm32(Float32Array.from(h.toArray()));
    return {
      d: dAll.subarray(p * D, (p + 1) * D),
      h0NormSq: f(h0Norm * h0Norm),
      maxNorm: f(f(hp.clamp_norm_factor) * h0Norm),
      opt: new Adam(D, { lr: hp.v_lr }),
      steps: [] as VOptResult['steps'],
      done: false,
    };
  });
  let klInit: Tensor | null = null;

  // NLL and KL (the differentiable part of the loss, summed over requests) and their values per
  // request; the traces hold what the backward still reads: the caller disposes them
  const terms = (): { total: Tensor; nll: number[]; kl: number[]; traces: ResumeTrace[] } => {
    const traces: ResumeTrace[] = [];
    try {
      const nllParts: Tensor[] = [];
      const klParts: Tensor[] = [];
      for (const g of groups) {
        const Bg = g.members.length;
        const edited = (): Tensor => {
          const rep = T.indexSelect(delta, g.owner); // [Bg, D]
          return T.reshape(T.addRows(g.base2d!, g.deltaRows, rep), [Bg, g.Tn, D]);
        };
        const tr = new ResumeTrace(model, layer, edited, useLogits ? {} : { retainOutput: [lossBlock] });
        traces.push(tr);
        const out = model.forward({ ids: g.ids, trace: tr, logits: 'none' });
        const hidden = T.reshape(out.hidden!, [Bg * g.Tn, D]); // final-norm output
        if (g.nllRows.shape[0]! > 0) {
          nllParts.push(
            useLogits
              ? T.indexSelect(hidden, g.nllRows)
              : finalNorm(model, lnF, T.indexSelect(T.reshape(tr.output(lossBlock), [Bg * g.Tn, D]), g.nllRows)),
          );
        }
        if (g.klRows) klParts.push(T.indexSelect(hidden, g.klRows));
      }
      const nllIn = nllParts.length === 1 ? nllParts[0]! : T.concat(nllParts, 0); // [R, D]
      const logProbs = T.logSoftmax(lmHead(model, head, nllIn), -1); // [R, V]
      const nllRow = T.mul(T.nllLoss(logProbs, labelT, { reduction: 'none' }), nllW); // [R]
      let total = T.sum(nllRow);
      const nll = perRequest(nllRow, nllOwner, P);
      let kl = new Array<number>(P).fill(0);
      if (hasKl) {
        const klIn = klParts.length === 1 ? klParts[0]! : T.concat(klParts, 0); // [nKL, D]
        const klLogProbs = T.logSoftmax(lmHead(model, head, klIn), -1); // [nKL, V]
        if (!klInit) klInit = T.keep(T.noGrad(() => T.clone(klLogProbs)));
        // KL(P_δ ‖ P_0) per prompt, times kl_factor / (KL prompts of its request)
        const klRow = T.mul(T.sum(T.klDivLoss(klInit, klLogProbs, 'none'), -1), klW); // [nKL]
        total = T.add(total, T.sum(klRow));
        kl = perRequest(klRow, klOwner, P);
      }
      return { total, nll, kl, traces };
    } catch (e) {
      traces.forEach((t) => t.dispose());
      throw e;
    }
  };

  // record [loss, nll, kl, wd] of each running request; unless it stops, take its Adam step
  // from the gradient of the summed loss (its own rows only see its δ) and project
  const lossAndStep = (r: { total: Tensor; nll: number[]; kl: number[] }, last: boolean): boolean => {
    const stepping: number[] = [];
    for (const [p, st] of state.entries()) {
      if (st.done) continue;
      const nllV = f(r.nll[p]!);
      const klV = f(r.kl[p]!);
      const wd = f(f(hp.v_weight_decay) * f(norm32(st.d) / st.h0NormSq));
      const loss = f(f(nllV + klV) + wd);
      st.steps.push([loss, nllV, klV, wd]);
      if (loss < 5e-2 || last) st.done = true;
      else stepping.push(p);
    }
    if (stepping.length === 0) return true;
    T.backward(r.total);
    const grad = delta.grad ? (delta.grad.storage as Float32Array) : new Float32Array(P * D);
    for (const p of stepping) {
      const st = state[p]!;
      const g = Float32Array.from(grad.subarray(p * D, (p + 1) * D));
      const dNorm = norm32(st.d);
      // d(c·‖δ‖)/dδ = c·δ/‖δ‖, and 0 at δ = 0 as torch's norm backward gives
      if (dNorm > 0) {
        const c = f(f(hp.v_weight_decay) / st.h0NormSq);
        for (let i = 0; i < D; i++) g[i] = f(g[i]! + f(f(c * st.d[i]!) / dNorm));
      }
      st.opt.stepArrays(st.d, g);
      const n = norm32(st.d);
      if (n > st.maxNorm) for (let i = 0; i < D; i++) st.d[i] = f(f(st.d[i]! * st.maxNorm) / n);
    }
    T.zeroGrad([delta]);
    return false;
  };

  try {
    for (let it = 0; it < hp.v_num_grad_steps; it++) {
      const last = it === hp.v_num_grad_steps - 1;
      const stop = T.tidy(() => {
        delta.requiresGrad = !last;
        const r = last ? T.noGrad(terms) : terms();
        try {
          return lossAndStep(r, last);
        } finally {
          r.traces.forEach((t) => t.dispose());
        }
      });
      if (stop) break;
    }
    return state.map((st, p) => ({
      delta: T.keep(T.tensor(Float32Array.from(st.d), [D], 'float32')),
      h0: h0[p]!,
      steps: st.steps,
    }));
  } catch (e) {
    h0.forEach((h) => h.dispose());
    throw e;
  } finally {
    delta.requiresGrad = false;
    T.zeroGrad([delta]);
    delta.dispose();
    (klInit as Tensor | null)?.dispose();
    [labelT, nllW, klW].forEach((t) => t.dispose());
    for (const g of groups) [g.ids, g.deltaRows, g.owner, g.nllRows, g.klRows, g.base2d].forEach((t) => t?.dispose());
  }
}

/** Σ of a [rows] vector's values by request (float32 values summed in float64). */
function perRequest(values: Tensor, owner: readonly number[], P: number): number[] {
  const v = T.noGrad(() => values.toArray());
  const out = new Array<number>(P).fill(0);
  owner.forEach((p, i) => (out[p] = out[p]! + v[i]!));
  return out;
}
