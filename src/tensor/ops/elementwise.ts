/**
 * Elementwise ops with NumPy broadcasting: unary functions (GELU both ways, SiLU, ...),
 * binary arithmetic and comparisons, where(). Numbers are accepted wherever a tensor operand
 * is, and act as scalars of the other operand's dtype.
 */
import type { BinaryOp, UnaryOp } from '../backend.js';
import { record } from '../autograd.js';
import { Tensor, fmtShape } from '../tensor.js';
import { scalar } from './creation.js';
import {
  be,
  broadcastShapes,
  broadcastStrides,
  computeDtype,
  f,
  output,
  sameDtype,
  sumToShape,
  withContiguous,
  type ComputeDType,
} from './util.js';

export type Operand = Tensor | number;

// ---- unary -------------------------------------------------------------------------------

function unary(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0): Tensor {
  const dt = computeDtype(op, x);
  const out = output(x.shape, dt);
  withContiguous(x, (xc) => be().unary(op, f(xc), f(out), x.size, p0, p1));
  return record(out, op, [x], (g) => [unaryGrad(op, x, g, p0, p1)]);
}

function unaryGrad(op: UnaryOp, x: Tensor, g: Tensor, p0: number, p1: number): Tensor {
  const gx = output(x.shape, g.dtype);
  withContiguous(x, (xc) => withContiguous(g, (gc) => be().unaryGrad(op, f(xc), f(gc), f(gx), x.size, p0, p1)));
  return gx;
}

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const sign = (x: Tensor): Tensor => unary('sign', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const silu = (x: Tensor): Tensor => unary('silu', x);
/** HF `gelu_new` (GPT-2): the tanh approximation. */
export const gelu = (x: Tensor): Tensor => unary('gelu_tanh', x);
/** Exact GELU with erf (HF `gelu`). */
export const geluErf = (x: Tensor): Tensor => unary('gelu_erf', x);
export const square = (x: Tensor): Tensor => unary('square', x);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x);
export const sin = (x: Tensor): Tensor => unary('sin', x);
export const cos = (x: Tensor): Tensor => unary('cos', x);
/** Clamp to [lo, hi] (either may be infinite); gradient 1 inside, 0 outside. */
export const clamp = (x: Tensor, lo: number, hi: number): Tensor => {
  if (lo > hi) throw new Error(`clamp: lo ${lo} > hi ${hi}`);
  return unary('clamp', x, lo, hi);
};

// ---- binary ------------------------------------------------------------------------------

function lift(v: Operand, dt: ComputeDType): Tensor {
  return typeof v === 'number' ? scalar(v, dt) : v;
}

function dtypeOf(op: string, a: Operand, b: Operand): ComputeDType {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  if (typeof a === 'number') return computeDtype(op, b as Tensor);
  if (typeof b === 'number') return computeDtype(op, a);
  return sameDtype(op, a, b);
}

/** Forward only: out = op(a, b) broadcast. */
function binaryForward(op: BinaryOp, a: Operand, b: Operand): Tensor {
  const dt = dtypeOf(op, a, b);
  const A = lift(a, dt);
  const B = lift(b, dt);
  try {
    const shape = broadcastShapes(op, A.shape, B.shape);
    const out = output(shape, dt);
    be().binary({
      op,
      a: f(A),
      aOffset: A.offset,
      aStrides: broadcastStrides(A, shape),
      b: f(B),
      bOffset: B.offset,
      bStrides: broadcastStrides(B, shape),
      out: f(out),
      shape,
    });
    return out;
  } finally {
    if (A !== a) A.dispose();
    if (B !== b) B.dispose();
  }
}

type Rule = (g: Tensor, a: Operand, b: Operand, out: Tensor) => [Tensor | null, Tensor | null];

function binary(op: BinaryOp, a: Operand, b: Operand, rule: Rule | null): Tensor {
  const out = binaryForward(op, a, b);
  if (!rule) return out;
  const inputs: Tensor[] = [];
  if (a instanceof Tensor) inputs.push(a);
  if (b instanceof Tensor) inputs.push(b);
  return record(out, op, inputs, (g) => {
    const [ga, gb] = rule(g, a, b, out);
    const res: (Tensor | null)[] = [];
    if (a instanceof Tensor) res.push(ga && reduceTo(ga, a, g));
    if (b instanceof Tensor) res.push(gb && reduceTo(gb, b, g));
    return res;
  });
}

/** Sum a broadcast gradient down to t's shape, freeing the unreduced one unless it is `keep`. */
function reduceTo(g: Tensor, t: Tensor, keepAlive?: Tensor): Tensor {
  const r = sumToShape(g, t.shape);
  if (r !== g && g !== keepAlive) g.dispose();
  return r;
}

/** Numbers in backward rules: a tensor operand when it requires grad, else just a value. */
const needs = (v: Operand): boolean => v instanceof Tensor && v.requiresGrad;

export function add(a: Operand, b: Operand): Tensor {
  return binary('add', a, b, (g, x, y) => [needs(x) ? g : null, needs(y) ? g : null]);
}

