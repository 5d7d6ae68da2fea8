/**
 * The loop every decoder-only LM shares: embed, run the blocks, final norm, LM head — with
 * the KV cache, early stops from a Trace, and (when no gradient is being recorded) each block
 * run inside its own tidy() so a 48-layer forward holds one block's temporaries at a time.
 * Each architecture file supplies the pieces and stays a readable forward pass.
 */
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ModelConfig } from './config.js';
import { appendCache, checkInputs, positionIds } from './common.js';
import { StopForward } from './hooks.js';
import type { ForwardInput, ForwardOutput, KVCache } from './types.js';

/** What a block needs besides its input. */
export interface BlockContext {
  /** int32 [B, T] */
  positions: Tensor;
  /** the largest position id (sizes rotary tables; computed once per forward) */
  maxPosition: number;
  /** uint8 [B, P + T] or null */
  keyMask: Tensor | null;
  /** Combine this layer's new k/v [B, KVH, T, hd] with the cache; returns what to attend to. */
  kv(k: Tensor, v: Tensor): { k: Tensor; v: Tensor };
  trace: ForwardInput['trace'];
}

export interface DecoderParts {
  embed(ids: Tensor, positions: Tensor, trace: ForwardInput['trace']): Tensor;
  block(layer: number, x: Tensor, ctx: BlockContext): Tensor;
  finalNorm(x: Tensor, trace: ForwardInput['trace']): Tensor;
  lmHead(x: Tensor, trace: ForwardInput['trace']): Tensor;
}

export function runDecoder(cfg: ModelConfig, input: ForwardInput, parts: DecoderParts): ForwardOutput {
  const { B, Tn, past, keyMask } = checkInputs(input, cfg);
  const positions = positionIds(input, B, Tn, past);
  const ownPositions = positions !== input.positionIds;
  let maxPosition = 0;
  for (const p of positions.toArray()) maxPosition = Math.max(maxPosition, p);
  const wantCache = input.useCache === true || input.cache !== undefined;
  const newCache: KVCache | null = wantCache ? { layers: [], length: past + Tn } : null;
  const scoped = <R>(fn: () => R): R => (T.isGradEnabled() ? fn() : T.tidy(fn));
  const trace = input.trace;
  try {
    let x = scoped(() => parts.embed(input.ids, positions, trace)); // [B, T, D]
    for (let i = 0; i < cfg.numLayers; i++) {
      const ctx: BlockContext = {
        positions,
        maxPosition,
        keyMask,
        trace,
        kv: (k, v) => {
          if (!newCache) return { k, v };
          const full = appendCache(input.cache ?? null, i, k, v, input.cacheCapacity);
          newCache.layers[i] = { k: T.keep(full.k), v: T.keep(full.v) };
          return full;
        },
      };
      const prev = x;
      x = scoped(() => parts.block(i, prev, ctx));
      if (!T.isGradEnabled() && prev !== x) prev.dispose();
    }
    const hidden = scoped(() => parts.finalNorm(x, trace)); // [B, T, D]
    if (!T.isGradEnabled() && hidden !== x) x.dispose();
    let logits: Tensor | null = null;
    const which = input.logits ?? 'all';
    if (which === 'all') logits = scoped(() => parts.lmHead(hidden, trace));
    else if (which === 'last') {
      logits = scoped(() => {
        const last = T.narrow(hidden, 1, Tn - 1, Tn); // [B, 1, D]
        return parts.lmHead(last, trace);
      });
    }
    return { logits, hidden, cache: newCache, stoppedAfter: null };
  } catch (e) {
    if (e instanceof StopForward) {
      newCache?.layers.forEach((l) => {
        l.k.dispose();
        l.v.dispose();
      });
      return { logits: null, hidden: null, cache: null, stoppedAfter: e.module };
    }
    throw e;
  } finally {
    // the backward of rope still reads the positions: leave them to the caller's tidy then
    if (ownPositions && !T.isGradEnabled()) positions.dispose();
  }
}
