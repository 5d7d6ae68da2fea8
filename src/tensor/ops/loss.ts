/**
 * Losses built from the differentiable primitives: NLL / cross-entropy with an ignore index
 * (PyTorch semantics) and KL divergence between log-distributions.
 */
import { Tensor, fmtShape } from '../tensor.js';
import { tensor } from './creation.js';
import { div, exp, mul, neg, sub } from './elementwise.js';
import { gather } from './indexing.js';
import { logSoftmax } from './nn.js';
import { mean, sum } from './reduce.js';
import { reshape } from './shape.js';
import { done, ids32 } from './util.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface NllOptions {
  /** Targets equal to this are skipped (PyTorch default -100). */
  ignoreIndex?: number;
  /** 'mean' averages over non-ignored targets (PyTorch); 'none' returns per-target losses. */
  reduction?: Reduction;
}

/**
 * Negative log-likelihood: logProbs [..., V], targets int32 [...] -> -logProbs[target].
 * Targets outside [0, V) other than ignoreIndex are an error naming the bad target.
 */
export function nllLoss(logProbs: Tensor, targets: Tensor, opts: NllOptions = {}): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? 'mean';
  ids32('nllLoss', targets);
  const V = logProbs.shape[logProbs.rank - 1]!;
  const lead = logProbs.shape.slice(0, -1);
  if (targets.rank !== lead.length || targets.shape.some((d, i) => d !== lead[i])) {
    throw new Error(`nllLoss: targets ${fmtShape(targets.shape)} do not match log-probs ${fmtShape(logProbs.shape)}`);
  }
  const t = targets.toArray();
  const keep = new Float64Array(t.length);
  const idx = new Int32Array(t.length);
  let count = 0;
  t.forEach((y, i) => {
    if (y === ignore) return;
    if (y < 0 || y >= V) throw new Error(`nllLoss: target ${y} at position ${i} is outside [0, ${V})`);
    idx[i] = y;
    keep[i] = 1;
    count++;
  });
  const dt = logProbs.dtype === 'float64' ? 'float64' : 'float32';
  const idxT = tensor(idx, [...lead, 1], 'int32');
  const maskT = tensor(keep, [...lead], dt);
  const picked = gather(logProbs, idxT);
  const flat = reshape(picked, lead);
  const masked = mul(flat, maskT);
  const per = neg(masked);
  let out: Tensor;
  if (reduction === 'none') out = per;
  else {
    const s = sum(per);
    // PyTorch returns NaN for a mean over zero targets; keep that behaviour
    out = reduction === 'sum' ? s : div(s, count);
    if (out !== s) done(out, s);
  }
  return done(out, idxT, maskT, picked, flat, masked, ...(out === per ? [] : [per]));
}

/** Cross-entropy from logits [..., V] and int32 targets [...]: nllLoss(logSoftmax(logits)). */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: NllOptions = {}): Tensor {
  const lp = logSoftmax(logits, -1);
  return done(nllLoss(lp, targets, opts), lp);
}

/**
 * PyTorch's `F.kl_div(input, target, log_target=True, reduction)`: sum exp(target) *
 * (target - input), i.e. KL(P_target || P_input) with both given as log-probabilities.
 * 'batchmean' divides the sum by the size of dim 0.
 */
export function klDivLoss(input: Tensor, target: Tensor, reduction: 'batchmean' | 'sum' | 'mean' | 'none' = 'batchmean'): Tensor {
  const p = exp(target);
  const d = sub(target, input);
  const terms = mul(p, d);
  let out: Tensor;
  if (reduction === 'none') out = terms;
  else if (reduction === 'mean') out = mean(terms);
  else {
    const s = sum(terms);
    out = reduction === 'sum' ? s : div(s, input.shape[0] ?? 1);
    if (out !== s) done(out, s);
  }
  return done(out, p, d, ...(out === terms ? [] : [terms]));
}

/** KL(P || Q) summed over the last dim, from log-probabilities logP, logQ [..., V]. */
export function kl(logP: Tensor, logQ: Tensor): Tensor {
  const p = exp(logP);
  const d = sub(logP, logQ);
  const terms = mul(p, d);
  return done(sum(terms, -1), p, d, terms);
}
