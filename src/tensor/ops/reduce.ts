/**
 * Reductions over axes: sum, mean, max/min (gradient to the first extremum, like PyTorch's
 * max(dim)), argmax, logsumexp, variance and p-norms.
 */
import type { ReduceOp } from '../backend.js';
import { noGrad, record } from '../autograd.js';
import { Tensor, contiguousStrides, fmtShape, shapeSize } from '../tensor.js';
import { div, eq, exp, log, mul, sqrt, square, sub, abs, add, pow, where } from './elementwise.js';
import { reshape, permute } from './shape.js';
import { be, computeDtype, copyContiguous, done, empty, f, normAxis, withContiguous } from './util.js';

function axesOf(op: string, x: Tensor, axis?: number | readonly number[]): number[] {
  if (axis === undefined) return [...Array(x.rank).keys()];
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const ax = list.map((a) => normAxis(op, a, x.rank));
  if (new Set(ax).size !== ax.length) throw new Error(`${op}: repeated axes [${list.join(', ')}]`);
  return ax.sort((p, q) => p - q);
}

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Reduce one axis of a contiguous tensor with the kernel, keeping the dim as 1. */
function reduceAxis(op: ReduceOp, x: Tensor, a: number): Tensor {
  const outer = shapeSize(x.shape.slice(0, a));
  const size = x.shape[a]!;
  const inner = shapeSize(x.shape.slice(a + 1));
  const out = empty(keptShape(x.shape, [a]), x.dtype);
  if (size === 0) throw new Error(`${op}: cannot reduce an empty dim (${fmtShape(x.shape)}, axis ${a})`);
  withContiguous(x, (xc) => be().reduce(op, f(xc), f(out), outer, size, inner));
  return out;
}

