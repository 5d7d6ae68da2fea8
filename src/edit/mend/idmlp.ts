/**
 * MEND's IDMLP: `n_hidden + 1` residual low-rank layers h ← h + max(0, s_m ⊙ (U V h + b) + o_m),
 * with U initialised to 0 so the network starts as the identity (README.md, "The method", step 3).
 * Parameter names follow EasyEdit's `LRLinear` (u, v, bias, mode_scale, mode_shift).
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';

/** One low-rank layer; u [D, r], v [r, D], bias [D], per-mode scale/shift [M, D] (null without modes). */
export interface LowRankLayer {
  u: Tensor;
  v: Tensor;
  bias: Tensor;
  modeScale: Tensor | null;
  modeShift: Tensor | null;
}

export type IdmlpInit = 'id' | 'xavier';

/** torch.nn.init.xavier_uniform_ for a [rows, cols] weight: U(±gain·√(6/(rows + cols))). */
function xavier(rng: T.Rng, rows: number, cols: number, gain: number, dtype: 'float32' | 'float64'): Tensor {
  const bound = gain * Math.sqrt(6 / (rows + cols));
  return rng.uniform([rows, cols], -bound, bound, dtype);
}

/**
 * The identity-initialised low-rank MLP over D-vectors.
 * @example
 * const net = IDMLP.create({ dim: 320, rank: 32, nHidden: 1, nModes: 2, init: 'id', rng: new T.Rng(42) });
 * const out = net.forward(h, 1); // h [N, 320] -> [N, 320]; equals h while U = 0
 */
export class IDMLP {
  constructor(
    readonly dim: number,
    readonly layers: LowRankLayer[],
    readonly init: IdmlpInit,
  ) {}

  /** Fresh parameters: U = 0 and V ~ N(0, 1) ('id'), or Xavier ('xavier'); scale 1, shift 0, bias 0. */
  static create(o: {
    dim: number;
    rank: number;
    nHidden: number;
    nModes: number | null;
    init: IdmlpInit;
    rng: T.Rng;
    dtype?: 'float32' | 'float64';
  }): IDMLP {
    const dt = o.dtype ?? 'float32';
    const D = o.dim;
    const r = Math.min(o.rank, D);
    const layers: LowRankLayer[] = [];
    for (let l = 0; l < o.nHidden + 1; l++) {
      const u = o.init === 'id' ? T.zeros([D, r], dt) : xavier(o.rng, D, r, Math.SQRT2, dt);
      const v = o.init === 'id' ? o.rng.normal([r, D], 1, 0, dt) : xavier(o.rng, r, D, 1, dt);
      layers.push({
        u: T.keep(u),
        v: T.keep(v),
        bias: T.keep(T.zeros([D], dt)),
        modeScale: o.nModes === null ? null : T.keep(T.ones([o.nModes, D], dt)),
        modeShift: o.nModes === null ? null : T.keep(T.zeros([o.nModes, D], dt)),
      });
    }
    return new IDMLP(D, layers, o.init);
  }

  /** Parameters under EasyEdit's names relative to the network (`layers.0.u`, `layers.0.mode_scale.weight`, ...). */
  namedParameters(): [string, Tensor][] {
    return this.layers.flatMap((L, l) => {
      const out: [string, Tensor][] = [
        [`layers.${l}.u`, L.u],
        [`layers.${l}.v`, L.v],
        [`layers.${l}.bias`, L.bias],
      ];
      if (L.modeScale) out.push([`layers.${l}.mode_scale.weight`, L.modeScale]);
      if (L.modeShift) out.push([`layers.${l}.mode_shift.weight`, L.modeShift]);
      return out;
    });
  }

  /** h [N, D] -> [N, D]; `mode` picks the scale/shift row (null when the network has no modes). */
  forward(h: Tensor, mode: number | null): Tensor {
    let x = h;
    for (const L of this.layers) {
      const low = T.matmul(x, T.transpose(L.v)); // [N, r]
      let pre = T.add(T.matmul(low, T.transpose(L.u)), L.bias); // [N, D]
      if (mode !== null) {
        if (!L.modeScale || !L.modeShift) throw new Error('IDMLP: a mode was given but the network has no modes');
        if (mode < 0 || mode >= L.modeScale.shape[0]!)
          throw new Error(`IDMLP: mode ${mode} outside [0, ${L.modeScale.shape[0]})`);
        pre = T.add(T.mul(pre, T.select(L.modeScale, 0, mode)), T.select(L.modeShift, 0, mode)); // [N, D]
      }
      // clamp, not relu: its gradient at exactly 0 is 1, so U = 0 still learns
      const acts = T.clamp(pre, 0, Infinity); // [N, D]
      x = this.init === 'id' ? T.add(acts, x) : acts;
    }
    return x;
  }

  dispose(): void {
    for (const [, t] of this.namedParameters()) t.dispose();
  }
}
