/**
 * Streaming accumulation of the uncentred second moment Σ_t k_t k_tᵀ and the count N of the
 * input k of edited modules (ROME/MEMIT's C = Σ/N, README.md), for several modules in one
 * pass over token chunks. Mirrors ROME's `runningstats.SecondMoment`: one gemm Kᵀ K per batch.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { Trace } from '../../models/hooks.js';
import type { CausalLM } from '../../models/types.js';

/** Accumulation dtype (`mom2_dtype`). */
export type MomentDType = 'float32' | 'float64';

/** A module whose input statistics are collected; `layer` orders the modules in the forward. */
export interface MomentTarget {
  layer: number;
  moduleName: string;
}

/**
 * Σ k kᵀ [d_k, d_k] and N for one module. Owns its `sum` tensor (kept out of every tidy scope).
 * @example
 * const m = new SecondMoment(256);
 * m.add(keys); // keys [n, 256]
 * const C = m.mean(); // [256, 256]
 */
export class SecondMoment {
  readonly sum: Tensor;
  count: number;

  constructor(
    readonly dim: number,
    readonly dtype: MomentDType = 'float32',
    init?: { sum: Tensor; count: number },
  ) {
    if (init) {
      if (init.sum.rank !== 2 || init.sum.shape[0] !== dim || init.sum.shape[1] !== dim) {
        throw new Error(`SecondMoment: initial sum has shape [${init.sum.shape.join(', ')}], expected [${dim}, ${dim}]`);
      }
      this.sum = T.keep(init.sum.dtype === dtype ? T.clone(init.sum) : T.cast(init.sum, dtype));
      this.count = init.count;
    } else {
      this.sum = T.keep(T.zeros([dim, dim], dtype));
      this.count = 0;
    }
  }

  /** Σ += Kᵀ K and N += n for keys K [n, d_k] (any float dtype; cast to the accumulation dtype). */
  add(K: Tensor): void {
    if (K.rank !== 2 || K.shape[1] !== this.dim) {
      throw new Error(`SecondMoment.add: keys have shape [${K.shape.join(', ')}], expected [n, ${this.dim}]`);
    }
    if (K.shape[0] === 0) return;
    T.noGrad(() =>
      T.tidy(() => {
        const Kc = K.dtype === this.dtype ? K : T.cast(K, this.dtype); // [n, d_k]
        const KtK = T.matmul(T.transpose(Kc), Kc); // [d_k, d_k]
        T.addInPlace(this.sum, KtK);
      }),
    );
    this.count += K.shape[0]!;
  }

  /** C = Σ / N as a new tensor in the accumulation dtype. */
  mean(): Tensor {
    if (this.count === 0) throw new Error('SecondMoment.mean: no token was accumulated (empty corpus?)');
    return T.noGrad(() => T.div(this.sum, this.count));
  }

  dispose(): void {
    this.sum.dispose();
  }
}

/** Input width d_k of a linear module, from its weight (`<module>.weight`) and the model's layout. */
export function moduleInputDim(model: CausalLM, moduleName: string): number {
  const w = model.params.get(`${moduleName}.weight`);
  if (!w || w.rank !== 2) {
    throw new Error(`statistics: "${moduleName}" has no 2-D weight "${moduleName}.weight" in this model`);
  }
  return model.arch.weightLayout === 'in_out' ? w.shape[0]! : w.shape[1]!;
}

/** One piece of token stream fed as one batch row; `index` is its position in the chunk stream. */
export interface TokenChunk {
  ids: readonly number[];
  index: number;
}

export interface AccumulateOptions {
  /** chunks per forward pass (default 1); rows are right-padded, pads never counted */
  batchSize?: number;
  /** pad id for right padding (default: the model's pad, else eos, else 0) */
  padId?: number;
  /**
   * Per-module start: chunks with index below it are not added to that module (resuming from
   * a checkpoint that is further along for some modules). Default 0.
   */
  startAt?: ReadonlyMap<string, number>;
  /** called after every batch with the index of the next chunk and the tokens fed so far; may throw to abort */
  onBatch?: (p: { nextChunk: number; tokens: number; forwards: number }) => void;
}

/**
 * Feeds the chunks through the model (no gradients) and adds the inputs of every target
 * module to its SecondMoment. The forward stops after the last target module, so the layers
 * above it never run. Returns the number of chunks and tokens consumed.
 * @example
 * const m = new Map([[ 'transformer.h.1.mlp.c_proj', new SecondMoment(256) ]]);
 * accumulateSecondMoments(model, chunks, [{ layer: 1, moduleName: 'transformer.h.1.mlp.c_proj' }], m);
 */
