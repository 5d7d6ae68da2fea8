/**
 * The prompts of the v* and z optimisations, batched for speed without changing the result:
 * - rows of similar length run together (the padding DP of models/length-groups): right-padding
 *   22 prompts of 7–19 tokens to one length wasted a quarter of every step's work;
 * - the prompts of several requests share each batch, each row seeing only its own request's δ
 *   (MEMIT optimises up to 16 z at once);
 * - the residual stream up to the edited block is computed once, at δ = 0, and every step
 *   resumes from it (ResumeTrace), running only the blocks above the edit.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { lengthGroups } from '../../models/length-groups.js';
import { Trace } from '../../models/hooks.js';
import type { CausalLM } from '../../models/types.js';
import { moduleAt } from '../hparams.js';
import { flatRows, rightPad, type LookupRow } from './keys.js';
import { ResumeTrace } from './resume-trace.js';

/** One request's prompts. */
export interface DeltaPrompts {
  /** rewriting prompts: context + prompt + decode(target[:-1]); lookup = subject token */
  rewriting: readonly LookupRow[];
  /** KL prompts ("{subject} is a"); lookup = subject token */
  kl: readonly LookupRow[];
  targetIds: readonly number[];
}

/** Where δ goes in and where the NLL is read. */
export interface DeltaSite {
  /** 'mlp': δ is added to the MLP output of `layer` (ROME); 'block': to the block output (MEMIT) */
  site: 'mlp' | 'block';
  layer: number;
  /** the block whose output the NLL reads through the final norm and LM head */
  lossLayer: number;
}

/** Final-norm rows where the losses are read; holds the traces the backward still needs. */
export interface LossRows extends Disposable {
  /** one row per target token of every rewriting prompt [R, D] */
  nll: Tensor;
  /** the lookup token of every KL prompt [K, D], or null without KL prompts */
  kl: Tensor | null;
}

interface Group {
  /** int32 [Bg, Tg], right-padded */
  ids: Tensor;
  /** flat positions (b·Tg + lookup) where each row's δ goes in */
  deltaRows: Tensor;
  /** request of each row */
  owner: Tensor;
  /** flat positions of the NLL and KL rows */
  nllRows: Tensor;
  klRows: Tensor | null;
  /** the edited block's output at δ = 0 [Bg·Tg, D] */
  base: Tensor;
}

export class PromptBatches implements Disposable {
  /** h₀ of each request: the site's output at the lookup token of rewriting prompt 0, δ = 0 [D] */
  readonly h0: Tensor[];
  /** target token of each NLL row [R] (int32) */
  readonly labels: Tensor;
  /** request of each NLL row [1, R] and of each KL row [1, K] (int32, for perRequest) */
  readonly nllOwner: Tensor;
  readonly klOwner: Tensor | null;
  /** 1 / (|target| · |rewriting prompts|) per NLL row, 1 / |KL prompts| per KL row (float32) */
  readonly nllWeight: Tensor;
  readonly klWeight: Tensor | null;
  private readonly groups: Group[] = [];
  private readonly block: string;
  private readonly lossBlock: string | null;

  constructor(
    private readonly model: CausalLM,
    readonly requests: readonly DeltaPrompts[],
    private readonly where: DeltaSite,
  ) {
    const { arch } = model;
    this.block = moduleAt(arch.layerTemplate, where.layer);
    this.lossBlock = where.lossLayer === arch.numLayers - 1 ? null : moduleAt(arch.layerTemplate, where.lossLayer);
    const site = where.site === 'mlp' ? moduleAt(arch.mlpTemplate, where.layer) : this.block;

    const plan = planBatches(requests);
    const int32 = (xs: readonly number[], shape = [xs.length]): Tensor => T.tensor(Int32Array.from(xs), shape, 'int32');
    const float32 = (xs: readonly number[]): Tensor => T.tensor(Float32Array.from(xs), [xs.length], 'float32');
    const h0: (Tensor | null)[] = requests.map(() => null);
    try {
      for (const g of plan.batches) {
        const ids = rightPad(g.rows); // [Bg, Tg]
        const Tg = ids.shape[1]!;
        const deltaRows = flatRows(g.lookup, Tg);
        const flat = (rows: readonly [number, number][]): Tensor => int32(rows.map(([b, t]) => b * Tg + t));
        try {
          const base = this.baseRun(ids, deltaRows, site, g.promptZero, h0);
          const klRows = g.klRows.length > 0 ? flat(g.klRows) : null;
          this.groups.push({ ids, deltaRows, owner: int32(g.owner), nllRows: flat(g.nllRows), klRows, base });
        } catch (e) {
          ids.dispose();
          deltaRows.dispose();
          throw e;
        }
      }
    } catch (e) {
      this.groups.forEach(disposeGroup);
      h0.forEach((h) => h?.dispose());
      throw e;
    }
    this.h0 = h0.map((h) => h!);
    this.labels = int32(plan.labels);
    this.nllOwner = int32(plan.nll.owner, [1, plan.nll.owner.length]);
    this.nllWeight = float32(plan.nll.weight);
    const hasKl = plan.kl.owner.length > 0;
    this.klOwner = hasKl ? int32(plan.kl.owner, [1, plan.kl.owner.length]) : null;
    this.klWeight = hasKl ? float32(plan.kl.weight) : null;
  }

