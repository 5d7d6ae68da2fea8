/**
 * Shape and layout ops. Views (reshape of contiguous data, permute, transpose, narrow, expand,
 * squeeze/unsqueeze) share storage; concat, contiguous and cast copy.
 */
import type { DType } from '../backend.js';
import { record } from '../autograd.js';
import { Tensor, contiguousStrides, fmtShape, shapeSize, viewOf, type Shape } from '../tensor.js';
import { be, copyContiguous, empty, normAxis, sumToShape } from './util.js';

/** Reshape; a view when t is contiguous, a copy otherwise. One dim may be -1. */
export function reshape(t: Tensor, shape: Shape): Tensor {
  t.assertAlive('reshape');
  const sh = [...shape];
  const neg = sh.indexOf(-1);
  if (neg >= 0) {
    const rest = shapeSize(sh.filter((_, i) => i !== neg));
    if (rest === 0 || t.size % rest !== 0)
      throw new Error(`reshape: cannot reshape ${fmtShape(t.shape)} into ${fmtShape(shape)}`);
    sh[neg] = t.size / rest;
  }
  if (shapeSize(sh) !== t.size || sh.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot reshape ${fmtShape(t.shape)} (${t.size} elements) into ${fmtShape(shape)}`);
  }
  let out: Tensor;
  if (t.isContiguous()) out = viewOf(t, sh, contiguousStrides(sh), t.offset);
  else {
    const c = copyContiguous(t);
    out = viewOf(c, sh, contiguousStrides(sh), 0);
    c.dispose();
  }
  const inShape = t.shape;
  return record(out, 'reshape', [t], (g) => [reshape(g, inShape)]);
}

/** Reorder dims (a view). */
export function permute(t: Tensor, dims: readonly number[]): Tensor {
  t.assertAlive('permute');
  if (dims.length !== t.rank) throw new Error(`permute: ${dims.length} dims for a rank-${t.rank} tensor`);
  const ax = dims.map((d) => normAxis('permute', d, t.rank));
  if (new Set(ax).size !== ax.length) throw new Error(`permute: repeated dims [${dims.join(', ')}]`);
  const out = viewOf(
    t,
    ax.map((a) => t.shape[a]!),
    ax.map((a) => t.strides[a]!),
    t.offset,
  );
  const inv = new Array<number>(ax.length);
  ax.forEach((a, i) => (inv[a] = i));
  return record(out, 'permute', [t], (g) => [permute(g, inv)]);
}

/** Swap two dims (a view). Defaults to the last two. */
export function transpose(t: Tensor, a = -2, b = -1): Tensor {
  const dims = [...Array(t.rank).keys()];
  const x = normAxis('transpose', a, t.rank);
  const y = normAxis('transpose', b, t.rank);
  dims[x] = y;
  dims[y] = x;
  return permute(t, dims);
}

/** Elements [start, end) along axis (a view). Negative start/end count from the end. */
export function narrow(t: Tensor, axis: number, start: number, end: number): Tensor {
  t.assertAlive('narrow');
  const a = normAxis('narrow', axis, t.rank);
  const n = t.shape[a]!;
  const s = start < 0 ? start + n : start;
  const e = end < 0 ? end + n : end;
  if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > n || s > e) {
    throw new Error(`narrow: range [${start}, ${end}) out of bounds for dim ${a} of ${fmtShape(t.shape)}`);
  }
  const shape = [...t.shape];
  shape[a] = e - s;
  const out = viewOf(t, shape, t.strides, t.offset + s * t.strides[a]!);
  const inShape = t.shape;
  return record(out, 'narrow', [t], (g) => {
    const gx = empty(inShape, g.dtype);
    const view = narrowView(gx, a, s, e);
    copyInto(view, g, false);
    view.dispose();
    return [gx];
  });
}

/** Index `i` along axis, removing that dim (a view). */
export function select(t: Tensor, axis: number, i: number): Tensor {
  const a = normAxis('select', axis, t.rank);
  const ii = i < 0 ? i + t.shape[a]! : i;
  return squeeze(narrow(t, a, ii, ii + 1), a);
}

/** A raw narrowed view without autograd (for writing into part of a buffer). */
export function narrowView(t: Tensor, axis: number, start: number, end: number): Tensor {
  const shape = [...t.shape];
  shape[axis] = end - start;
  return viewOf(t, shape, t.strides, t.offset + start * t.strides[axis]!);
}

/** dst[...] = src (or += with accumulate), both views of any strides, same shape. No autograd. */
export function copyInto(dst: Tensor, src: Tensor, accumulate: boolean): void {
  dst.assertAlive('copyInto');
  src.assertAlive('copyInto');
  if (dst.rank !== src.rank || dst.shape.some((d, i) => d !== src.shape[i])) {
    throw new Error(`copyInto: shapes differ: destination ${fmtShape(dst.shape)}, source ${fmtShape(src.shape)}`);
  }
  be().copy({
    src: src.storage,
    srcDtype: src.dtype,
    srcOffset: src.offset,
    srcStrides: src.strides,
    dst: dst.storage,
    dstDtype: dst.dtype,
    dstOffset: dst.offset,
    dstStrides: dst.strides,
    shape: src.shape,
    accumulate,
  });
}

/** Broadcast to a larger shape (a stride-0 view). */
export function expand(t: Tensor, shape: Shape): Tensor {
  t.assertAlive('expand');
  if (shape.length < t.rank) throw new Error(`expand: cannot expand ${fmtShape(t.shape)} to ${fmtShape(shape)}`);
  const strides = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < t.rank; i++) {
    const o = shape.length - t.rank + i;
    if (t.shape[i] === shape[o]) strides[o] = t.strides[i]!;
    else if (t.shape[i] !== 1) throw new Error(`expand: cannot expand ${fmtShape(t.shape)} to ${fmtShape(shape)}`);
  }
  const out = viewOf(t, shape, strides, t.offset);
  const inShape = t.shape;
  return record(out, 'expand', [t], (g) => [sumToShape(g, inShape)]);
}

/** Insert a size-1 dim at axis. */
export function unsqueeze(t: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, t.rank + 1);
  const shape = [...t.shape];
  shape.splice(a, 0, 1);
  return reshape(t, shape);
}

/** Remove a size-1 dim (or all of them). */
export function squeeze(t: Tensor, axis?: number): Tensor {
  if (axis === undefined)
    return reshape(
      t,
      t.shape.filter((d) => d !== 1),
    );
  const a = normAxis('squeeze', axis, t.rank);
  if (t.shape[a] !== 1) throw new Error(`squeeze: dim ${a} of ${fmtShape(t.shape)} is not 1`);
  const shape = [...t.shape];
  shape.splice(a, 1);
  // squeezing a size-1 dim never needs a copy: build the view directly
  const strides = [...t.strides];
  strides.splice(a, 1);
  const out = viewOf(t, shape, strides, t.offset);
  const inShape = t.shape;
  return record(out, 'squeeze', [t], (g) => [reshape(g, inShape)]);
}

/** Merge dims [start, end] into one. */
export function flatten(t: Tensor, start = 0, end = -1): Tensor {
  const s = normAxis('flatten', start, t.rank);
  const e = normAxis('flatten', end, t.rank);
  const shape = [...t.shape.slice(0, s), shapeSize(t.shape.slice(s, e + 1)), ...t.shape.slice(e + 1)];
  return reshape(t, shape);
}

/** A contiguous tensor with the same values (t itself when already contiguous). */
export function contiguous(t: Tensor): Tensor {
  if (t.isContiguous()) return record(viewOf(t, t.shape, t.strides, t.offset), 'contiguous', [t], (g) => [g]);
  return record(copyContiguous(t), 'contiguous', [t], (g) => [g]);
}

/** A contiguous copy with its own storage. */
export function clone(t: Tensor): Tensor {
  return record(copyContiguous(t), 'clone', [t], (g) => [g]);
}

/** Convert to another dtype (a copy). Gradients flow between float dtypes. */
export function cast(t: Tensor, dtype: DType): Tensor {
  const out = copyContiguous(t, dtype);
  const from = t.dtype;
  return record(out, 'cast', [t], (g) => [from === 'float32' || from === 'float64' ? copyContiguous(g, from) : null]);
}

/** Join tensors along an existing axis. */
export function concat(ts: readonly Tensor[], axis = 0): Tensor {
  if (ts.length === 0) throw new Error('concat: no tensors');
  const first = ts[0]!;
  const a = normAxis('concat', axis, first.rank);
  for (const t of ts) {
    t.assertAlive('concat');
    if (t.dtype !== first.dtype || t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(
        `concat: incompatible tensors ${ts.map((x) => `${x.dtype} ${fmtShape(x.shape)}`).join(', ')} along axis ${a}`,
      );
    }
  }
  const shape = [...first.shape];
  shape[a] = ts.reduce((s, t) => s + t.shape[a]!, 0);
  const out = empty(shape, first.dtype);
  const bounds: number[] = [];
  let at = 0;
  for (const t of ts) {
    bounds.push(at);
    const view = narrowView(out, a, at, at + t.shape[a]!);
    copyInto(view, t, false);
    view.dispose();
    at += t.shape[a]!;
  }
  return record(out, 'concat', ts, (g) =>
    ts.map((t, i) => {
      const view = narrowView(g, a, bounds[i]!, bounds[i]! + t.shape[a]!);
      const piece = copyContiguous(view);
      view.dispose();
      return piece;
    }),
  );
}

/** Join tensors along a new axis. */
export function stack(ts: readonly Tensor[], axis = 0): Tensor {
  if (ts.length === 0) throw new Error('stack: no tensors');
  const a = normAxis('stack', axis, ts[0]!.rank + 1);
  return concat(
    ts.map((t) => unsqueeze(t, a)),
    a,
  );
}

/** Split along axis into pieces of the given sizes (or n equal pieces). Views. */
export function split(t: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const a = normAxis('split', axis, t.rank);
  const n = t.shape[a]!;
  let parts: number[];
  if (typeof sizes === 'number') {
    if (n % sizes !== 0) throw new Error(`split: dim ${a} of ${fmtShape(t.shape)} does not split into ${sizes} equal parts`);
    parts = new Array<number>(sizes).fill(n / sizes);
  } else parts = [...sizes];
  if (parts.reduce((s, x) => s + x, 0) !== n) {
    throw new Error(`split: sizes [${parts.join(', ')}] do not add up to dim ${a} = ${n}`);
  }
  const out: Tensor[] = [];
  let at = 0;
  for (const p of parts) {
    out.push(narrow(t, a, at, at + p));
    at += p;
  }
  return out;
}
