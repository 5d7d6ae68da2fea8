/**
 * In-place updates of weights for editing: W += ΔW, W += α u vᵀ, W[...] = src, and exact
 * (bitwise) snapshots to restore the original weights. None of these record gradients; they
 * refuse tensors that are part of a recorded graph.
 */
import { isComputeDtype } from '../dtype.js';
import { Tensor, fmtShape } from '../tensor.js';
import { copyInto } from './shape.js';
import { be, copyContiguous, f } from './util.js';

function checkTarget(op: string, w: Tensor): void {
  w.assertAlive(op);
  if (w.node) throw new Error(`${op}: ${w.name ?? fmtShape(w.shape)} is the output of a recorded op; update leaf weights only`);
}

function checkSameShape(op: string, w: Tensor, src: Tensor): void {
  src.assertAlive(op);
  if (w.rank !== src.rank || w.shape.some((d, i) => d !== src.shape[i])) {
    throw new Error(`${op}: shape ${fmtShape(src.shape)} does not match ${w.name ? `"${w.name}" ` : ''}${fmtShape(w.shape)}`);
  }
}

/** Reject NaN/Inf before they reach a weight (an edit must never corrupt a model). */
export function assertFinite(op: string, t: Tensor, what = 'update'): void {
  const c = t.isWholeStorage() ? t : copyContiguous(t, t.dtype === 'float64' ? 'float64' : 'float32');
  try {
    const data = f(c);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        throw new Error(
          `${op}: ${what} ${t.name ? `"${t.name}" ` : ''}${fmtShape(t.shape)} has a non-finite value (${data[i]}) at flat index ${i}`,
        );
      }
    }
  } finally {
    if (c !== t) c.dispose();
  }
}

/**
 * w += delta (same shape). Works for f16/bf16 weights too (the sum is rounded once to the
 * storage dtype). Throws before touching w if delta has NaN/Inf.
 */
export function addInPlace(w: Tensor, delta: Tensor): void {
  checkTarget('addInPlace', w);
  checkSameShape('addInPlace', w, delta);
  assertFinite('addInPlace', delta);
  if (isComputeDtype(w.dtype)) {
    copyInto(w, delta, true);
    return;
  }
  const tmp = copyContiguous(w, 'float32');
  try {
    copyInto(tmp, delta, true);
    copyInto(w, tmp, false);
  } finally {
    tmp.dispose();
  }
}

/** w[...] = src (converted to w's dtype). */
export function assign(w: Tensor, src: Tensor): void {
  checkTarget('assign', w);
  checkSameShape('assign', w, src);
  copyInto(w, src, false);
}

/**
 * W += alpha * u vᵀ for W [m, n], u [m], v [n] (the rank-one update of ROME).
 * Throws before touching W if u or v has NaN/Inf.
 */
export function addOuterInPlace(w: Tensor, u: Tensor, v: Tensor, alpha = 1): void {
  checkTarget('addOuterInPlace', w);
  if (w.rank !== 2 || u.rank !== 1 || v.rank !== 1 || u.shape[0] !== w.shape[0] || v.shape[0] !== w.shape[1]) {
    throw new Error(
      `addOuterInPlace: need W [m, n], u [m], v [n]; got ${fmtShape(w.shape)}, ${fmtShape(u.shape)}, ${fmtShape(v.shape)}`,
    );
  }
  assertFinite('addOuterInPlace', u, 'u');
  assertFinite('addOuterInPlace', v, 'v');
  const dt = w.dtype === 'float64' ? 'float64' : 'float32';
  const target = w.dtype === dt && w.isWholeStorage() ? w : copyContiguous(w, dt);
  const uc = copyContiguous(u, dt);
  const vc = copyContiguous(v, dt);
  try {
    const [m, n] = w.shape as [number, number];
    be().gemm({
      transA: false,
      transB: false,
      M: m,
      N: n,
      K: 1,
      alpha,
      beta: 1,
      batch: 1,
      a: f(uc),
      aOffset: 0,
      lda: 1,
      aBatchStride: 0,
      b: f(vc),
      bDtype: dt,
      bOffset: 0,
      ldb: n,
      bBatchStride: 0,
      c: f(target),
      cOffset: 0,
      ldc: n,
      cBatchStride: 0,
    });
    if (target !== w) copyInto(w, target, false);
  } finally {
    uc.dispose();
    vc.dispose();
    if (target !== w) target.dispose();
  }
}

/** An exact copy of a tensor's bytes, to restore later with `restore`. */
export interface Snapshot {
  readonly shape: readonly number[];
  readonly dtype: Tensor['dtype'];
  readonly bytes: Uint8Array;
}

/** Copy t's bytes (contiguous order). */
export function snapshot(t: Tensor): Snapshot {
  t.assertAlive('snapshot');
  const c = t.isContiguous() ? t : copyContiguous(t);
  const s = c.storage;
  const bpe = s.BYTES_PER_ELEMENT;
  const start = (c === t ? t.offset : 0) * bpe;
  const bytes = new Uint8Array(s.buffer, s.byteOffset + start, t.size * bpe).slice();
  if (c !== t) c.dispose();
  return { shape: [...t.shape], dtype: t.dtype, bytes };
}

/** Write a snapshot back into t bit for bit. */
export function restore(t: Tensor, snap: Snapshot): void {
  checkTarget('restore', t);
  if (t.dtype !== snap.dtype || t.rank !== snap.shape.length || t.shape.some((d, i) => d !== snap.shape[i])) {
    throw new Error(`restore: snapshot ${snap.dtype} ${fmtShape(snap.shape)} does not match ${t.dtype} ${fmtShape(t.shape)}`);
  }
  if (!t.isContiguous()) throw new Error('restore: target must be contiguous');
  const s = t.storage;
  const bpe = s.BYTES_PER_ELEMENT;
  new Uint8Array(s.buffer, s.byteOffset + t.offset * bpe, t.size * bpe).set(snap.bytes);
}