export function sub(a: Operand, b: Operand): Tensor {
  return binary('sub', a, b, (g, x, y) => [needs(x) ? g : null, needs(y) ? neg(g) : null]);
}

export function mul(a: Operand, b: Operand): Tensor {
  return binary('mul', a, b, (g, x, y) => [needs(x) ? mul(g, y) : null, needs(y) ? mul(g, x) : null]);
}

export function div(a: Operand, b: Operand): Tensor {
  return binary('div', a, b, (g, x, y, out) => {
    const ga = needs(x) ? div(g, y) : null;
    let gb: Tensor | null = null;
    if (needs(y)) {
      // d(x/y)/dy = -out / y
      const t = div(out, y);
      gb = mul(g, t);
      t.dispose();
      const n = neg(gb);
      gb.dispose();
      gb = n;
    }
    return [ga, gb];
  });
}

/** a ** b; with a number exponent this is the unary power (gradient b * a^(b-1)). */
export function pow(a: Operand, b: Operand): Tensor {
  if (a instanceof Tensor && typeof b === 'number') return unary('pow', a, b);
  return binary('pow', a, b, (g, x, y, out) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs(x)) {
      // y * x^(y-1) = y * out / x, written without dividing by x (x may be 0)
      const ym1 = sub(y, 1);
      const p = pow(x, ym1);
      const t = mul(p, y);
      ga = mul(g, t);
      [ym1, p, t].forEach((z) => z.dispose());
    }
    if (needs(y)) {
      const lx = typeof x === 'number' ? Math.log(x) : log(x);
      const t = mul(out, lx);
      gb = mul(g, t);
      t.dispose();
      if (lx instanceof Tensor) lx.dispose();
    }
    return [ga, gb];
  });
}

/** Elementwise maximum (NaN propagates); ties split the gradient equally like PyTorch. */
export function maximum(a: Operand, b: Operand): Tensor {
  return binary('maximum', a, b, (g, x, y) => tieSplit(g, x, y, 'gt'));
}

/** Elementwise minimum; ties split the gradient equally. */
export function minimum(a: Operand, b: Operand): Tensor {
  return binary('minimum', a, b, (g, x, y) => tieSplit(g, x, y, 'lt'));
}

function tieSplit(g: Tensor, x: Operand, y: Operand, win: 'gt' | 'lt'): [Tensor | null, Tensor | null] {
  const w = binaryForward(win, x, y);
  const eqm = binaryForward('eq', x, y);
  const half = mul(eqm, 0.5);
  const wa = add(w, half);
  const ga = needs(x) ? mul(g, wa) : null;
  let gb: Tensor | null = null;
  if (needs(y)) {
    const wb = sub(1, wa);
    gb = mul(g, wb);
    wb.dispose();
  }
  [w, eqm, half, wa].forEach((t) => t.dispose());
  return [ga, gb];
}

// comparisons: 1 where true, 0 elsewhere; no gradient
export const eq = (a: Operand, b: Operand): Tensor => binary('eq', a, b, null);
export const ne = (a: Operand, b: Operand): Tensor => binary('ne', a, b, null);
export const lt = (a: Operand, b: Operand): Tensor => binary('lt', a, b, null);
export const le = (a: Operand, b: Operand): Tensor => binary('le', a, b, null);
export const gt = (a: Operand, b: Operand): Tensor => binary('gt', a, b, null);
export const ge = (a: Operand, b: Operand): Tensor => binary('ge', a, b, null);

/** cond != 0 ? a : b, broadcast. The gradient flows to the chosen side. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const dt = dtypeOf('where', a, b);
  if (computeDtype('where', cond) !== dt) {
    throw new Error(`where: condition is ${cond.dtype} ${fmtShape(cond.shape)} but values are ${dt}`);
  }
  const A = lift(a, dt);
  const B = lift(b, dt);
  let out: Tensor;
  try {
    const shape = broadcastShapes('where', cond.shape, A.shape, B.shape);
    out = output(shape, dt);
    be().where({
      cond: f(cond),
      condOffset: cond.offset,
      condStrides: broadcastStrides(cond, shape),
      a: f(A),
      aOffset: A.offset,
      aStrides: broadcastStrides(A, shape),
      b: f(B),
      bOffset: B.offset,
      bStrides: broadcastStrides(B, shape),
      out: f(out),
      shape,
    });
  } finally {
    if (A !== a) A.dispose();
    if (B !== b) B.dispose();
  }
  const inputs: Tensor[] = [];
  if (a instanceof Tensor) inputs.push(a);
  if (b instanceof Tensor) inputs.push(b);
  return record(out, 'where', inputs, (g) => {
    const res: (Tensor | null)[] = [];
    if (a instanceof Tensor) res.push(a.requiresGrad ? reduceTo(where(cond, g, 0), a) : null);
    if (b instanceof Tensor) res.push(b.requiresGrad ? reduceTo(where(cond, 0, g), b) : null);
    return res;
  });
}
