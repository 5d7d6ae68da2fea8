/**
 * Index-based ops: rows by index (index_select on dim 0), gather/scatter-add along the last
 * dim, and writing into / adding to chosen rows (ROME's inserted delta, causal tracing's
 * restore), all differentiable.
 */
import { record } from '../autograd.js';
import { Tensor, fmtShape, shapeSize } from '../tensor.js';
import { be, computeDtype, empty, f, ids32, sameDtype, withContiguous, withContiguousAll } from './util.js';

function asRows(x: Tensor): [number, number] {
  const cols = shapeSize(x.shape.slice(1));
  return [x.shape[0]!, cols];
}

/** x[ids] along dim 0: x [N, ...], ids int32 [n] -> [n, ...]. */
export function indexSelect(x: Tensor, ids: Tensor): Tensor {
  const dt = computeDtype('indexSelect', x);
  const id = ids32('indexSelect', ids);
  if (ids.rank !== 1) throw new Error(`indexSelect: ids must be rank 1, got ${fmtShape(ids.shape)}`);
  const [rows, cols] = asRows(x);
  const out = empty([ids.size, ...x.shape.slice(1)], dt);
  withContiguousAll([x, ids], ([xc, ic]) => be().indexSelect(f(xc!), dt, rows, cols, ic!.storage as Int32Array, f(out)));
  void id;
  return record(out, 'indexSelect', [x], (g) => {
    const gx = empty(x.shape, dt);
    withContiguousAll([g, ids], ([gc, ic]) => be().indexAdd(f(gc!), ic!.storage as Int32Array, f(gx), rows, cols));
    return [gx];
  });
}

/** out[..., j] = x[..., idx[..., j]] along the last dim. x [..., C], idx int32 [..., k]. */
export function gather(x: Tensor, idx: Tensor): Tensor {
  const dt = computeDtype('gather', x);
  ids32('gather', idx);
  const C = x.shape[x.rank - 1]!;
  const k = idx.shape[idx.rank - 1]!;
  const rows = shapeSize(x.shape.slice(0, -1));
  if (
    idx.rank !== x.rank ||
    shapeSize(idx.shape.slice(0, -1)) !== rows ||
    idx.shape.slice(0, -1).some((d, i) => d !== x.shape[i])
  ) {
    throw new Error(`gather: index ${fmtShape(idx.shape)} does not match ${fmtShape(x.shape)} outside the last dim`);
  }
  const out = empty(idx.shape, dt);
  withContiguousAll([x, idx], ([xc, ic]) => be().gather(f(xc!), ic!.storage as Int32Array, f(out), rows, C, k));
  return record(out, 'gather', [x], (g) => {
    const gx = empty(x.shape, dt);
    withContiguousAll([g, idx], ([gc, ic]) => be().scatterAdd(f(gc!), ic!.storage as Int32Array, f(gx), rows, C, k));
    return [gx];
  });
}

/** x with src added at idx along the last dim (duplicates accumulate). */
export function scatterAdd(x: Tensor, idx: Tensor, src: Tensor): Tensor {
  const dt = sameDtype('scatterAdd', x, src);
  ids32('scatterAdd', idx);
  if (idx.rank !== src.rank || idx.shape.some((d, i) => d !== src.shape[i])) {
    throw new Error(`scatterAdd: index ${fmtShape(idx.shape)} and source ${fmtShape(src.shape)} differ`);
  }
  const C = x.shape[x.rank - 1]!;
  const k = idx.shape[idx.rank - 1]!;
  const rows = shapeSize(x.shape.slice(0, -1));
  if (shapeSize(idx.shape.slice(0, -1)) !== rows) {
    throw new Error(`scatterAdd: index ${fmtShape(idx.shape)} does not match ${fmtShape(x.shape)} outside the last dim`);
  }
  const out = empty(x.shape, dt);
  withContiguous(x, (xc) => f(out).set(f(xc).subarray(0, x.size)));
  withContiguousAll([src, idx], ([sc, ic]) => be().scatterAdd(f(sc!), ic!.storage as Int32Array, f(out), rows, C, k));
  return record(out, 'scatterAdd', [x, src], (g) => {
    const gx = x.requiresGrad ? withContiguous(g, (gc) => copyOf(gc)) : null;
    const gs = src.requiresGrad ? gather(g, idx) : null;
    return [gx, gs];
  });
}

function copyOf(t: Tensor): Tensor {
  const out = empty(t.shape, t.dtype);
  f(out).set(f(t).subarray(0, t.size));
  return out;
}

function checkRows(op: string, x: Tensor, rows: Tensor, values: Tensor): [number, number] {
  ids32(op, rows);
  if (rows.rank !== 1) throw new Error(`${op}: rows must be rank 1, got ${fmtShape(rows.shape)}`);
  const [n, cols] = asRows(x);
  const want = [rows.size, ...x.shape.slice(1)];
  if (values.rank !== want.length || values.shape.some((d, i) => d !== want[i])) {
    throw new Error(`${op}: values must have shape ${fmtShape(want)}, got ${fmtShape(values.shape)}`);
  }
  return [n, cols];
}

/**
 * x with values added to the given rows (dim 0): out[rows[i]] += values[i].
 * Gradient: x gets g, values get g[rows]. Use on [B*T, D] views to add a vector at chosen
 * (batch, position) pairs, e.g. ROME's delta at the subject's last token.
 */
export function addRows(x: Tensor, rows: Tensor, values: Tensor): Tensor {
  const dt = sameDtype('addRows', x, values);
  const [n, cols] = checkRows('addRows', x, rows, values);
  const out = withContiguous(x, (xc) => copyOf(xc));
  withContiguousAll([values, rows], ([vc, rc]) => be().indexAdd(f(vc!), rc!.storage as Int32Array, f(out), n, cols));
  void dt;
  return record(out, 'addRows', [x, values], (g) => [
    x.requiresGrad ? withContiguous(g, copyOf) : null,
    values.requiresGrad ? indexSelect(g, rows) : null,
  ]);
}

/**
 * x with the given rows replaced: out[rows[i]] = values[i] (last write wins on duplicates).
 * Gradient: x gets g with those rows zeroed, values get g[rows].
 */
export function setRows(x: Tensor, rows: Tensor, values: Tensor): Tensor {
  sameDtype('setRows', x, values);
  const [n, cols] = checkRows('setRows', x, rows, values);
  const r = rows.toArray();
  for (const i of r) if (i < 0 || i >= n) throw new Error(`setRows: row ${i} out of range [0, ${n})`);
  const out = withContiguous(x, (xc) => copyOf(xc));
  withContiguous(values, (vc) => {
    const o = f(out);
    const v = f(vc);
    r.forEach((row, i) => o.set(v.subarray(i * cols, (i + 1) * cols), row * cols));
  });
  return record(out, 'setRows', [x, values], (g) => {
    let gx: Tensor | null = null;
    if (x.requiresGrad) {
      gx = withContiguous(g, copyOf);
      for (const row of r) f(gx).fill(0, row * cols, (row + 1) * cols);
    }
    return [gx, values.requiresGrad ? indexSelect(g, rows) : null];
  });
}
