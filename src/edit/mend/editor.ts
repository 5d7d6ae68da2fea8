/**
 * The MEND editor: one gradient transform per weight shape (`shared`) or per parameter, the
 * learned per-parameter edit learning rates α_p (`edit_lrs`), and the map from captured
 * (x, δ) to the pseudo-gradient update ΔW_p = α_p · lr_scale · Σ_t x̃_t δ̃_tᵀ (README.md, "The method", steps 3–5).
 * Tensor names are EasyEdit's state_dict keys, so our checkpoints and converted EasyEdit
 * checkpoints load through the same code.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import { GradientTransform, type TransformConfig } from './gradient-transform.js';
import type { MendHParams } from './hparams.js';
import type { Factors } from './gradient-capture.js';

/** One edited matrix and where its network, mode and edit learning rate live. */
export interface InnerParam {
  /** HF parameter name, e.g. 'transformer.h.3.mlp.c_fc.weight' */
  name: string;
  /** hooked module (the name without '.weight') */
  module: string;
  /** x dimension (layer input) and δ dimension (layer output) */
  din: number;
  dout: number;
  /** 'in_out' (GPT-2 Conv1D, stored [din, dout]) or 'out_in' (Linear, stored [dout, din]) */
  layout: 'in_out' | 'out_in';
  /** key of its transform: '(din, dout)' when shared (EasyEdit's str(tuple(shape))), else the name with '#' for '.' */
  netKey: string;
  /** index among the parameters of its shape (shared), else null */
  mode: number | null;
  /** position in inner_params = index into edit_lrs */
  index: number;
}

/**
 * Where each inner parameter sits in `model`, with clear errors for names that are not 2-D
 * weights of a hookable linear module.
 * @example resolveInnerParams(model, ['transformer.h.3.mlp.c_fc.weight'], true)[0].netKey // '(64, 256)'
 */
export function resolveInnerParams(model: CausalLM, names: readonly string[], shared: boolean): InnerParam[] {
  const modes = new Map<string, number>();
  return names.map((name, index) => {
    if (!name.endsWith('.weight'))
      throw new Error(`MEND: inner param "${name}" is not a weight (expected a name ending in .weight)`);
    const w = model.param(name);
    if (w.rank !== 2) throw new Error(`MEND: inner param ${name} has shape [${w.shape.join(', ')}], expected a matrix`);
    const module = name.slice(0, -'.weight'.length);
    if (!model.hookPoints.has(module))
      throw new Error(`MEND: inner param ${name} does not belong to a hookable module (${module})`);
    const layout = model.arch.weightLayout;
    const [din, dout] = layout === 'in_out' ? [w.shape[0]!, w.shape[1]!] : [w.shape[1]!, w.shape[0]!];
    const shapeKey = `(${din}, ${dout})`;
    const netKey = shared ? shapeKey : name.replaceAll('.', '#');
    let mode: number | null = null;
    if (shared) {
      mode = modes.get(shapeKey) ?? 0;
      modes.set(shapeKey, mode + 1);
    }
    return { name, module, din, dout, layout, netKey, mode, index };
  });
}

export function transformConfig(hp: MendHParams): TransformConfig {
  return {
    rank: hp.rank,
    nHidden: hp.n_hidden,
    init: hp.init as TransformConfig['init'],
    norm: hp.norm,
    combine: hp.combine,
    oneSided: hp.one_sided,
    xOnly: hp.x_only,
    deltaOnly: hp.delta_only,
  };
}

/** The statistics buffers of one transform, EasyEdit names. */
const STAT_KEYS = ['u_mean', 'v_mean', 'u_std', 'v_std', 'u_s', 'v_s', 'k'] as const;

/**
 * The trainable editor.
 * @example
 * const ed = MendEditor.create(model, hp);        // untrained: U = 0, α = edit_lr
 * const dW = ed.deltas(factors, hp.lr_scale);      // Map<param name, ΔW in stored layout>
 */
export class MendEditor {
  private constructor(
    readonly params: InnerParam[],
    readonly transforms: Map<string, GradientTransform>,
    /** α_p, float [P] */
    readonly editLrs: Tensor,
  ) {}

  /** A fresh editor for `model` (network init seeded with hp.seed). */
  static create(model: CausalLM, hp: MendHParams, dtype: 'float32' | 'float64' = 'float32'): MendEditor {
    const params = resolveInnerParams(model, hp.inner_params, hp.shared);
    const cfg = transformConfig(hp);
    const rng = new T.Rng(hp.seed);
    const transforms = new Map<string, GradientTransform>();
    for (const p of params) {
      if (transforms.has(p.netKey)) continue;
      const nModes = hp.shared ? params.filter((q) => q.netKey === p.netKey).length : null;
      transforms.set(p.netKey, GradientTransform.create(p.din, p.dout, cfg, nModes, rng, dtype));
    }
    const editLrs = T.keep(T.full([params.length], hp.edit_lr, dtype));
    return new MendEditor(params, transforms, editLrs);
  }

