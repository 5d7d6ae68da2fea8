/**
 * Matrix products. Transposed views are passed to the gemm kernel as transpose flags (no
 * copies), a batched left operand against a 2-D weight becomes one large gemm, and the weight
 * may be stored as float16/bfloat16 (read directly by the kernel).
 */
import type { WeightArray, WeightDType } from '../backend.js';
import { record } from '../autograd.js';
import { Tensor, fmtShape, shapeSize } from '../tensor.js';
import { add as addBias } from './elementwise.js';
import { reshape, transpose } from './shape.js';
import { be, broadcastShapes, computeDtype, copyContiguous, f, output, sumToShape, type ComputeDType } from './util.js';

/** How the last two dims of a view map onto a BLAS matrix, or null when they don't. */
interface MatLayout {
  trans: boolean;
  ld: number;
}

function matLayout(t: Tensor): MatLayout | null {
  const r = t.rank;
  const rows = t.shape[r - 2]!;
  const cols = t.shape[r - 1]!;
  const sr = t.strides[r - 2]!;
  const sc = t.strides[r - 1]!;
  if ((sc === 1 || cols === 1) && sr >= Math.max(cols, 1)) return { trans: false, ld: Math.max(sr, 1) };
  if ((sr === 1 || rows === 1) && sc >= Math.max(rows, 1)) return { trans: true, ld: Math.max(sc, 1) };
  if (rows === 1 && cols === 1) return { trans: false, ld: 1 };
  return null;
}

function weightDtype(op: string, b: Tensor): WeightDType {
  if (b.dtype === 'int32' || b.dtype === 'uint8')
    throw new Error(`${op}: cannot multiply by a ${b.dtype} tensor ${fmtShape(b.shape)}`);
  return b.dtype;
}

/**
 * Batch strides that walk `t`'s batch dims (broadcast to `batchShape`) with ONE stride, or
 * null when the dims don't collapse to a single arithmetic progression.
 */
function uniformBatchStride(t: Tensor, batchShape: readonly number[]): number | null {
  const nb = t.rank - 2;
  const strides: number[] = [];
  for (let i = 0; i < batchShape.length; i++) {
    const ti = i - (batchShape.length - nb);
    strides.push(ti < 0 || t.shape[ti] === 1 ? 0 : t.strides[ti]!);
  }
  // the batch index b = sum_i idx_i * prod(shape[i+1:]) must map to b * s
  let s: number | null = null;
  let span = 1;
  for (let i = batchShape.length - 1; i >= 0; i--) {
    if (batchShape[i] === 1) continue;
    const want = s === null ? null : s * span;
    if (want === null) s = strides[i]! / span;
    else if (strides[i] !== want) return null;
    span *= batchShape[i]!;
  }
  if (s !== null && !Number.isInteger(s)) return null;
  return s ?? 0;
}

/** Forward product of a [..., M, K] and b [..., K, N] with batch broadcasting. No autograd. */
function mmForward(a: Tensor, b: Tensor): Tensor {
  const dt: ComputeDType = computeDtype('matmul', a);
  const bdt = weightDtype('matmul', b);
  if (bdt !== dt && !(dt === 'float32' && (bdt === 'float16' || bdt === 'bfloat16'))) {
    throw new Error(`matmul: dtype mismatch ${dt} ${fmtShape(a.shape)} @ ${bdt} ${fmtShape(b.shape)}`);
  }
  if (a.rank < 2 || b.rank < 2)
    throw new Error(`matmul: operands must have rank >= 2, got ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  const M = a.shape[a.rank - 2]!;
  const K = a.shape[a.rank - 1]!;
  const K2 = b.shape[b.rank - 2]!;
  const N = b.shape[b.rank - 1]!;
  if (K !== K2) throw new Error(`matmul: inner dims differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);

  // a batched activation times a 2-D weight: fold the batch into M when a's rows are evenly spaced
  if (b.rank === 2 && a.rank > 2) {
    const rows = shapeSize(a.shape.slice(0, -1));
    let rowsUniform = a.strides[a.rank - 1] === 1 || K === 1;
    for (let i = 0; i < a.rank - 2 && rowsUniform; i++) {
      if (a.shape[i] !== 1 && a.strides[i] !== a.strides[i + 1]! * a.shape[i + 1]!) rowsUniform = false;
    }
    const a2 = rowsUniform ? new Tensor(a.box, [rows, K], [a.strides[a.rank - 2]!, 1], a.offset) : reshapeCopy(a, [rows, K]);
    const out2 = mmForward(a2, b);
    a2.dispose();
    const out = new Tensor(out2.box, [...a.shape.slice(0, -1), N]);
    out2.dispose();
    return out;
  }

  const batchShape = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = shapeSize(batchShape);
  const out = output([...batchShape, M, N], dt);
  if (M === 0 || N === 0 || batch === 0) return out;
  const la = matLayout(a);
  const lb = matLayout(b);
  if (!la || !lb) {
    const ac = la ? a : copyContiguous(a);
    const bc = lb ? b : copyContiguous(b);
    const r = mmForward(ac, bc);
    out.dispose();
    if (ac !== a) ac.dispose();
    if (bc !== b) bc.dispose();
    return r;
  }
  const sa = uniformBatchStride(a, batchShape);
  const sb = uniformBatchStride(b, batchShape);
  const common = {
    transA: la.trans,
    transB: lb.trans,
    M,
    N,
    K,
    alpha: 1,
    beta: 0,
    a: f(a),
    lda: la.ld,
    b: b.storage as WeightArray,
    bDtype: bdt,
    ldb: lb.ld,
    c: f(out),
    ldc: N,
  };
  if (sa !== null && sb !== null) {
    be().gemm({
      ...common,
      batch,
      aOffset: a.offset,
      aBatchStride: sa,
      bOffset: b.offset,
      bBatchStride: sb,
      cOffset: 0,
      cBatchStride: M * N,
    });
    return out;
  }
  // irregular batch layout: one gemm per batch entry
  for (let i = 0; i < batch; i++) {
    be().gemm({
      ...common,
      batch: 1,
      aOffset: a.offset + batchOffset(a, batchShape, i),
      aBatchStride: 0,
      bOffset: b.offset + batchOffset(b, batchShape, i),
      bBatchStride: 0,
      cOffset: i * M * N,
      cBatchStride: 0,
    });
  }
  return out;
}

