/**
 * Elementwise kernels: unary ops and their gradients, broadcast binary ops and `where`,
 * plus erf (JS has no Math.erf) and C-style pow.
 */
import type { BinaryOp, BinaryParams, FloatArray, UnaryOp, WhereParams } from '../../backend.js';
import { forEachStrided, requireLength, requireStrided, shapeSize } from './layout.js';

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_KAPPA = 0.044715;

/**
 * The error function, accurate to a few ulp.
 * |x| < 2.5: erf(x) = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)), a series of
 * same-signed terms (no cancellation). |x| >= 2.5: erf = 1 - erfc with erfc from its continued
 * fraction erfc(x) = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 0; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (2 * x2) / (2 * n + 3);
      sum += term;
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  if (ax > 6) return x > 0 ? 1 : -1; // erfc(6) = 2e-17 is below half an ulp of 1
  const r = 1 - erfcContinuedFraction(ax);
  return x > 0 ? r : -r;
}

/** erfc(x) for x >= 2.5 by the modified Lentz evaluation of its continued fraction. */
function erfcContinuedFraction(x: number): number {
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = 1 / (x + a * d);
    c = x + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/**
 * C/IEEE pow (what PyTorch computes), which differs from Math.pow in two places:
 * pow(1, y) = 1 for every y (even NaN) and pow(-1, +-Infinity) = 1; Math.pow gives NaN.
 */
export function cpow(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Math.sign, but NaN for NaN and 0 for +-0 (like torch.sign / sgn). */
function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN;
}

/** y = op(x) for one element. */
export function unaryValue(op: UnaryOp, x: number, p0: number, p1: number): number {
  switch (op) {
    case 'neg':
      return -x;
    case 'exp':
      return Math.exp(x);
    case 'log':
      return Math.log(x);
    case 'sqrt':
      return Math.sqrt(x);
    case 'rsqrt':
      return 1 / Math.sqrt(x);
    case 'tanh':
      return Math.tanh(x);
    case 'abs':
      return Math.abs(x);
    case 'sign':
      return sign(x);
    case 'sigmoid':
      return sigmoid(x);
    case 'relu':
      return Math.max(x, 0); // NaN stays NaN, like torch.relu
    case 'silu':
      return x * sigmoid(x);
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x)));
    case 'gelu_erf':
      return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
    case 'square':
      return x * x;
    case 'reciprocal':
      return 1 / x;
    case 'sin':
      return Math.sin(x);
    case 'cos':
      return Math.cos(x);
    case 'pow':
      return cpow(x, p0);
    case 'clamp':
      return Math.min(Math.max(x, p0), p1); // NaN propagates, like torch.clamp
  }
}

/** gy * op'(x) for one element (PyTorch's backward formulas, including its masking choices). */
export function unaryGradValue(op: UnaryOp, x: number, gy: number, p0: number, p1: number): number {
  switch (op) {
    case 'neg':
      return -gy;
    case 'exp':
      return gy * Math.exp(x);
    case 'log':
      return gy / x;
    case 'sqrt':
      return gy / (2 * Math.sqrt(x));
    case 'rsqrt': {
      const r = 1 / Math.sqrt(x);
      return -0.5 * gy * r * r * r;
    }
    case 'tanh': {
      const t = Math.tanh(x);
      return gy * (1 - t * t);
    }
    case 'abs':
      return gy * sign(x); // abs'(0) = 0
    case 'sign':
      return 0; // torch returns zeros, even where gy is NaN
    case 'sigmoid': {
      const s = sigmoid(x);
      return gy * s * (1 - s);
    }
    case 'relu':
      return x <= 0 ? 0 : gy; // torch threshold_backward: relu'(0) = 0, gy masked (not multiplied)
    case 'silu': {
      const s = sigmoid(x);
      return gy * s * (1 + x * (1 - s));
    }
    case 'gelu_tanh': {
      const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x));
      const dInner = SQRT_2_OVER_PI * (1 + 3 * GELU_KAPPA * x * x);
      return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner);
    }
    case 'gelu_erf': {
      const cdf = 0.5 * (1 + erf(x * Math.SQRT1_2));
      const pdf = INV_SQRT_2PI * Math.exp(-0.5 * x * x);
      return gy * (cdf + x * pdf);
    }
    case 'square':
      return gy * 2 * x;
    case 'reciprocal':
      return -gy / (x * x);
    case 'sin':
      return gy * Math.cos(x);
    case 'cos':
      return -gy * Math.sin(x);
    case 'pow':
      return p0 === 0 ? 0 : gy * p0 * cpow(x, p0 - 1); // torch: exponent 0 gives zeros
    case 'clamp':
      return p0 <= x && x <= p1 ? gy : 0; // inclusive bounds, gy masked like torch
  }
}

export function unary(op: UnaryOp, x: FloatArray, out: FloatArray, n: number, p0: number, p1: number): void {
  requireLength('unary', 'x', x, n);
  requireLength('unary', 'out', out, n);
  for (let i = 0; i < n; i++) out[i] = unaryValue(op, x[i]!, p0, p1);
}

export function unaryGrad(op: UnaryOp, x: FloatArray, gy: FloatArray, gx: FloatArray, n: number, p0: number, p1: number): void {
  requireLength('unaryGrad', 'x', x, n);
  requireLength('unaryGrad', 'gy', gy, n);
  requireLength('unaryGrad', 'gx', gx, n);
  for (let i = 0; i < n; i++) gx[i] = unaryGradValue(op, x[i]!, gy[i]!, p0, p1);
}

/** op(a, b) for one element pair. */
export function binaryValue(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return a / b;
    case 'pow':
      return cpow(a, b);
    case 'maximum':
      return Math.max(a, b); // NaN propagates, like torch.maximum
    case 'minimum':
      return Math.min(a, b);
    case 'eq':
      return a === b ? 1 : 0;
    case 'ne':
      return a !== b ? 1 : 0;
    case 'lt':
      return a < b ? 1 : 0;
    case 'le':
      return a <= b ? 1 : 0;
    case 'gt':
      return a > b ? 1 : 0;
    case 'ge':
      return a >= b ? 1 : 0;
  }
}

export function binary(p: BinaryParams): void {
  const { op, a, b, out } = p;
  requireStrided('binary', 'a', a, p.aOffset, p.aStrides, p.shape);
  requireStrided('binary', 'b', b, p.bOffset, p.bStrides, p.shape);
  requireLength('binary', 'out', out, shapeSize(p.shape));
  forEachStrided('binary', p.shape, [p.aOffset, p.bOffset], [p.aStrides, p.bStrides], (i, offs) => {
    out[i] = binaryValue(op, a[offs[0]!]!, b[offs[1]!]!);
  });
}

export function where(p: WhereParams): void {
  const { cond, a, b, out } = p;
  requireStrided('where', 'cond', cond, p.condOffset, p.condStrides, p.shape);
  requireStrided('where', 'a', a, p.aOffset, p.aStrides, p.shape);
  requireStrided('where', 'b', b, p.bOffset, p.bStrides, p.shape);
  requireLength('where', 'out', out, shapeSize(p.shape));
  forEachStrided('where', p.shape, [p.condOffset, p.aOffset, p.bOffset], [p.condStrides, p.aStrides, p.bStrides], (i, offs) => {
    // NaN != 0, so a NaN condition selects a (as bool(NaN) is true in PyTorch).
    out[i] = cond[offs[0]!]! !== 0 ? a[offs[1]!]! : b[offs[2]!]!;
  });
}
