/**
 * torch.optim.Adam (single-tensor path, no weight decay, no amsgrad) on a float32 vector,
 * with every operation rounded to float32 as PyTorch computes it.
 */
import type { Tensor } from '../../tensor/index.js';

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
}

const f = Math.fround;

/**
 * Adam state for one parameter of `n` elements.
 * @example
 * const opt = new Adam(64, { lr: 0.5 });
 * opt.step(delta, grad); // delta updated in place
 */
export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  /** number of steps taken */
  t = 0;

  constructor(
    readonly n: number,
    opts: AdamOptions,
  ) {
    this.lr = opts.lr;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.m = new Float32Array(n);
    this.v = new Float32Array(n);
  }

  /**
   * One update of `param` (values, modified in place) from `grad`:
   * m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
   * p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)  (eps added after the bias correction).
   */
  stepArrays(param: Float32Array, grad: ArrayLike<number>): void {
    if (param.length !== this.n || grad.length !== this.n)
      throw new Error(`Adam: expected ${this.n} elements, got ${param.length} / ${grad.length}`);
    this.t += 1;
    const { beta1: b1, beta2: b2 } = this;
    const bc1 = 1 - Math.pow(b1, this.t);
    const bc2 = 1 - Math.pow(b2, this.t);
    // PyTorch computes these scalars in Python double precision
    const stepSize = this.lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    for (let i = 0; i < this.n; i++) {
      const g = f(grad[i]!);
      // exp_avg.mul_(β1).add_(g, alpha=1−β1); exp_avg_sq.mul_(β2).addcmul_(g, g, value=1−β2)
      this.m[i] = f(f(this.m[i]! * f(b1)) + f(f(1 - b1) * g));
      this.v[i] = f(f(this.v[i]! * f(b2)) + f(f(f(1 - b2) * g) * g));
      // denom = (exp_avg_sq.sqrt() / √bc2).add_(eps); param.addcdiv_(exp_avg, denom, value=−step_size)
      const denom = f(f(f(Math.sqrt(this.v[i]!)) / f(bc2Sqrt)) + f(this.eps));
      param[i] = f(param[i]! + f(f(f(-stepSize) * this.m[i]!) / denom));
    }
  }

  /** Update a contiguous float32 tensor in place from its gradient tensor. */
  step(param: Tensor, grad: Tensor): void {
    if (param.dtype !== 'float32' || !param.isContiguous())
      throw new Error('Adam: the parameter must be a contiguous float32 tensor');
    const p = (param.storage as Float32Array).subarray(param.offset, param.offset + param.size);
    this.stepArrays(p, grad.toArray());
  }
}