function batchOffset(t: Tensor, batchShape: readonly number[], index: number): number {
  const nb = t.rank - 2;
  let off = 0;
  let rem = index;
  for (let i = batchShape.length - 1; i >= 0; i--) {
    const d = batchShape[i]!;
    const ix = rem % d;
    rem = Math.floor(rem / d);
    const ti = i - (batchShape.length - nb);
    if (ti >= 0 && t.shape[ti] !== 1) off += ix * t.strides[ti]!;
  }
  return off;
}

function reshapeCopy(t: Tensor, shape: readonly number[]): Tensor {
  const c = copyContiguous(t);
  const r = new Tensor(c.box, shape);
  c.dispose();
  return r;
}

/**
 * Matrix product with broadcasting over leading dims: a [..., M, K] @ b [..., K, N].
 * A rank-1 operand is treated as a row (a) or column (b) vector and that dim is dropped.
 * b may be a float16/bfloat16 weight (no gradient for it then).
 * @example const y = matmul(x, w); // x [B, T, D], w [D, F] -> [B, T, F]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  a.assertAlive('matmul');
  b.assertAlive('matmul');
  if (a.rank === 1 || b.rank === 1) {
    const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]!]) : a;
    const b2 = b.rank === 1 ? reshape(b, [b.shape[0]!, 1]) : b;
    const r = matmul(a2, b2);
    const shape = [...r.shape];
    if (b.rank === 1) shape.splice(shape.length - 1, 1);
    if (a.rank === 1) shape.splice(shape.length - (b.rank === 1 ? 1 : 2), 1);
    return reshape(r, shape);
  }
  const out = mmForward(a, b);
  return record(out, 'matmul', [a, b], (g) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      const bt = transpose(b);
      const full = mmForward(g, bt);
      bt.dispose();
      ga = sumToShape(full, a.shape);
      if (ga !== full) full.dispose();
    }
    if (b.requiresGrad) {
      if (b.dtype !== 'float32' && b.dtype !== 'float64') {
        throw new Error(`matmul: no gradient for a ${b.dtype} weight ${fmtShape(b.shape)}; cast it to float32 first`);
      }
      if (b.rank === 2 && a.rank > 2) {
        // sum over the batch of a_i^T g_i as one product of the flattened rows
        const K = a.shape[a.rank - 1]!;
        const N = b.shape[1]!;
        const a2 = reshape(a, [-1, K]);
        const g2 = reshape(g, [-1, N]);
        const lb = matLayout(b);
        if (lb?.trans) {
          // b is a transposed view (nn.Linear weights, tied LM heads): compute the gradient in
          // the stored layout, gbᵀ = gᵀ a, so accumulating it later is a contiguous add
          const g2t = transpose(g2);
          const gbT = mmForward(g2t, a2); // [N, K]
          gb = transpose(gbT);
          [a2, g2, g2t, gbT].forEach((t) => t.dispose());
        } else {
          const a2t = transpose(a2);
          gb = mmForward(a2t, g2);
          [a2, g2, a2t].forEach((t) => t.dispose());
        }
      } else {
        const at = transpose(a);
        const full = mmForward(at, g);
        at.dispose();
        gb = sumToShape(full, b.shape);
        if (gb !== full) full.dispose();
      }
    }
    return [ga, gb];
  });
}

/**
 * A linear layer in either weight layout, with optional bias:
 * 'in_out' (GPT-2 Conv1D, w [in, out]): x @ w + b; 'out_in' (nn.Linear, w [out, in]): x @ w^T + b.
 */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null, layout: 'in_out' | 'out_in' = 'out_in'): Tensor {
  const wt = layout === 'out_in' ? transpose(w) : w;
  const y = matmul(x, wt);
  if (!bias) {
    if (wt !== w && !y.requiresGrad) wt.dispose();
    return y;
  }
  const out = addBias(y, bias);
  if (!out.requiresGrad) {
    y.dispose();
    if (wt !== w) wt.dispose();
  }
  return out;
}
