/**
 * Fused neural-network ops with hand-written backward rules: (log_)softmax, LayerNorm,
 * RMSNorm, rotary embeddings (HF LLaMA `rotate_half` and GPT-J interleaved layouts) and
 * causal self-attention with GQA and left-padding masks.
 *
 * Shapes: B batch, H query heads, KVH key/value heads, T / Tq / Tk sequence lengths,
 * D head dim, C channels.
 */
import type { RopeLayout } from '../backend.js';
import { record } from '../autograd.js';
import { Tensor, fmtShape, shapeSize } from '../tensor.js';
import { transpose } from './shape.js';
import {
  assertShape,
  be,
  computeDtype,
  done,
  empty,
  f,
  normAxis,
  output,
  sameDtype,
  withContiguous,
  withContiguousAll,
} from './util.js';

function rowsOf(x: Tensor): [number, number] {
  const cols = x.shape[x.rank - 1] ?? 1;
  return [cols === 0 ? 0 : x.size / cols, cols];
}

function softmaxImpl(x: Tensor, axis: number, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  const dt = computeDtype(op, x);
  const a = normAxis(op, axis, x.rank);
  if (a !== x.rank - 1) {
    const xt = transpose(x, a, -1);
    const y = softmaxImpl(xt, -1, log);
    return done(transpose(y, a, -1), xt, y);
  }
  const [rows, cols] = rowsOf(x);
  const out = output(x.shape, dt);
  withContiguous(x, (xc) => be().softmax(f(xc), f(out), rows, cols, log));
  return record(out, op, [x], (g) => {
    const gx = output(x.shape, g.dtype);
    withContiguous(g, (gc) => be().softmaxGrad(f(out), f(gc), f(gx), rows, cols, log));
    return [gx];
  });
}

/** softmax along axis (default last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl(x, axis, false);
}

/** log_softmax along axis (default last). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl(x, axis, true);
}

/**
 * LayerNorm over the last dim: (x - mean) / sqrt(var + eps) * w + b (biased variance, as
 * torch.nn.LayerNorm). x [..., C], w/b [C] or null.
 */
export function layerNorm(x: Tensor, w: Tensor | null, b: Tensor | null, eps = 1e-5): Tensor {
  const dt = sameDtype('layerNorm', x, ...(w ? [w] : []), ...(b ? [b] : []));
  const [rows, cols] = rowsOf(x);
  if (w) assertShape('layerNorm', 'weight', w, [cols]);
  if (b) assertShape('layerNorm', 'bias', b, [cols]);
  const out = output(x.shape, dt);
  const mean = output([rows], dt);
  const rstd = output([rows], dt);
  withContiguousAll([x, ...(w ? [w] : []), ...(b ? [b] : [])], ([xc, ...rest]) => {
    const wc = w ? rest.shift()! : null;
    const bc = b ? rest.shift()! : null;
    be().layerNorm(f(xc!), wc && f(wc), bc && f(bc), f(out), f(mean), f(rstd), rows, cols, eps);
  });
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  const r = record(out, 'layerNorm', inputs, (g) => {
    const gx = empty(x.shape, dt);
    const gw = w?.requiresGrad ? empty([cols], dt) : null;
    const gb = b?.requiresGrad ? empty([cols], dt) : null;
    withContiguousAll([x, g, ...(w ? [w] : [])], ([xc, gc, wc]) => {
      be().layerNormGrad(f(xc!), wc ? f(wc) : null, f(mean), f(rstd), f(gc!), f(gx), gw && f(gw), gb && f(gb), rows, cols);
    });
    return [x.requiresGrad ? gx : (gx.dispose(), null), ...(w ? [gw] : []), ...(b ? [gb] : [])];
  });
  if (!r.requiresGrad) {
    mean.dispose();
    rstd.dispose();
  }
  return r;
}

/**
 * RMSNorm over the last dim (HF LLaMA): x * rsqrt(mean(x^2) + eps) * w. x [..., C], w [C].
 */
export function rmsNorm(x: Tensor, w: Tensor | null, eps = 1e-6): Tensor {
  const dt = sameDtype('rmsNorm', x, ...(w ? [w] : []));
  const [rows, cols] = rowsOf(x);
  if (w) assertShape('rmsNorm', 'weight', w, [cols]);
  const out = output(x.shape, dt);
  const rstd = output([rows], dt);
  withContiguousAll([x, ...(w ? [w] : [])], ([xc, wc]) => {
    be().rmsNorm(f(xc!), wc ? f(wc) : null, f(out), f(rstd), rows, cols, eps);
  });
  const inputs = [x, ...(w ? [w] : [])];
  const r = record(out, 'rmsNorm', inputs, (g) => {
    const gx = empty(x.shape, dt);
    const gw = w?.requiresGrad ? empty([cols], dt) : null;
    withContiguousAll([x, g, ...(w ? [w] : [])], ([xc, gc, wc]) => {
      be().rmsNormGrad(f(xc!), wc ? f(wc) : null, f(rstd), f(gc!), f(gx), gw && f(gw), rows, cols);
    });
    return [x.requiresGrad ? gx : (gx.dispose(), null), ...(w ? [gw] : [])];
  });
  if (!r.requiresGrad) rstd.dispose();
  return r;
}

