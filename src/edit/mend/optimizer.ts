/**
 * The outer-loop optimizer of MEND training: torch.optim.Adam over named tensors (one
 * instance for the network at `lr`, one for edit_lrs at `lr_lr`), gradient accumulation,
 * global-norm clipping (torch's clip_grad_norm_) and a state that can be saved and resumed.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';

/** The float storage of a contiguous whole tensor (parameters and their buffers). */
function data(t: Tensor): Float32Array | Float64Array {
  if (!t.isWholeStorage() || (t.dtype !== 'float32' && t.dtype !== 'float64'))
    throw new Error(`optimizer: ${t.name ?? 'tensor'} must be a whole float tensor`);
  return t.storage as Float32Array | Float64Array;
}

/**
 * Adam (β 0.9/0.999, ε 1e-8, no weight decay) with bias correction as torch computes it.
 * @example
 * const opt = new NamedAdam([['edit_lrs', editLrs]], 1e-4);
 * opt.step(grads); // grads: Map<name, Float64Array>
 */
export class NamedAdam {
  readonly m = new Map<string, Float64Array>();
  readonly v = new Map<string, Float64Array>();
  t = 0;

  constructor(
    readonly params: readonly [string, Tensor][],
    readonly lr: number,
    readonly betas: [number, number] = [0.9, 0.999],
    readonly eps = 1e-8,
  ) {
    for (const [n, p] of params) {
      this.m.set(n, new Float64Array(p.size));
      this.v.set(n, new Float64Array(p.size));
    }
  }

  /** p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε). */
  step(grads: ReadonlyMap<string, Float64Array>): void {
    this.t += 1;
    const [b1, b2] = this.betas;
    const stepSize = this.lr / (1 - b1 ** this.t);
    const bc2 = Math.sqrt(1 - b2 ** this.t);
    for (const [n, p] of this.params) {
      const g = grads.get(n);
      if (!g) continue;
      const w = data(p);
      const m = this.m.get(n)!;
      const v = this.v.get(n)!;
      for (let i = 0; i < w.length; i++) {
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
        v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
        w[i] = w[i]! - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / bc2 + this.eps);
      }
    }
  }
}

/**
 * Sums of per-iteration gradients between optimizer steps (each divided by accumulate_bs,
 * as MEND's safe_backward does), skipping iterations whose gradient is not finite.
 */
export class GradAccumulator {
  readonly sums = new Map<string, Float64Array>();

  constructor(params: readonly [string, Tensor][]) {
    for (const [n, p] of params) this.sums.set(n, new Float64Array(p.size));
  }

  /** Add grads / divisor; returns false (and adds nothing) when any value is NaN or ±Inf. */
  add(grads: ReadonlyMap<string, Tensor>, divisor: number): boolean {
    // read the typed storage directly: a GPT-2 XL editor has ~60M parameters, too many for
    // number[] copies every iteration
    const copies: Tensor[] = [];
    try {
      const arrays = new Map<string, Float32Array | Float64Array>();
      for (const [n, g] of grads) {
        const whole = g.isWholeStorage() ? g : T.noGrad(() => T.clone(g));
        if (whole !== g) copies.push(whole);
        if (whole.dtype !== 'float32' && whole.dtype !== 'float64')
          throw new Error(`GradAccumulator: gradient of ${n} is ${whole.dtype}`);
        const a = whole.storage as Float32Array | Float64Array;
        for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
        arrays.set(n, a);
      }
      for (const [n, a] of arrays) {
        const s = this.sums.get(n);
        if (!s) throw new Error(`GradAccumulator: unknown parameter ${n}`);
        if (s.length !== a.length)
          throw new Error(`GradAccumulator: gradient of ${n} has ${a.length} values, the parameter ${s.length}`);
        for (let i = 0; i < a.length; i++) s[i]! += a[i]! / divisor;
      }
      return true;
    } finally {
      copies.forEach((t) => t.dispose());
    }
  }

  /** torch.nn.utils.clip_grad_norm_: scale every gradient by min(1, max/(‖g‖ + 1e-6)); returns ‖g‖. */
  clip(maxNorm: number): number {
    let sq = 0;
    for (const s of this.sums.values()) for (const x of s) sq += x * x;
    const norm = Math.sqrt(sq);
    if (!Number.isFinite(norm)) throw new Error(`MEND training: the total gradient norm is ${norm} (non-finite)`);
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) for (const s of this.sums.values()) for (let i = 0; i < s.length; i++) s[i]! *= coef;
    return norm;
  }

  zero(): void {
    for (const s of this.sums.values()) s.fill(0);
  }
}

/** Adam moments and accumulated gradients as tensors (`adam.<opt>.m.<name>`, ..., `grad.<name>`) for a checkpoint. */
export function optimizerTensors(opts: Record<string, NamedAdam>, acc: GradAccumulator): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [key, o] of Object.entries(opts)) {
    for (const [n, m] of o.m) out.set(`adam.${key}.m.${n}`, T.keep(T.tensor(m, [m.length], 'float64')));
    for (const [n, v] of o.v) out.set(`adam.${key}.v.${n}`, T.keep(T.tensor(v, [v.length], 'float64')));
  }
  for (const [n, s] of acc.sums) out.set(`grad.${n}`, T.keep(T.tensor(s, [s.length], 'float64')));
  return out;
}

/** Restore what optimizerTensors saved; `steps` is each optimizer's step count. */
export function restoreOptimizer(
  opts: Record<string, NamedAdam>,
  acc: GradAccumulator,
  tensors: ReadonlyMap<string, Tensor>,
  steps: number,
): void {
  const fill = (dst: Float64Array, name: string): void => {
    const t = tensors.get(name);
    if (!t || t.size !== dst.length) throw new Error(`MEND training state: missing or mis-sized "${name}"`);
    dst.set(t.toArray());
  };
  for (const [key, o] of Object.entries(opts)) {
    o.t = steps;
    for (const [n, m] of o.m) fill(m, `adam.${key}.m.${n}`);
    for (const [n, v] of o.v) fill(v, `adam.${key}.v.${n}`);
  }
  for (const [n, s] of acc.sums) fill(s, `grad.${n}`);
}
