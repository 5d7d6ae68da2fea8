/**
 * Kernels with many integer parameters (strided copies, gemm, rope, attention) pass them to the
 * addon packed in one Float64Array, its calling convention (native/src/addon.cc): doubles hold
 * every integer up to 2^53 exactly, and one array keeps each binding's argument list short.
 */
import type { AttentionParams } from '../../backend.js';
import { fail, int, need, computeDtype, same } from './validate.js';

// One scratch buffer, reused by every call: calls are synchronous, so it is never shared.
export const META = new Float64Array(64);

export function packStrided(
  header: number[],
  shape: readonly number[],
  strideLists: readonly (readonly number[])[],
): Float64Array {
  let i = 0;
  for (const h of header) META[i++] = h;
  for (const s of shape) META[i++] = s;
  for (const st of strideLists) for (const s of st) META[i++] = s;
  return META;
}

/** Validates attention parameters; returns the packed meta, or null when there is no work. */
export function attentionMeta(k: string, p: AttentionParams): Float64Array | null {
  for (const f of ['B', 'H', 'KVH', 'Tq', 'Tk', 'D'] as const) int(k, f, p[f]);
  if (typeof p.scale !== 'number') fail(k, 'scale must be a number');
  if (p.H > 0 && (p.KVH === 0 || p.H % p.KVH !== 0)) fail(k, `H=${p.H} must be a multiple of KVH=${p.KVH}`);
  const dt = computeDtype(k, 'q', p.q);
  same(k, dt, { k: p.k, v: p.v, out: p.out, lse: p.lse });
  const cap = p.kvCapacity ?? p.Tk;
  int(k, 'kvCapacity', cap);
  if (cap < p.Tk) fail(k, `kvCapacity=${cap} must be >= Tk=${p.Tk}`);
  const nq = p.B * p.H * p.Tq * p.D;
  const nk = p.B * p.KVH * cap * p.D;
  need(k, 'q', p.q, nq, `B=${p.B}, H=${p.H}, Tq=${p.Tq}, D=${p.D}`);
  need(k, 'out', p.out, nq, `B=${p.B}, H=${p.H}, Tq=${p.Tq}, D=${p.D}`);
  need(k, 'k', p.k, nk, `B=${p.B}, KVH=${p.KVH}, Tk=${p.Tk}, kvCapacity=${cap}, D=${p.D}`);
  need(k, 'v', p.v, nk, `B=${p.B}, KVH=${p.KVH}, Tk=${p.Tk}, kvCapacity=${cap}, D=${p.D}`);
  need(k, 'lse', p.lse, p.B * p.H * p.Tq, `B=${p.B}, H=${p.H}, Tq=${p.Tq}`);
  if (p.keyMask !== null && p.keyMask !== undefined) {
    if (!(p.keyMask instanceof Uint8Array)) fail(k, 'keyMask must be a Uint8Array or null');
    need(k, 'keyMask', p.keyMask, p.B * p.Tk, `B=${p.B}, Tk=${p.Tk}`);
  }
  if (p.B * p.H * p.Tq === 0 && p.B * p.KVH * p.Tk === 0) return null;
  const m = META;
  m[0] = p.B;
  m[1] = p.H;
  m[2] = p.KVH;
  m[3] = p.Tq;
  m[4] = p.Tk;
  m[5] = p.D;
  m[6] = p.scale;
  m[7] = p.causal ? 1 : 0;
  m[8] = cap;
  return m;
}