  /** The δ = 0 pass up to the edited block; records h₀ of the requests whose prompt 0 is in the batch. */
  private baseRun(ids: Tensor, deltaRows: Tensor, site: string, promptZero: readonly number[], h0: (Tensor | null)[]): Tensor {
    const D = this.model.arch.hiddenSize;
    const [Bg, Tg] = ids.shape as [number, number];
    const at = deltaRows.toArray();
    return T.noGrad(() =>
      T.tidy(() => {
        using tr = new Trace({ retainOutput: [...new Set([site, this.block])], stopAfter: this.block });
        this.model.forward({ ids, trace: tr, logits: 'none' });
        const siteOut = T.reshape(T.contiguous(tr.output(site)), [Bg * Tg, D]);
        promptZero.forEach((p, b) => {
          if (p >= 0) h0[p] = T.keep(T.reshape(T.clone(T.narrow(siteOut, 0, at[b]!, at[b]! + 1)), [D])); // [D]
        });
        return T.keep(T.reshape(T.clone(tr.output(this.block)), [Bg * Tg, D])); // [Bg·Tg, D]
      }),
    );
  }

  /**
   * Run the blocks above the edit with δ [P, D] (row p = request p's δ) added at every
   * prompt's lookup token, and gather the final-norm rows the NLL and KL read.
   */
  lossRows(delta: Tensor): LossRows {
    const { model } = this;
    const D = model.arch.hiddenSize;
    const traces: ResumeTrace[] = [];
    const release = (): void => traces.forEach((t) => t.dispose());
    try {
      const nll: Tensor[] = [];
      const kl: Tensor[] = [];
      for (const g of this.groups) {
        const [Bg, Tg] = g.ids.shape as [number, number];
        const edited = (): Tensor => T.reshape(T.addRows(g.base, g.deltaRows, T.indexSelect(delta, g.owner)), [Bg, Tg, D]);
        const tr = new ResumeTrace(model, this.where.layer, edited, this.lossBlock ? { retainOutput: [this.lossBlock] } : {});
        traces.push(tr);
        const hidden = T.reshape(model.forward({ ids: g.ids, trace: tr, logits: 'none' }).hidden!, [Bg * Tg, D]);
        if (g.nllRows.shape[0]! > 0) {
          // below the last block, the NLL reads ln_f(block output of the loss layer) (MEMIT's v_loss_layer)
          const lossHidden = this.lossBlock ? T.reshape(tr.output(this.lossBlock), [Bg * Tg, D]) : hidden;
          const rows = T.indexSelect(lossHidden, g.nllRows);
          nll.push(this.lossBlock ? model.finalNorm(rows) : rows);
        }
        if (g.klRows) kl.push(T.indexSelect(hidden, g.klRows));
      }
      const cat = (xs: Tensor[]): Tensor => (xs.length === 1 ? xs[0]! : T.concat(xs, 0));
      return { nll: cat(nll), kl: kl.length > 0 ? cat(kl) : null, [Symbol.dispose]: release };
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Σ of a row vector [R] by request → [P] (differentiable). */
  perRequest(values: Tensor, owner: Tensor): Tensor {
    const P = this.requests.length;
    const sums = T.scatterAdd(T.zeros([1, P], values.dtype), owner, T.reshape(values, [1, values.shape[0]!]));
    return T.reshape(sums, [P]);
  }

  [Symbol.dispose](): void {
    this.groups.forEach(disposeGroup);
    this.h0.forEach((h) => h.dispose());
    for (const t of [this.labels, this.nllOwner, this.nllWeight, this.klOwner, this.klWeight]) t?.dispose();
  }
}

/** One batch of the plan: its prompts and, per row, where δ goes in and what is read out. */
interface BatchPlan {
  rows: number[][];
  /** lookup token of each row */
  lookup: number[];
  /** request of each row */
  owner: number[];
  /** request whose rewriting prompt 0 is this row, or −1 (h₀ is read there) */
  promptZero: number[];
  /** [row, position] of each NLL row and each KL row, in the order of the global lists */
  nllRows: [number, number][];
  klRows: [number, number][];
}

/** Which prompts run together (length groups over all requests), and each NLL/KL row's label, owner and weight. */
function planBatches(requests: readonly DeltaPrompts[]): {
  batches: BatchPlan[];
  labels: number[];
  nll: { owner: number[]; weight: number[] };
  kl: { owner: number[]; weight: number[] };
} {
  // every prompt of every request: p = request, i = prompt (rewriting first, then KL)
  const all = requests.flatMap((r, p) => [...r.rewriting, ...r.kl].map((row, i) => ({ p, i, row })));
  const labels: number[] = [];
  const nll = { owner: [] as number[], weight: [] as number[] };
  const kl = { owner: [] as number[], weight: [] as number[] };
  const batches = lengthGroups(all.map((a) => a.row.ids.length)).map((members) => {
    const g: BatchPlan = { rows: [], lookup: [], owner: [], promptZero: [], nllRows: [], klRows: [] };
    members.forEach((k, b) => {
      const { p, i, row } = all[k]!;
      const r = requests[p]!;
      const m = r.targetIds.length;
      g.rows.push(row.ids);
      g.lookup.push(row.idx);
      g.owner.push(p);
      g.promptZero.push(i === 0 ? p : -1);
      if (i < r.rewriting.length) {
        // a rewriting prompt of n tokens predicts target j at position n − m + j
        for (let j = 0; j < m; j++) {
          g.nllRows.push([b, row.ids.length - m + j]);
          labels.push(r.targetIds[j]!);
          nll.owner.push(p);
          nll.weight.push(1 / (m * r.rewriting.length));
        }
      } else {
        g.klRows.push([b, row.idx]);
        kl.owner.push(p);
        kl.weight.push(1 / r.kl.length);
      }
    });
    return g;
  });
  return { batches, labels, nll, kl };
}

function disposeGroup(g: Group): void {
  for (const t of [g.ids, g.deltaRows, g.owner, g.nllRows, g.klRows, g.base]) t?.dispose();
}
