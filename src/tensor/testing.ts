/**
 * Test helpers shipped with the library: central finite-difference gradient checks and
 * tolerance comparisons. Used by lmedit's own tests and available to anyone adding an op or
 * a differentiable module (e.g. a MEND editor network).
 */
import { valueAndGrad, noGrad } from './autograd.js';
import { Rng } from './ops/creation.js';
import { mul } from './ops/elementwise.js';
import { sum } from './ops/reduce.js';
import { Tensor, fmtShape, tidy } from './tensor.js';
import { readElement, writeElement } from './dtype.js';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6, for float64 inputs). */
  eps?: number;
  /** Absolute tolerance (default 1e-6). */
  atol?: number;
  /** Relative tolerance on |numeric| (default 1e-5). */
  rtol?: number;
  /** Seed of the random projection of a non-scalar output. */
  seed?: number;
}

export interface GradcheckResult {
  maxAbsErr: number;
  worst: string;
}

/**
 * Compare d(sum(R * fn(inputs)))/d(inputs) by autograd with central differences, for a fixed
 * random R (so every output element matters). Inputs should be float64 leaves. Throws with
 * the worst element when any exceeds atol + rtol * |numeric|.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-6;
  const rtol = opts.rtol ?? 1e-5;
  const rng = new Rng(opts.seed ?? 1234);
  const probe = noGrad(() => tidy(() => fn(...inputs).shape));
  const R = rng.normal(probe, 1, 0, 'float64');
  const objective = (): Tensor => {
    const y = fn(...inputs);
    if (y.dtype !== 'float64') throw new Error(`gradcheck: fn returned ${y.dtype}; use float64 inputs`);
    return sum(mul(y, R));
  };
  const { value, grads } = valueAndGrad(objective, inputs);
  value.dispose();
  const f0 = (): number => noGrad(() => tidy(() => objective().item()));
  let maxAbsErr = 0;
  let worst = '';
  try {
    inputs.forEach((x, k) => {
      if (x.dtype !== 'float64') throw new Error(`gradcheck: input ${k} is ${x.dtype}; use float64`);
      if (!x.isContiguous()) throw new Error(`gradcheck: input ${k} must be contiguous`);
      const g = grads[k]!.toArray();
      for (let i = 0; i < x.size; i++) {
        const at = x.offset + i;
        const orig = readElement(x.dtype, x.storage, at);
        writeElement(x.dtype, x.storage, at, orig + eps);
        const fp = f0();
        writeElement(x.dtype, x.storage, at, orig - eps);
        const fm = f0();
        writeElement(x.dtype, x.storage, at, orig);
        const numeric = (fp - fm) / (2 * eps);
        const err = Math.abs(numeric - g[i]!);
        const excess = err - (atol + rtol * Math.abs(numeric));
        if (err > maxAbsErr) {
          maxAbsErr = err;
          worst = `input ${k} element ${i}`;
        }
        if (excess > 0 || !Number.isFinite(g[i]!)) {
          throw new Error(
            `gradcheck: input ${k} ${fmtShape(x.shape)} element ${i}: autograd ${g[i]} vs numeric ${numeric} (|diff| ${err.toExponential(2)})`,
          );
        }
      }
    });
  } finally {
    grads.forEach((g) => g.dispose());
    R.dispose();
  }
  return { maxAbsErr, worst };
}

/** max |a - b| over all elements, after checking shapes match. */
export function maxAbsDiff(a: Tensor | ArrayLike<number>, b: Tensor | ArrayLike<number>): number {
  const av = a instanceof Tensor ? a.toArray() : Array.from(a);
  const bv = b instanceof Tensor ? b.toArray() : Array.from(b);
  if (a instanceof Tensor && b instanceof Tensor && (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i]))) {
    throw new Error(`maxAbsDiff: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} differ`);
  }
  if (av.length !== bv.length) throw new Error(`maxAbsDiff: ${av.length} vs ${bv.length} elements`);
  let m = 0;
  for (let i = 0; i < av.length; i++) {
    const d = Math.abs(av[i]! - bv[i]!);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}
