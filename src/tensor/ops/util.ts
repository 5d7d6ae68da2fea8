/**
 * Internals shared by the op files: dtype checks, broadcasting, contiguous temporaries and
 * the reduce-to-shape used by broadcast gradients.
 */
import type { DType, FloatArray } from '../backend.js';
import { getBackend } from '../select.js';
import { Tensor, contiguousStrides, fmtShape, type Shape } from '../tensor.js';

export type ComputeDType = 'float32' | 'float64';

export const be = getBackend;

/** The compute dtype of t, or a clear error naming the op. */
export function computeDtype(op: string, t: Tensor): ComputeDType {
  t.assertAlive(op);
  if (t.dtype === 'float32' || t.dtype === 'float64') return t.dtype;
  throw new Error(
    `${op}: expected a float32 or float64 tensor, got ${t.dtype} ${fmtShape(t.shape)}` +
      (t.dtype === 'float16' || t.dtype === 'bfloat16' ? ' (cast() it first; only matmul reads f16/bf16 weights directly)' : ''),
  );
}

/** Same compute dtype for all operands, or an error naming the op and shapes. */
export function sameDtype(op: string, ...ts: Tensor[]): ComputeDType {
  const d = computeDtype(op, ts[0]!);
  for (const t of ts) {
    if (computeDtype(op, t) !== d) {
      throw new Error(
        `${op}: dtype mismatch (${ts.map((x) => `${x.dtype} ${fmtShape(x.shape)}`).join(' vs ')}); cast() explicitly`,
      );
    }
  }
  return d;
}

export function empty(shape: Shape, dtype: DType): Tensor {
  return Tensor.zeros(shape, dtype);
}

/**
 * The output of a kernel that writes every element (checked for each kernel by the
 * conformance suite's poisoned outputs): not zeroed, so recycled buffers cost no memset.
 */
export function output(shape: Shape, dtype: DType): Tensor {
  return Tensor.uninit(shape, dtype);
}

export function f(t: Tensor): FloatArray {
  return t.storage as FloatArray;
}

/** Normalise a possibly negative axis. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (out[o] === 1) out[o] = d;
      else if (d !== 1 && d !== out[o]) {
        throw new Error(`${op}: shapes ${shapes.map(fmtShape).join(' and ')} cannot broadcast`);
      }
    }
  }
  return out;
}

/** Strides that read t as if broadcast to `shape` (0 on broadcast dims). */
export function broadcastStrides(t: Tensor, shape: Shape): number[] {
  const r = shape.length;
  const s = new Array<number>(r).fill(0);
  for (let i = 0; i < t.rank; i++) {
    const o = r - t.rank + i;
    s[o] = t.shape[i] === 1 && shape[o] !== 1 ? 0 : t.strides[i]!;
  }
  return s;
}

/** A contiguous copy of t (always a new tensor, no autograd). */
export function copyContiguous(t: Tensor, dtype: DType = t.dtype): Tensor {
  t.assertAlive('contiguous');
  const out = empty(t.shape, dtype);
  be().copy({
    src: t.storage,
    srcDtype: t.dtype,
    srcOffset: t.offset,
    srcStrides: t.strides,
    dst: out.storage,
    dstDtype: dtype,
    dstOffset: 0,
    dstStrides: contiguousStrides(t.shape),
    shape: t.shape,
    accumulate: false,
  });
  return out;
}

/**
 * Run fn on a contiguous version of t whose data starts at index 0 of its array; a temporary
 * copy is freed afterwards.
 */
export function withContiguous<R>(t: Tensor, fn: (c: Tensor) => R): R {
  if (t.isWholeStorage()) return fn(t);
  const c = copyContiguous(t);
  try {
    return fn(c);
  } finally {
    c.dispose();
  }
}

/** Like withContiguous for several tensors. */
export function withContiguousAll<R>(ts: readonly Tensor[], fn: (cs: Tensor[]) => R): R {
  const cs = ts.map((t) => (t.isWholeStorage() ? t : copyContiguous(t)));
  try {
    return fn(cs);
  } finally {
    cs.forEach((c, i) => {
      if (c !== ts[i]) c.dispose();
    });
  }
}

/** Sum g (shape S) down to `shape` that broadcasts to S (the backward of broadcasting). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (g.rank === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const out = empty(shape, g.dtype);
  const outStrides = contiguousStrides(shape);
  const dst = new Array<number>(g.rank).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const o = g.rank - shape.length + i;
    dst[o] = shape[i] === 1 ? 0 : outStrides[i]!;
  }
  be().copy({
    src: g.storage,
    srcDtype: g.dtype,
    srcOffset: g.offset,
    srcStrides: g.strides,
    dst: out.storage,
    dstDtype: out.dtype,
    dstOffset: 0,
    dstStrides: dst,
    shape: g.shape,
    accumulate: true,
  });
  return out;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(op: string, what: string, t: Tensor, shape: Shape): void {
  if (!sameShape(t.shape, shape)) {
    throw new Error(`${op}: ${what} must have shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
  }
}

export function ids32(op: string, t: Tensor): Int32Array {
  t.assertAlive(op);
  if (t.dtype !== 'int32') throw new Error(`${op}: indices must be int32, got ${t.dtype} ${fmtShape(t.shape)}`);
  return t.storage as Int32Array;
}

/**
 * Free a composite op's intermediates when nothing was recorded. When the output is on the
 * tape, its backward still needs them: they are left to the enclosing `tidy` scope.
 */
export function done(out: Tensor, ...temps: Tensor[]): Tensor {
  if (!out.requiresGrad) for (const t of temps) if (t !== out) t.dispose();
  return out;
}