/** Forward only: reduce the given axes, dims kept as 1. */
function reduceForward(op: ReduceOp, x: Tensor, axes: readonly number[]): Tensor {
  computeDtype(op, x);
  // adjacent axes of a contiguous tensor reduce in one pass
  if (axes.length > 0 && x.isContiguous() && axes[axes.length - 1]! - axes[0]! === axes.length - 1) {
    const a0 = axes[0]!;
    const a1 = axes[axes.length - 1]!;
    const merged = [...x.shape.slice(0, a0), shapeSize(x.shape.slice(a0, a1 + 1)), ...x.shape.slice(a1 + 1)];
    const flat = new Tensor(x.box, merged, contiguousStrides(merged), x.offset);
    const r = reduceAxis(op, flat, a0);
    flat.dispose();
    const out = new Tensor(r.box, keptShape(x.shape, axes));
    r.dispose();
    return out;
  }
  let cur = x;
  for (let i = axes.length - 1; i >= 0; i--) {
    const next = reduceAxis(op, cur, axes[i]!);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  return cur === x ? copyContiguous(x) : cur;
}

/** Materialise g (broadcastable) at `shape` contiguously. */
function broadcastTo(g: Tensor, shape: readonly number[]): Tensor {
  const out = empty(shape, g.dtype);
  const strides = shape.map((d, i) => (g.shape[i] === 1 && d !== 1 ? 0 : g.strides[i]!));
  be().copy({
    src: g.storage,
    srcDtype: g.dtype,
    srcOffset: g.offset,
    srcStrides: strides,
    dst: out.storage,
    dstDtype: out.dtype,
    dstOffset: 0,
    dstStrides: contiguousStrides(shape),
    shape,
    accumulate: false,
  });
  return out;
}

function finish(r: Tensor, x: Tensor, axes: readonly number[], keepdim: boolean): Tensor {
  if (keepdim) return r;
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  const out = new Tensor(r.box, shape);
  r.dispose();
  return out;
}

/** Sum over axes (all by default). */
export function sum(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  const axes = axesOf('sum', x, axis);
  const out = finish(reduceForward('sum', x, axes), x, axes, keepdim);
  const kept = keptShape(x.shape, axes);
  return record(out, 'sum', [x], (g) => {
    const gk = reshape(g, kept);
    const gx = broadcastTo(gk, x.shape);
    gk.dispose();
    return [gx];
  });
}

/** Mean over axes (all by default). */
export function mean(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  const axes = axesOf('mean', x, axis);
  const n = axes.reduce((s, a) => s * x.shape[a]!, 1);
  const s = sum(x, axes, keepdim);
  return done(div(s, n), s);
}

function extremum(op: 'max' | 'min', x: Tensor, axis: number | undefined, keepdim: boolean): Tensor {
  if (axis === undefined) {
    const flat = reshape(x, [x.size]);
    const r = extremum(op, flat, 0, false);
    if (!keepdim) return done(r, flat);
    return done(reshape(r, new Array<number>(x.rank).fill(1)), flat, r);
  }
  const a = normAxis(op, axis, x.rank);
  const out = finish(reduceForward(op, x, [a]), x, [a], keepdim);
  return record(out, op, [x], (g) => {
    // route the gradient to the first extremal index along the axis
    const idx = argIndex(op, x, a);
    const rows = idx.size;
    const cols = x.shape[a]!;
    const perm = [...Array(x.rank).keys()].filter((i) => i !== a).concat([a]);
    const gl = empty([rows, cols], g.dtype);
    withContiguous(g, (gc) => be().scatterAdd(f(gc), idx.storage as Int32Array, f(gl), rows, cols, 1));
    idx.dispose();
    const movedShape = perm.map((i) => x.shape[i]!);
    const moved = new Tensor(gl.box, movedShape);
    gl.dispose();
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    const back = permute(moved, inv);
    const gx = copyContiguous(back);
    back.dispose();
    moved.dispose();
    return [gx];
  });
}

/** Max over one axis (or all). */
export function max(x: Tensor, axis?: number, keepdim = false): Tensor {
  return extremum('max', x, axis, keepdim);
}

/** Min over one axis (or all). */
export function min(x: Tensor, axis?: number, keepdim = false): Tensor {
  return extremum('min', x, axis, keepdim);
}

/** Flat int32 indices of the first max (or min) along axis, in the order of the other dims. */
function argIndex(op: 'max' | 'min', x: Tensor, a: number): Tensor {
  const src = op === 'max' ? x : mul(x, -1);
  const out = argmax(src, a);
  if (src !== x) src.dispose();
  return out;
}

/** Index of the first maximum along axis (int32, the axis removed). No gradient. */
export function argmax(x: Tensor, axis = -1): Tensor {
  computeDtype('argmax', x);
  const a = normAxis('argmax', axis, x.rank);
  const outer = shapeSize(x.shape.slice(0, a));
  const size = x.shape[a]!;
  const inner = shapeSize(x.shape.slice(a + 1));
  if (size === 0) throw new Error(`argmax: empty dim in ${fmtShape(x.shape)}`);
  const out = empty(
    x.shape.filter((_, i) => i !== a),
    'int32',
  );
  withContiguous(x, (xc) => be().argmax(f(xc), out.storage as Int32Array, outer, size, inner));
  return out;
}

/** log(sum(exp(x))) over axis, computed stably. */
export function logsumexp(x: Tensor, axis = -1, keepdim = false): Tensor {
  const m = extremum('max', x, axis, true);
  const mc = new Tensor(m.box, m.shape); // constant shift: no gradient through it
  const shifted = sub(x, mc);
  const e = exp(shifted);
  const s = sum(e, axis, true);
  const l = log(s);
  const r = add(l, mc);
  if (keepdim) return done(r, m, mc, shifted, e, s, l);
  const out = reshape(
    r,
    x.shape.filter((_, i) => i !== normAxis('logsumexp', axis, x.rank)),
  );
  return done(out, m, mc, shifted, e, s, l, r);
}

/** Biased (population) or unbiased variance over axes. */
export function variance(x: Tensor, axis?: number | readonly number[], keepdim = false, unbiased = false): Tensor {
  const axes = axesOf('variance', x, axis);
  const n = axes.reduce((s, a) => s * x.shape[a]!, 1);
  const m = mean(x, axes, true);
  const d = sub(x, m);
  const sq = square(d);
  const s = sum(sq, axes, keepdim);
  return done(div(s, unbiased ? n - 1 : n), m, d, sq, s);
}

/** p-norm over axes (Frobenius / L2 by default). */
export function norm(x: Tensor, p = 2, axis?: number | readonly number[], keepdim = false): Tensor {
  if (p === 2) {
    const n = noGrad(() => {
      const sq = square(x);
      const s = sum(sq, axis, keepdim);
      return done(sqrt(s), sq, s);
    });
    // torch's rule, x·g/‖x‖ with 0 where ‖x‖ = 0: through sqrt and square it would be NaN there
    return record(n, 'norm', [x], (g) => {
      const kept = keptShape(x.shape, axesOf('norm', x, axis));
      const scale = noGrad(() => {
        const gk = reshape(g, kept);
        const nk = reshape(n, kept);
        const q = div(gk, nk);
        const zero = eq(nk, 0);
        return done(where(zero, 0, q), gk, nk, q, zero);
      });
      return [done(mul(x, scale), scale)];
    });
  }
  if (p === 1) {
    const a = abs(x);
    return done(sum(a, axis, keepdim), a);
  }
  if (p === Infinity) {
    const a = abs(x);
    const flat = axis === undefined ? reshape(a, [a.size]) : a;
    const out = max(flat, axis === undefined ? 0 : (axis as number), keepdim);
    return done(out, ...(flat !== a ? [flat, a] : [a]));
  }
  const a = abs(x);
  const ap = pow(a, p);
  const s = sum(ap, axis, keepdim);
  return done(pow(s, 1 / p), a, ap, s);
}
