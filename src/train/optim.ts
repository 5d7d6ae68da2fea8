/**
 * AdamW (decoupled weight decay, as torch.optim.AdamW), global gradient-norm clipping (as
 * torch.nn.utils.clip_grad_norm_) and the warm-up + cosine learning-rate schedule, on the
 * float32 storage of the parameters (updated in place, no tensor temporaries).
 */
import type { Tensor } from '../tensor/index.js';

export interface AdamWOptions {
  /** default [0.9, 0.95] */
  betas?: [number, number];
  /** default 1e-8 */
  eps?: number;
  /** decoupled decay coefficient λ (p ← p − lr·λ·p) for the parameters `decay` selects; default 0.1 */
  weightDecay?: number;
  /** which parameters decay; default {@link defaultDecay} (matrices other than embeddings / LM head) */
  decay?: (name: string, param: Tensor) => boolean;
}

/**
 * Default weight-decay selection: 2-D weight matrices of the blocks decay; norms, biases,
 * token/position embeddings and an untied LM head (a per-token table like the embedding) do not.
 * Decaying per-token rows would pull rarely seen tokens (a fact's object) towards zero.
 */
export function defaultDecay(name: string, param: Tensor): boolean {
  if (param.rank < 2) return false;
  return !/(wte|wpe|embed_tokens|lm_head)\.weight$/.test(name);
}

/** One parameter's optimizer state. */
export interface AdamWSlot {
  readonly name: string;
  readonly param: Tensor;
  /** the parameter's elements (a view of its storage) */
  readonly data: Float32Array;
  /** first moment (exp_avg) */
  readonly m: Float32Array;
  /** second moment (exp_avg_sq) */
  readonly v: Float32Array;
  readonly decay: boolean;
}

/** The float32 elements of a contiguous float32 tensor, as a view (writes go to the tensor). */
export function float32View(t: Tensor, what: string): Float32Array {
  if (t.dtype !== 'float32' || !t.isContiguous())
    throw new Error(`${what}: needs a contiguous float32 tensor, got ${t.dtype}${t.isContiguous() ? '' : ' (strided)'}`);
  return (t.storage as Float32Array).subarray(t.offset, t.offset + t.size);
}

/**
 * AdamW over named parameters. Per element, with g the (clipped) gradient and t the step:
 *   p ← p − lr·λ·p  (decayed parameters only)
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
 * computed in double and stored in float32.
 * @example
 * const opt = new AdamW(model.params, { weightDecay: 0.1 });
 * opt.step(gradsByName, 1e-3);
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly slots: AdamWSlot[];
  /** steps taken (bias-correction exponent) */
  t = 0;

  constructor(params: ReadonlyMap<string, Tensor>, opts: AdamWOptions = {}) {
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.95];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.1;
    const decay = opts.decay ?? defaultDecay;
    this.slots = [...params].map(([name, param]) => {
      const data = float32View(param, `AdamW (parameter ${name})`);
      return { name, param, data, m: new Float32Array(data.length), v: new Float32Array(data.length), decay: decay(name, param) };
    });
  }

  /**
   * One update. `grads[i]` is the gradient of `slots[i]` (float32 array of the same length);
   * `gradScale` multiplies every gradient first (the clipping coefficient).
   */
  step(grads: readonly Float32Array[], lr: number, gradScale = 1): void {
    if (grads.length !== this.slots.length)
      throw new Error(`AdamW: ${grads.length} gradients for ${this.slots.length} parameters`);
    this.t += 1;
    const stepSize = lr / (1 - Math.pow(this.beta1, this.t));
    const bc2Sqrt = Math.sqrt(1 - Math.pow(this.beta2, this.t));
    for (let s = 0; s < this.slots.length; s++) {
      const slot = this.slots[s]!;
      const g = grads[s]!;
      if (g.length !== slot.data.length)
        throw new Error(`AdamW: gradient of ${slot.name} has ${g.length} elements, expected ${slot.data.length}`);
      const keep = slot.decay ? 1 - lr * this.weightDecay : 1;
      adamwKernel(slot.data, slot.m, slot.v, g, this.beta1, this.beta2, keep, stepSize, bc2Sqrt, this.eps, gradScale);
    }
  }
}

/** The element loop of AdamW.step (monomorphic on Float32Array: ~6 ns an element). */
function adamwKernel(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  b1: number,
  b2: number,
  keep: number,
  stepSize: number,
  bc2Sqrt: number,
  eps: number,
  gradScale: number,
): void {
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]! * gradScale;
    // the moments as stored (float32), as torch uses them
    const mi = Math.fround(b1 * m[i]! + c1 * gi);
    const vi = Math.fround(b2 * v[i]! + c2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i]! * keep - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

/** Global L2 norm of all gradients (accumulated in double). */
export function globalNorm(grads: readonly Float32Array[]): number {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  return Math.sqrt(ss);
}

/**
 * The clip_grad_norm_ coefficient: min(1, maxNorm / (norm + 1e-6)); 1 when maxNorm is Infinity
 * or not positive. Multiply the gradients by it.
 */
export function clipCoefficient(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0) || maxNorm === Infinity) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}

export interface LrSchedule {
  /** peak learning rate */
  lr: number;
  /** linear warm-up steps (lr·(s+1)/warmup for s < warmup) */
  warmupSteps: number;
  /** total optimizer steps (the cosine reaches minLr at the last one) */
  totalSteps: number;
  /** floor of the cosine decay */
  minLr: number;
}

/**
 * Learning rate for 0-based step s: linear warm-up to `lr` over `warmupSteps`, then cosine decay
 * from `lr` at s = warmupSteps to `minLr` at s = totalSteps − 1; minLr beyond.
 */
export function lrAt(step: number, s: LrSchedule): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  const span = s.totalSteps - 1 - s.warmupSteps;
  if (span <= 0) return s.lr;
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return s.minLr + 0.5 * (s.lr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}
