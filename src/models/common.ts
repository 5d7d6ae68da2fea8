/**
 * Pieces every architecture shares: position ids from the attention mask (HF generate's
 * convention), rotary angle tables (LLaMA incl. linear/llama3 scaling, GPT-J), head
 * split/merge, attention with HF's padding-row quirk, KV-cache appends and the parameter
 * lookup with helpful errors.
 */
import * as T from '../tensor/index.js';
import { Tensor } from '../tensor/index.js';
import type { StorageBox } from '../tensor/tensor.js';
import type { ModelConfig } from './config.js';
import type { ArchitectureInfo, ForwardInput, KVCache, ModuleNames } from './types.js';

/**
 * Position ids for the T new tokens: cumsum(mask) - 1 over the full (past + new) mask, with
 * pad positions set to 1 (as HF `prepare_inputs_for_generation` does); without a mask,
 * P .. P + T - 1.
 */
export function positionIds(input: ForwardInput, B: number, Tn: number, past: number): Tensor {
  if (input.positionIds) {
    const p = input.positionIds;
    if (p.dtype !== 'int32' || p.rank !== 2 || p.shape[0] !== B || p.shape[1] !== Tn) {
      throw new Error(`forward: positionIds must be int32 [${B}, ${Tn}], got ${p.dtype} [${p.shape.join(', ')}]`);
    }
    return p;
  }
  const out = new Int32Array(B * Tn);
  const mask = input.attentionMask;
  if (!mask) {
    for (let b = 0; b < B; b++) for (let t = 0; t < Tn; t++) out[b * Tn + t] = past + t;
    return T.tensor(out, [B, Tn], 'int32');
  }
  const total = mask.shape[1]!;
  const m = mask.toArray();
  for (let b = 0; b < B; b++) {
    let c = 0;
    for (let t = 0; t < total; t++) {
      c += m[b * total + t]!;
      const j = t - (total - Tn);
      if (j >= 0) out[b * Tn + j] = m[b * total + t] ? c - 1 : 1;
    }
  }
  return T.tensor(out, [B, Tn], 'int32');
}

/** Validate ids and the attention mask; returns the key mask for attention or null. */
export function checkInputs(
  input: ForwardInput,
  cfg: ModelConfig,
): { B: number; Tn: number; past: number; keyMask: Tensor | null } {
  const ids = input.ids;
  if (ids.dtype !== 'int32' || ids.rank !== 2)
    throw new Error(`forward: ids must be int32 [B, T], got ${ids.dtype} [${ids.shape.join(', ')}]`);
  const [B, Tn] = ids.shape as [number, number];
  const past = input.cache?.length ?? 0;
  const vals = ids.storage as Int32Array;
  for (let i = 0; i < ids.size; i++) {
    const v = vals[ids.offset + i]!;
    if (v < 0 || v >= cfg.vocabSize)
      throw new Error(`forward: token id ${v} at flat index ${i} is outside the vocabulary [0, ${cfg.vocabSize})`);
  }
  if (past + Tn > cfg.maxPositions && cfg.arch === 'gpt2') {
    throw new Error(`forward: ${past + Tn} positions exceed the model's maximum of ${cfg.maxPositions}`);
  }
  const mask = input.attentionMask ?? null;
  if (mask) {
    if (mask.dtype !== 'uint8' || mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== past + Tn) {
      throw new Error(`forward: attentionMask must be uint8 [${B}, ${past + Tn}], got ${mask.dtype} [${mask.shape.join(', ')}]`);
    }
  }
  return { B, Tn, past, keyMask: mask };
}

/** Rotary angle tables cos/sin [P, rotaryDim/2] (float32) for positions 0..P-1. */
export interface RopeTables {
  cos: Tensor;
  sin: Tensor;
}

/**
 * LLaMA's inverse frequencies, computed in float32 like HF (`1 / theta^(arange(0, d, 2) / d)`),
 * with linear or llama3 scaling applied.
 */