  /** The outer (meta-learned) parameters by state_dict name: every network tensor, then `edit_lrs`. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [key, g] of this.transforms) for (const [n, t] of g.namedParameters()) out.push([`mend.${key}.${n}`, t]);
    out.push(['edit_lrs', this.editLrs]);
    return out;
  }

  /** Parameters plus the normalisation buffers (u_mean, u_std, u_s, k, ...), as saved. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>(this.namedParameters());
    for (const [key, g] of this.transforms) {
      if (g.xStats.count === 0) continue;
      const vec = (a: ArrayLike<number>, n: number) => T.keep(T.tensor(a, [n], 'float64'));
      out.set(`mend.${key}.u_mean`, vec(g.xStats.mean, g.din));
      out.set(`mend.${key}.v_mean`, vec(g.deltaStats.mean, g.dout));
      out.set(`mend.${key}.u_s`, vec(g.xStats.m2, g.din));
      out.set(`mend.${key}.v_s`, vec(g.deltaStats.m2, g.dout));
      const std = stdOrNull(g);
      if (std) {
        out.set(`mend.${key}.u_std`, vec(std[0], g.din));
        out.set(`mend.${key}.v_std`, vec(std[1], g.dout));
      }
      out.set(`mend.${key}.k`, vec([g.xStats.count], 1));
    }
    return out;
  }

  /**
   * Copy stored tensors in (our checkpoints and EasyEdit state_dicts; `gtn.` is the older
   * prefix of `mend.`). Every parameter must be present with its shape; statistics are
   * required when `norm` is on.
   */
  loadState(tensors: ReadonlyMap<string, Tensor>, source: string, norm: boolean): void {
    const byName = new Map<string, Tensor>();
    for (const [k, t] of tensors) byName.set(k.startsWith('gtn.') ? `mend.${k.slice(4)}` : k, t);
    const used = new Set<string>();
    const take = (name: string): Tensor | undefined => {
      const t = byName.get(name);
      if (t) used.add(name);
      return t;
    };
    for (const [name, p] of this.namedParameters()) {
      const t = take(name);
      if (!t)
        throw new Error(
          `${source}: missing tensor "${name}" [${p.shape.join(', ')}] (check inner_params, rank, n_hidden, shared and combine against the checkpoint)`,
        );
      if (t.rank !== p.rank || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(
          `${source}: tensor "${name}" has shape [${t.shape.join(', ')}], the editor expects [${p.shape.join(', ')}]`,
        );
      }
      T.noGrad(() => T.tidy(() => T.assign(p, T.cast(t, p.dtype))));
    }
    for (const [key, g] of this.transforms) {
      const st: Partial<Record<(typeof STAT_KEYS)[number], number[]>> = {};
      for (const s of STAT_KEYS) {
        const t = take(`mend.${key}.${s}`);
        if (t) st[s] = t.toArray();
      }
      if (!st.u_mean || !st.v_mean) {
        if (norm)
          throw new Error(
            `${source}: no normalisation statistics for "${key}" (mend.${key}.u_mean missing); is the editor trained?`,
          );
        continue;
      }
      const count = st.k?.[0] ?? NaN;
      const nanLike = (n: number) => new Array<number>(n).fill(NaN);
      g.xStats.load(st.u_mean, st.u_s ?? nanLike(g.din), count, st.u_std);
      g.deltaStats.load(st.v_mean, st.v_s ?? nanLike(g.dout), count, st.v_std);
    }
    const unexpected = [...byName.keys()].filter((k) => !used.has(k));
    if (unexpected.length) {
      throw new Error(
        `${source}: unexpected tensor(s) ${unexpected
          .slice(0, 5)
          .map((k) => `"${k}"`)
          .join(
            ', ',
          )}${unexpected.length > 5 ? ', ...' : ''} (the checkpoint was trained with other inner_params or network settings)`,
      );
    }
  }

  /** Training: add the captured rows of every inner parameter to its transform's statistics. */
  observe(factors: ReadonlyMap<string, Factors>): void {
    for (const p of this.params) {
      const f = factorsOf(factors, p);
      if (f.x.shape[0]! > 0) this.transforms.get(p.netKey)!.observe(f.x, f.delta);
    }
  }

  /**
   * ΔW_p = α_p · lrScale · Σ_t x̃_t δ̃_tᵀ for every inner parameter, in its stored layout
   * (GPT-2 [din, dout], Linear [dout, din]): one GEMM over the tokens. Differentiable w.r.t.
   * the network and α when grad mode is on; x and δ are inputs (no gradient through them).
   */
  deltas(factors: ReadonlyMap<string, Factors>, lrScale: number): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const p of this.params) {
      const f = factorsOf(factors, p);
      const g = this.transforms.get(p.netKey)!;
      let G: Tensor;
      if (f.x.shape[0] === 0) {
        G = T.zeros(
          p.layout === 'in_out' ? [p.din, p.dout] : [p.dout, p.din],
          this.editLrs.dtype === 'float64' ? 'float64' : 'float32',
        );
      } else {
        const [xt, dt] = g.forward(f.x, f.delta, p.mode); // [N, din], [N, dout]
        G = p.layout === 'in_out' ? T.matmul(T.transpose(xt), dt) : T.matmul(T.transpose(dt), xt); // [din, dout] | [dout, din]
      }
      const alpha = T.mul(T.select(this.editLrs, 0, p.index), lrScale); // []
      out.set(p.name, T.mul(G, alpha));
    }
    return out;
  }

  dispose(): void {
    for (const g of this.transforms.values()) g.dispose();
    this.editLrs.dispose();
  }
}

/** σ of x and δ, or null while there are fewer than two samples. */
function stdOrNull(g: GradientTransform): [Float64Array, Float64Array] | null {
  try {
    return [g.xStats.std(), g.deltaStats.std()];
  } catch {
    return null;
  }
}

function factorsOf(factors: ReadonlyMap<string, Factors>, p: InnerParam): Factors {
  const f = factors.get(p.module);
  if (!f) throw new Error(`MEND: no captured x/δ for ${p.module}`);
  if (f.x.shape[1] !== p.din || f.delta.shape[1] !== p.dout) {
    throw new Error(
      `MEND: captured x [${f.x.shape.join(', ')}] / δ [${f.delta.shape.join(', ')}] do not fit ${p.name} (${p.din} -> ${p.dout})`,
    );
  }
  return f;
}
