/**
 * The gradient transform g of MEND (README.md, "The method", step 3): normalise the layer inputs x and
 * output gradients δ with running statistics, pass [x; δ] through an IDMLP (or one network per
 * side when `combine` is off), and split the result into (x̃, δ̃).
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { IDMLP, type IdmlpInit } from './idmlp.js';
import { RunningStats } from './normalizer.js';

/** Network settings taken from the hparams. */
export interface TransformConfig {
  rank: number;
  nHidden: number;
  init: IdmlpInit;
  norm: boolean;
  combine: boolean;
  oneSided: boolean;
  xOnly: boolean;
  deltaOnly: boolean;
}

/**
 * g for one weight shape (x ∈ ℝ^din, δ ∈ ℝ^dout), shared by `nModes` parameters.
 * @example
 * const g = GradientTransform.create(64, 256, cfg, 2, new T.Rng(42));
 * g.observe(x, delta); // training: update the running statistics
 * const [xt, dt] = g.forward(x, delta, 1);
 */
export class GradientTransform {
  /** x statistics (EasyEdit u_*) and δ statistics (v_*) */
  readonly xStats: RunningStats;
  readonly deltaStats: RunningStats;

  constructor(
    readonly din: number,
    readonly dout: number,
    readonly cfg: TransformConfig,
    /** combine: the network over [x; δ]; otherwise null */
    readonly mlp: IDMLP | null,
    /** combine off: the x network (null = identity) */
    readonly mlp1: IDMLP | null,
    /** combine off: the δ network (null = identity) */
    readonly mlp2: IDMLP | null,
  ) {
    this.xStats = new RunningStats(din);
    this.deltaStats = new RunningStats(dout);
  }

  /** Fresh networks as MEND builds them (`combined_net`, or `x_net` / `delta_net` / identity). */
  static create(
    din: number,
    dout: number,
    cfg: TransformConfig,
    nModes: number | null,
    rng: T.Rng,
    dtype: 'float32' | 'float64' = 'float32',
  ): GradientTransform {
    const net = (dim: number): IDMLP =>
      IDMLP.create({ dim, rank: cfg.rank, nHidden: cfg.nHidden, nModes, init: cfg.init, rng, dtype });
    if (cfg.combine) return new GradientTransform(din, dout, cfg, net(din + dout), null, null);
    let xNet = true;
    let dNet = true;
    if (cfg.oneSided) {
      // MEND transforms only the smaller side
      xNet = din <= dout;
      dNet = din > dout;
    } else if (cfg.xOnly) dNet = false;
    else if (cfg.deltaOnly) xNet = false;
    return new GradientTransform(din, dout, cfg, null, xNet ? net(din) : null, dNet ? net(dout) : null);
  }

  /** Parameters under EasyEdit's names relative to the transform (`mlp.layers.0.u`, `mlp1...`). */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, net] of [
      ['mlp', this.mlp],
      ['mlp1', this.mlp1],
      ['mlp2', this.mlp2],
    ] as const) {
      if (net) for (const [n, t] of net.namedParameters()) out.push([`${prefix}.${n}`, t]);
    }
    return out;
  }

  /** Training: add the rows of x [N, din] and δ [N, dout] to the running statistics. */
  observe(x: Tensor, delta: Tensor): void {
    const rows = x.shape[0]!;
    this.xStats.update(x.toArray(), rows);
    this.deltaStats.update(delta.toArray(), rows);
  }

  /**
   * (x̃, δ̃) for x [N, din] and δ [N, dout] (rows with x = 0 or δ = 0 already dropped);
   * differentiable w.r.t. the network parameters.
   */
  forward(x: Tensor, delta: Tensor, mode: number | null): [Tensor, Tensor] {
    const xIn = this.cfg.norm ? this.xStats.normalize(x) : x; // [N, din]
    const dIn = this.cfg.norm ? this.deltaStats.normalize(delta) : delta; // [N, dout]
    if (this.mlp) {
      const out = this.mlp.forward(T.concat([xIn, dIn], 1), mode); // [N, din + dout]
      const [xt, dt] = T.split(out, [this.din, this.dout], 1);
      return [xt!, dt!];
    }
    return [this.mlp1 ? this.mlp1.forward(xIn, mode) : xIn, this.mlp2 ? this.mlp2.forward(dIn, mode) : dIn];
  }

  dispose(): void {
    this.mlp?.dispose();
    this.mlp1?.dispose();
    this.mlp2?.dispose();
  }
}