export function accumulateSecondMoments(
  model: CausalLM,
  chunks: Iterable<TokenChunk>,
  targets: readonly MomentTarget[],
  moments: ReadonlyMap<string, SecondMoment>,
  opts: AccumulateOptions = {},
): { chunks: number; tokens: number } {
  if (targets.length === 0) return { chunks: 0, tokens: 0 };
  for (const t of targets) {
    if (!moments.has(t.moduleName)) throw new Error(`accumulateSecondMoments: no SecondMoment for "${t.moduleName}"`);
  }
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 1));
  const padId = opts.padId ?? model.config.padTokenId ?? model.config.eosTokenId ?? 0;
  const names = targets.map((t) => t.moduleName);
  const stopAfter = lastModule(targets);
  new Trace({ retainInput: names, ...(stopAfter ? { stopAfter } : {}) }).validate(model.hookPoints);
  // a batch must not straddle a module's start, so a module either takes a whole batch or none of it
  const starts = new Set([...(opts.startAt?.values() ?? [])]);

  let nChunks = 0;
  let tokens = 0;
  let forwards = 0;
  let batch: TokenChunk[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    const first = batch[0]!.index;
    const active = names.filter((n) => first >= (opts.startAt?.get(n) ?? 0));
    if (active.length > 0) runBatch(model, batch, active, stopAfter, moments, padId);
    forwards += active.length > 0 ? 1 : 0;
    nChunks += batch.length;
    for (const c of batch) tokens += c.ids.length;
    const next = batch[batch.length - 1]!.index + 1;
    batch = [];
    opts.onBatch?.({ nextChunk: next, tokens, forwards });
  };
  for (const chunk of chunks) {
    if (chunk.ids.length === 0) continue;
    if (batch.length > 0 && starts.has(chunk.index)) flush();
    batch.push(chunk);
    if (batch.length >= batchSize) flush();
  }
  flush();
  return { chunks: nChunks, tokens };
}

/** The module to stop after: the single target of the highest layer (none when ambiguous). */
function lastModule(targets: readonly MomentTarget[]): string | undefined {
  const top = Math.max(...targets.map((t) => t.layer));
  const atTop = [...new Set(targets.filter((t) => t.layer === top).map((t) => t.moduleName))];
  return atTop.length === 1 ? atTop[0] : undefined;
}

function runBatch(
  model: CausalLM,
  batch: readonly TokenChunk[],
  names: readonly string[],
  stopAfter: string | undefined,
  moments: ReadonlyMap<string, SecondMoment>,
  padId: number,
): void {
  const B = batch.length;
  const L = Math.max(...batch.map((c) => c.ids.length));
  const ids = new Int32Array(B * L).fill(padId);
  const mask = new Uint8Array(B * L);
  const realRows: number[] = []; // flat row indices (b * L + t) of non-padding tokens
  batch.forEach((c, b) => {
    for (let t = 0; t < c.ids.length; t++) {
      ids[b * L + t] = c.ids[t]!;
      mask[b * L + t] = 1;
      realRows.push(b * L + t);
    }
  });
  const padded = realRows.length < B * L;
  const trace = new Trace({ retainInput: names, ...(stopAfter ? { stopAfter } : {}) });
  try {
    T.noGrad(() =>
      T.tidy(() => {
        const idsT = T.Tensor.fromStorage(ids, 'int32', [B, L]); // [B, L]
        // right padding: positions 0.. for every row, as HF with default position ids
        const positionIds = T.Tensor.fromStorage(
          Int32Array.from({ length: B * L }, (_, i) => i % L),
          'int32',
          [B, L],
        );
        const attentionMask = padded ? T.Tensor.fromStorage(mask, 'uint8', [B, L]) : undefined;
        model.forward({ ids: idsT, positionIds, trace, logits: 'none', ...(attentionMask ? { attentionMask } : {}) });
        const rows = padded ? T.Tensor.fromStorage(Int32Array.from(realRows), 'int32', [realRows.length]) : null;
        for (const name of names) {
          const k = trace.input(name); // [B, L, d_k]
          const flat = T.reshape(k, [B * L, k.shape[k.rank - 1]!]); // [B*L, d_k]
          const K = rows ? T.indexSelect(flat, rows) : flat; // [n, d_k]
          moments.get(name)!.add(K);
        }
      }),
    );
  } finally {
    trace.dispose();
  }
}