export interface RopeOptions {
  /** 'half' = HF LLaMA rotate_half, 'interleaved' = GPT-J. */
  layout: RopeLayout;
  /** Features of each head that rotate (GPT-J rotary_dim); default all of D. */
  rotaryDim?: number;
}

/**
 * Rotary position embedding. x [B, H, T, D]; positions int32 [B, T]; cos/sin [P, rotaryDim/2]
 * holding the angle table (so rope scaling variants are prepared by the caller).
 */
export function rope(x: Tensor, positions: Tensor, cos: Tensor, sin: Tensor, opts: RopeOptions): Tensor {
  const dt = sameDtype('rope', x, cos, sin);
  if (x.rank !== 4) throw new Error(`rope: x must be [B, H, T, D], got ${fmtShape(x.shape)}`);
  const [B, H, T, D] = x.shape as [number, number, number, number];
  const rotaryDim = opts.rotaryDim ?? D;
  if (rotaryDim % 2 !== 0 || rotaryDim > D || rotaryDim <= 0) {
    throw new Error(`rope: rotaryDim ${rotaryDim} must be even and in (0, ${D}]`);
  }
  assertShape('rope', 'positions', positions, [B, T]);
  if (positions.dtype !== 'int32') throw new Error(`rope: positions must be int32, got ${positions.dtype}`);
  if (
    cos.rank !== 2 ||
    cos.shape[1] !== rotaryDim / 2 ||
    sin.rank !== 2 ||
    sin.shape[1] !== rotaryDim / 2 ||
    sin.shape[0] !== cos.shape[0]
  ) {
    throw new Error(`rope: cos/sin must be [P, ${rotaryDim / 2}], got ${fmtShape(cos.shape)} and ${fmtShape(sin.shape)}`);
  }
  const P = cos.shape[0]!;
  const run = (src: Tensor, inverse: boolean): Tensor => {
    const out = empty(src.shape, dt);
    withContiguousAll([src, positions, cos, sin], ([sc, pc, cc, snc]) => {
      const pos = pc!.storage as Int32Array;
      for (let i = 0; i < pos.length; i++) {
        if (pos[i]! < 0 || pos[i]! >= P) throw new Error(`rope: position ${pos[i]} outside the angle table of ${P} rows`);
      }
      be().rope({
        x: f(sc!),
        out: f(out),
        B,
        H,
        T,
        D,
        rotaryDim,
        positions: pos,
        cos: f(cc!),
        sin: f(snc!),
        layout: opts.layout,
        inverse,
      });
    });
    return out;
  };
  const out = run(x, false);
  return record(out, 'rope', [x], (g) => [run(g, true)]);
}

export interface AttentionOptions {
  causal?: boolean;
  /** uint8 [B, Tk]: 1 = real token, 0 = padding (left padding). */
  keyMask?: Tensor | null;
  /** Score scale; default 1 / sqrt(D). */
  scale?: number;
}

/**
 * When k and v are both the leading Tk positions of whole [B, KVH, cap, D] buffers (a KV cache
 * with room to grow), the capacity cap; otherwise null. Attention then reads the cache in place
 * instead of copying the strided views contiguous at every decoding step.
 */
function cacheCapacity(k: Tensor, v: Tensor): number | null {
  const [B, KVH, Tk, D] = k.shape as [number, number, number, number];
  const capOf = (t: Tensor): number | null => {
    const [s0, s1, s2, s3] = t.strides as [number, number, number, number];
    if (t.offset !== 0 || s3 !== 1 || s2 !== D || s1 % D !== 0 || s0 !== KVH * s1) return null;
    const cap = s1 / D;
    if (cap <= Tk || t.box.data.length !== B * KVH * cap * D) return null;
    return cap;
  };
  const ck = capOf(k);
  return ck !== null && ck === capOf(v) ? ck : null;
}