export function ropeInvFreq(cfg: ModelConfig): number[] {
  const dim = cfg.rotaryDim;
  const f = Math.fround;
  const inv: number[] = [];
  for (let i = 0; i < dim; i += 2) inv.push(f(1 / f(Math.pow(cfg.ropeTheta, f(i / dim)))));
  const sc = cfg.ropeScaling;
  if (sc.type === 'llama3') {
    const lowWavelen = sc.originalMaxPositionEmbeddings / sc.lowFreqFactor;
    const highWavelen = sc.originalMaxPositionEmbeddings / sc.highFreqFactor;
    return inv.map((fr) => {
      const wavelen = (2 * Math.PI) / fr;
      if (wavelen < highWavelen) return fr;
      if (wavelen > lowWavelen) return f(fr / sc.factor);
      const smooth = (sc.originalMaxPositionEmbeddings / wavelen - sc.lowFreqFactor) / (sc.highFreqFactor - sc.lowFreqFactor);
      return f((1 - smooth) * (fr / sc.factor) + smooth * fr);
    });
  }
  return inv;
}

/** cos/sin tables for positions [0, P) with angle = pos * invFreq (fp32 product like torch). */
export function ropeTables(invFreq: readonly number[], P: number, posScale = 1): RopeTables {
  const half = invFreq.length;
  const cos = new Float32Array(P * half);
  const sin = new Float32Array(P * half);
  for (let p = 0; p < P; p++) {
    const t = Math.fround(p / posScale);
    for (let i = 0; i < half; i++) {
      const a = Math.fround(t * invFreq[i]!);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos: T.keep(T.tensor(cos, [P, half])), sin: T.keep(T.tensor(sin, [P, half])) };
}

/** The tables in the compute dtype of the activations (float64 runs for exact checks). */
export function ropeAs(t: RopeTables, dtype: Tensor['dtype']): RopeTables {
  if (t.cos.dtype === dtype) return t;
  return { cos: T.cast(t.cos, dtype), sin: T.cast(t.sin, dtype) };
}

/**
 * A model's rotary tables: built once for max_position_embeddings (or more), and rebuilt
 * only when a forward reaches past them.
 */
export class RopeCache {
  private tables: RopeTables | null = null;

  constructor(private readonly cfg: ModelConfig) {}

  /** cos/sin covering positions [0, needed), in the activations' dtype. */
  get(needed: number, dtype: Tensor['dtype']): RopeTables {
    if (!this.tables || this.tables.cos.shape[0]! < needed) {
      this.dispose();
      const sc = this.cfg.ropeScaling;
      const posScale = sc.type === 'linear' ? sc.factor : 1;
      this.tables = ropeTables(ropeInvFreq(this.cfg), Math.max(needed, this.cfg.maxPositions), posScale);
    }
    return ropeAs(this.tables, dtype);
  }

  dispose(): void {
    this.tables?.cos.dispose();
    this.tables?.sin.dispose();
    this.tables = null;
  }
}

/** Positions written so far into each preallocated cache buffer (by its storage). */
const filled = new WeakMap<StorageBox, number>();

/**
 * Append new k/v [B, KVH, T, hd] to a layer's cache entry, returning the full k/v. Without
 * gradients the cache lives in buffers [B, KVH, capacity, hd] and the result is a view of
 * their first P + T positions (attention reads it in place): appending writes the new
 * positions only, unless the buffer is full or another call already appended after this
 * entry (a cache used twice), in which case it moves to a new buffer. `capacity` sizes a new
 * buffer; default 1.5x what is needed.
 * @example const { k: kAll, v: vAll } = appendCache(cache, i, k, v, 96);
 */
export function appendCache(
  cache: KVCache | null,
  layer: number,
  k: Tensor,
  v: Tensor,
  capacity?: number,
): { k: Tensor; v: Tensor } {
  const prev = cache?.layers[layer];
  if (T.isGradEnabled()) return prev ? { k: T.concat([prev.k, k], 2), v: T.concat([prev.v, v], 2) } : { k, v };
  const [B, KVH, Tn, hd] = k.shape as [number, number, number, number];
  const P = prev ? prev.k.shape[2]! : 0;
  const need = P + Tn;
  const room = (t: Tensor): number =>
    t.rank === 4 && t.offset === 0 && t.strides[2] === hd && t.strides[3] === 1 ? t.strides[1]! / hd : 0;
  const extendable =
    prev !== undefined &&
    filled.get(prev.k.box) === P &&
    filled.get(prev.v.box) === P &&
    room(prev.k) >= need &&
    room(prev.k) === room(prev.v);
  let kBuf: Tensor;
  let vBuf: Tensor;
  if (extendable) {
    const cap = room(prev.k);
    kBuf = new Tensor(prev.k.box, [B, KVH, cap, hd]);
    vBuf = new Tensor(prev.v.box, [B, KVH, cap, hd]);
  } else {
    const cap = Math.max(need, capacity ?? 0, Math.ceil(need * 1.5));
    kBuf = T.zeros([B, KVH, cap, hd], k.dtype);
    vBuf = T.zeros([B, KVH, cap, hd], v.dtype);
    if (prev) {
      T.assign(T.narrow(kBuf, 2, 0, P), prev.k);
      T.assign(T.narrow(vBuf, 2, 0, P), prev.v);
    }
  }
  T.assign(T.narrow(kBuf, 2, P, need), k);
  T.assign(T.narrow(vBuf, 2, P, need), v);
  filled.set(kBuf.box, need);
  filled.set(vBuf.box, need);
  const out = { k: T.narrow(kBuf, 2, 0, need), v: T.narrow(vBuf, 2, 0, need) };
  kBuf.dispose();
  vBuf.dispose();
  return out;
}

/** An architecture's names with one config's sizes; `lmHead` differs where a config can tie it. */
export function archInfo(cfg: ModelConfig, names: ModuleNames, lmHead = names.lmHead): ArchitectureInfo {
  return { numLayers: cfg.numLayers, hiddenSize: cfg.hiddenSize, intermediateSize: cfg.intermediateSize, ...names, lmHead };
}

/** The MLP nonlinearity of GPT-2/GPT-J configs (`activation_function`). */
export function activation(cfg: ModelConfig): (x: Tensor) => Tensor {
  return cfg.activation === 'gelu' ? T.geluErf : cfg.activation === 'relu' ? T.relu : T.gelu;
}

/** [B, T, n * hd] -> [B, n, T, hd]: attention runs per head. */
export function splitHeads(x: Tensor, n: number, hd: number): Tensor {
  const [B, Tn] = x.shape as [number, number, number];
  return T.permute(T.reshape(x, [B, Tn, n, hd]), [0, 2, 1, 3]); // [B, n, T, hd]
}

/** [B, n, T, hd] -> [B, T, n * hd]: the heads side by side again for the output projection. */
export function mergeHeads(y: Tensor): Tensor {
  const [B, n, Tn, hd] = y.shape as [number, number, number, number];
  return T.reshape(T.permute(y, [0, 2, 1, 3]), [B, Tn, n * hd]); // [B, T, n * hd]
}

/**
 * Causal attention of q [B, H, T, hd] over the cache-extended k/v [B, KVH, P + T, hd], scaled
 * by 1/sqrt(hd), returning [B, H, T, hd]. Rows of left padding get HF's output rather than
 * zeros (see hfPaddingRows; `causalMask` says how the model's HF code masks the future).
 */
export function attend(
  q: Tensor,
  kv: { k: Tensor; v: Tensor },
  keyMask: Tensor | null,
  causalMask: 'additive' | 'where',
): Tensor {
  const y = T.attention(q, kv.k, kv.v, { causal: true, keyMask });
  return hfPaddingRows(y, q, kv.k, kv.v, keyMask, 1 / Math.sqrt(q.shape[3]!), causalMask);
}

/** Find a parameter, suggesting near names when absent. */
export function lookupParam(params: Map<string, Tensor>, name: string): Tensor {
  const t = params.get(name);
  if (t) return t;
  const tail = name.split('.').slice(-2).join('.');
  const near = [...params.keys()].filter((k) => k.endsWith(tail)).slice(0, 3);
  throw new Error(`model: no parameter "${name}"${near.length ? ` (similar: ${near.join(', ')})` : ''}`);
}

/**
 * HF 4.33's output for query rows that see no real key (the pad positions of a left-padded
 * batch). HF adds finfo.min masks instead of -inf: such a row's scores all round to
 * finfo.min except where the causal and padding masks add up to -inf (padding after the
 * query), so softmax spreads uniformly over every key but those. Our attention kernel returns
 * zeros for these rows; this adds HF's uniform average of v so losses over padded batches
 * (which predict the first real token from the last pad position) match HF. With gradients
 * recorded it also reproduces HF's backward there: the scores still receive the softmax
 * gradient at the uniform point (softmax(s - detach(s))), which flows into q and k — into
 * every key for LLaMA, whose causal mask is added ('additive'), but only into keys up to the
 * query for GPT-2/GPT-J, whose `torch.where` replaces future scores by a constant ('where').
 * y [B, H, Tq, hd] (zeros at such rows), q [B, H, Tq, hd], k/v [B, KVH, Tk, hd], keyMask [B, Tk].
 */
export function hfPaddingRows(
  y: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  keyMask: Tensor | null,
  scale: number,
  causalMask: 'additive' | 'where',
): Tensor {
  if (!keyMask) return y;
  const [B, H, Tq] = y.shape as [number, number, number, number];
  const [, KVH, Tk] = v.shape as [number, number, number, number];
  const m = keyMask.toArray();
  const w = new Float32Array(B * Tq * Tk); // uniform weights of the affected rows
  const bias = new Float32Array(B * Tq * Tk).fill(-1e30); // 0 on each affected row's key set
  const rowSel = new Float32Array(B * Tq);
  let any = false;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      const qpos = Tk - Tq + i;
      let visible = false;
      for (let j = 0; j <= qpos; j++) if (m[b * Tk + j]) visible = true;
      if (visible) continue;
      any = true;
      rowSel[b * Tq + i] = 1;
      const keys: number[] = [];
      for (let j = 0; j < Tk; j++) if (j <= qpos || m[b * Tk + j]) keys.push(j);
      for (const j of keys) {
        w[(b * Tq + i) * Tk + j] = 1 / keys.length;
        bias[(b * Tq + i) * Tk + j] = 0;
      }
    }
  }
  if (!any) return y;
  const G = H / KVH;
  const perHead = (t: Tensor): Tensor =>
    G === 1 ? t : T.reshape(T.expand(T.unsqueeze(t, 2), [B, KVH, G, t.shape[2]!, t.shape[3]!]), [B, H, t.shape[2]!, t.shape[3]!]);
  const needsGrad = T.isGradEnabled() && (q.requiresGrad || k.requiresGrad || v.requiresGrad);
  if (!needsGrad) {
    const fill = T.matmul(T.tensor(w, [B, 1, Tq, Tk], y.dtype), v); // [B, KVH, Tq, hd]
    return T.add(y, perHead(fill));
  }
  const kh = perHead(k); // [B, H, Tk, hd]
  const vh = perHead(v); // [B, H, Tk, hd]
  const scores = T.mul(T.matmul(q, T.transpose(kh)), scale); // [B, H, Tq, Tk]
  let zero = T.sub(scores, T.detach(scores)); // 0 forward, identity backward
  if (causalMask === 'where') {
    const past = new Float32Array(Tq * Tk);
    for (let i = 0; i < Tq; i++) for (let j = 0; j <= Tk - Tq + i; j++) past[i * Tk + j] = 1;
    zero = T.mul(zero, T.tensor(past, [1, 1, Tq, Tk], y.dtype)); // future scores are constants in HF
  }
  const p = T.softmax(T.add(zero, T.tensor(bias, [B, 1, Tq, Tk], y.dtype))); // [B, H, Tq, Tk]
  const pRows = T.mul(p, T.tensor(rowSel, [B, 1, Tq, 1], y.dtype));
  return T.add(y, T.matmul(pRows, vh)); // [B, H, Tq, hd]
}