/**
 * Scaled dot-product attention. q [B, H, Tq, D], k/v [B, KVH, Tk, D] -> [B, H, Tq, D].
 * Query head h reads KV head floor(h / (H / KVH)); with causal, query i sits at key position
 * Tk - Tq + i (so a KV cache works). Rows with no visible key give zeros.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const dt = sameDtype('attention', q, k, v);
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new Error(`attention: q, k, v must be rank 4, got ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`);
  }
  const [B, H, Tq, D] = q.shape as [number, number, number, number];
  const [kb, KVH, Tk, kd] = k.shape as [number, number, number, number];
  if (kb !== B || kd !== D || H % KVH !== 0) {
    throw new Error(`attention: k ${fmtShape(k.shape)} does not fit q ${fmtShape(q.shape)} (need [${B}, KVH | ${H}, Tk, ${D}])`);
  }
  assertShape('attention', 'v', v, k.shape);
  if (Tq > Tk) throw new Error(`attention: more queries (${Tq}) than keys (${Tk})`);
  const mask = opts.keyMask ?? null;
  if (mask) {
    assertShape('attention', 'keyMask', mask, [B, Tk]);
    if (mask.dtype !== 'uint8') throw new Error(`attention: keyMask must be uint8, got ${mask.dtype}`);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const causal = opts.causal ?? true;
  const out = output(q.shape, dt);
  const lse = output([B, H, Tq], dt);
  const maskArr = (): Uint8Array | null => {
    if (!mask) return null;
    if (mask.isWholeStorage()) return mask.storage as Uint8Array;
    throw new Error('attention: keyMask must be contiguous');
  };
  const cap = cacheCapacity(k, v);
  if (cap !== null) {
    // k, v are the first Tk positions of preallocated cache buffers: read them in place
    withContiguousAll([q], ([qc]) => {
      be().attention({
        q: f(qc!),
        k: f(k),
        v: f(v),
        out: f(out),
        lse: f(lse),
        B,
        H,
        KVH,
        Tq,
        Tk,
        D,
        scale,
        causal,
        keyMask: maskArr(),
        kvCapacity: cap,
      });
    });
  } else {
    withContiguousAll([q, k, v], ([qc, kc, vc]) => {
      be().attention({
        q: f(qc!),
        k: f(kc!),
        v: f(vc!),
        out: f(out),
        lse: f(lse),
        B,
        H,
        KVH,
        Tq,
        Tk,
        D,
        scale,
        causal,
        keyMask: maskArr(),
      });
    });
  }
  const r = record(out, 'attention', [q, k, v], (g) => {
    const gq = empty(q.shape, dt);
    const gk = empty(k.shape, dt);
    const gv = empty(v.shape, dt);
    withContiguousAll([q, k, v, g], ([qc, kc, vc, gc]) => {
      be().attentionGrad({
        q: f(qc!),
        k: f(kc!),
        v: f(vc!),
        out: f(out),
        lse: f(lse),
        B,
        H,
        KVH,
        Tq,
        Tk,
        D,
        scale,
        causal,
        keyMask: maskArr(),
        gout: f(gc!),
        gq: f(gq),
        gk: f(gk),
        gv: f(gv),
      });
    });
    return [gq, gk, gv];
  });
  if (!r.requiresGrad) lse.dispose();
  return r;
}

/**
 * Embedding lookup: table [V, C] (may be f16/bf16: rows come out as float32) indexed by
 * int32 ids of any shape -> [...ids.shape, C].
 */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  ids.assertAlive('embedding');
  table.assertAlive('embedding');
  if (ids.dtype !== 'int32') throw new Error(`embedding: ids must be int32, got ${ids.dtype} ${fmtShape(ids.shape)}`);
  if (table.rank !== 2) throw new Error(`embedding: table must be [V, C], got ${fmtShape(table.shape)}`);
  if (table.dtype === 'int32' || table.dtype === 'uint8')
    throw new Error(`embedding: table must be floating, got ${table.dtype}`);
  const [V, C] = table.shape as [number, number];
  const outDt = table.dtype === 'float64' ? 'float64' : 'float32';
  const out = empty([...ids.shape, C], outDt);
  withContiguousAll([ids, table], ([ic, tc]) => {
    be().indexSelect(tc!.storage as Float32Array, table.dtype as 'float32', V, C, ic!.storage as Int32Array, f(out));
  });
  return record(out, 'embedding', [table], (g) => {
    if (table.dtype !== outDt) throw new Error(`embedding: no gradient for a ${table.dtype} table; cast it first`);
    const gt = empty([V, C], outDt);
    withContiguousAll([ids, g], ([ic, gc]) => be().indexAdd(f(gc!), ic!.storage as Int32Array, f(gt), V, C));
    return [gt];
  });
}

/** Number of rows when x is viewed as [rows, C]. */
export function rowCount(x: Tensor): number {
  return shapeSize(x.shape.slice(0, -1));
}
