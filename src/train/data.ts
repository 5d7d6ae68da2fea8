/**
 * Batches for causal-LM pretraining from token-id documents, in a seeded order that is a pure
 * function of (seed, global step): resuming at step s needs no RNG state beyond the seed.
 *
 * Two layouts (see {@link Packing}):
 * - `pad`: one row per document, `[BOS] doc [EOS]`, right-padded to the longest row of its batch;
 *   batches are length-grouped (rows of similar length together) so padding stays small. Every
 *   document starts at position 0 after BOS, exactly like a prompt at evaluation time, and no
 *   document is cut or sees another one: best for short facts.
 * - `pack`: the epoch's documents (each `[BOS] doc [EOS]`) concatenated into one stream and cut
 *   into windows of seqLen + 1 tokens (one token of overlap, so every token is a target once);
 *   no padding except the last window: best for long running text.
 * A document longer than one row (seqLen + 1 tokens) is split into such windows in `pad` mode.
 *
 * Right padding needs no attention mask: attention is causal, so a real token never sees a pad
 * to its right; pads are only masked out of the loss (target -100).
 *
 * A document can start its loss later (`lossStart`): its earlier tokens are inputs only (target
 * -100), as in supervised fine-tuning where only the answer after a prompt is learned.
 */
import * as T from '../tensor/index.js';

/** How documents become rows: see the module comment. `auto`: `pad` when every document fits one row, else `pack`. */
export type Packing = 'pad' | 'pack' | 'auto';

/** Target id that the loss ignores (PyTorch's default ignore_index). */
export const IGNORE_INDEX = -100;

export interface BatchingOptions {
  /** rows per batch */
  batchSize: number;
  /** input positions per row at most (a row holds up to seqLen + 1 tokens: inputs plus the last target) */
  seqLen: number;
  packing: Packing;
  /** prepended to every document (null: none) */
  bosId: number | null;
  /** appended to every document (null: none) */
  eosId: number | null;
  /** input id written in padded positions (never a target; any valid id) */
  padId: number;
  /** data-order seed; epoch e is shuffled by a generator seeded from (seed, e) */
  seed: number;
  /**
   * Round each batch's width up to a multiple of this (at most seqLen); default 8. Fewer distinct
   * shapes let the native backend reuse its buffers (a new shape costs fresh, page-faulted memory).
   */
  padMultiple?: number;
  /**
   * Per document (same index as `documents`): the index of its first token that is a target (0:
   * all of them, the default). Earlier tokens, and BOS's prediction of them, carry no loss; the
   * tokens from there on and the EOS after them do.
   */
  lossStart?: readonly number[];
}

/** One training batch: ids [rows, cols] and their next-token targets (-100 where padded). */
export interface Batch {
  rows: number;
  cols: number;
  ids: Int32Array;
  targets: Int32Array;
  /** number of targets that count in the loss */
  tokens: number;
}

/** Where the data order stands at a global step (what a checkpoint records besides the seed). */
export interface DataPosition {
  seed: number;
  epoch: number;
  /** batch index within the epoch */
  cursor: number;
  batchesPerEpoch: number;
}

/** Framed tokens and, when some of them are no targets, which are (1) and which are not (0). */
export interface Row {
  tokens: Int32Array;
  /** per token: 1 if it is a target (predicted from the token before), 0 if not; null: all are */
  targetMask: Uint8Array | null;
}

/** Length-grouping pools: documents are sorted by length within pools of this many batches. */
const POOL_BATCHES = 16;

/** 32-bit mix of the seed and the epoch (splitmix-style), so epochs get unrelated orders. */
function epochSeed(seed: number, epoch: number): number {
  let h = (seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function shuffle<V>(xs: V[], rng: T.Rng): V[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = t;
  }
  return xs;
}

/**
 * The batches of every epoch, generated on demand from (seed, epoch).
 * @example
 * const data = new BatchPlan(docs, { batchSize: 32, seqLen: 32, packing: 'auto', bosId: 1, eosId: 2, padId: 0, seed: 0 });
 * const b = data.batchAt(step); // b.ids, b.targets
 */
export class BatchPlan {
  /** the resolved layout */
  readonly packing: 'pad' | 'pack';
  readonly batchesPerEpoch: number;
  /** rows of a `pad` plan (documents with BOS/EOS, long ones split), or whole framed documents for `pack` */
  private readonly units: Row[];
  private readonly streamLength: number;
  private cached: { epoch: number; batches: Row[][] } | null = null;

  constructor(
    documents: readonly (readonly number[])[],
    readonly opts: BatchingOptions,
  ) {
    const { batchSize, seqLen } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`batching: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(seqLen) || seqLen < 1) throw new Error(`batching: seqLen must be a positive integer, got ${seqLen}`);
    const { lossStart } = opts;
    if (lossStart !== undefined && lossStart.length !== documents.length)
      throw new Error(`batching: lossStart has ${lossStart.length} entries for ${documents.length} documents`);
    const framed: Row[] = [];
    for (const [i, d] of documents.entries()) {
      if (d.length === 0) continue;
      const bos = opts.bosId === null ? 0 : 1;
      const tokens = new Int32Array(d.length + bos + (opts.eosId === null ? 0 : 1));
      let k = 0;
      if (opts.bosId !== null) tokens[k++] = opts.bosId;
      for (const t of d) {
        if (!Number.isInteger(t) || t < 0) throw new Error(`batching: token id ${t} is not a non-negative integer`);
        tokens[k++] = t;
      }
      if (opts.eosId !== null) tokens[k++] = opts.eosId;
      const from = lossStart?.[i] ?? 0;
      if (!Number.isInteger(from) || from < 0 || from > d.length)
        throw new Error(`batching: lossStart ${from} of document ${i} is outside [0, ${d.length}]`);
      let targetMask: Uint8Array | null = null;
      if (from > 0) {
        targetMask = new Uint8Array(tokens.length).fill(1);
        targetMask.fill(0, 0, bos + from);
      }
      if (tokens.length >= 2) framed.push({ tokens, targetMask });
    }
    if (framed.length === 0) throw new Error('batching: no document with at least two tokens (after BOS/EOS)');
    const fits = framed.every((r) => r.tokens.length <= seqLen + 1);
    this.packing = opts.packing === 'auto' ? (fits ? 'pad' : 'pack') : opts.packing;
    if (this.packing === 'pad') {
      this.units = [];
      for (const r of framed) {
        const n = r.tokens.length;
        if (n <= seqLen + 1) this.units.push(r);
        else
          for (let s = 0; s + 1 < n; s += seqLen) {
            const e = Math.min(n, s + seqLen + 1);
            this.units.push({ tokens: r.tokens.subarray(s, e), targetMask: r.targetMask?.subarray(s, e) ?? null });
          }
      }
      this.streamLength = 0;
      this.batchesPerEpoch = Math.ceil(this.units.length / batchSize);
    } else {
      this.units = framed;
      this.streamLength = framed.reduce((a, r) => a + r.tokens.length, 0);
      const windows = Math.ceil((this.streamLength - 1) / seqLen);
      this.batchesPerEpoch = Math.ceil(windows / batchSize);
    }
  }

  /** Rows of one epoch (`pad`) or documents (`pack`) in the order used. */
  get unitCount(): number {
    return this.units.length;
  }

  position(step: number): DataPosition {
    return {
      seed: this.opts.seed,
      epoch: Math.floor(step / this.batchesPerEpoch),
      cursor: step % this.batchesPerEpoch,
      batchesPerEpoch: this.batchesPerEpoch,
    };
  }

  /** The batch used at global step `step` (0-based). */
  batchAt(step: number): Batch {
    const { epoch, cursor } = this.position(step);
    const rows = this.epochBatches(epoch)[cursor]!;
    const m = this.opts.padMultiple ?? 8;
    const longest = Math.max(...rows.map((r) => r.tokens.length)) - 1;
    return materialize(rows, this.opts.padId, Math.min(this.opts.seqLen, Math.ceil(longest / m) * m));
  }

  /** Every batch's rows for one epoch (cached for the current epoch). */
  epochBatches(epoch: number): Row[][] {
    if (this.cached?.epoch === epoch) return this.cached.batches;
    const rng = new T.Rng(epochSeed(this.opts.seed, epoch));
    const B = this.opts.batchSize;
    const order = shuffle(
      this.units.map((_, i) => i),
      rng,
    );
    // every batch has B rows: the last one is completed with the epoch's first rows
    if (this.packing === 'pad') for (let k = 0; order.length % B !== 0; k++) order.push(order[k % this.units.length]!);
    const batches: Row[][] = [];
    if (this.packing === 'pad') {
      const pool = B * POOL_BATCHES;
      for (let p = 0; p < order.length; p += pool) {
        const ids = order.slice(p, p + pool);
        // stable sort by length: ties keep the shuffled order
        const byLen = ids
          .map((u, k) => [u, k] as const)
          .sort((a, b) => this.units[a[0]]!.tokens.length - this.units[b[0]]!.tokens.length || a[1] - b[1]);
        for (let s = 0; s < byLen.length; s += B) batches.push(byLen.slice(s, s + B).map(([u]) => this.units[u]!));
      }
      shuffle(batches, rng);
    } else {
      const stream = new Int32Array(this.streamLength);
      const masked = this.units.some((u) => u.targetMask !== null);
      const mask = masked ? new Uint8Array(this.streamLength).fill(1) : null;
      let k = 0;
      for (const u of order) {
        const unit = this.units[u]!;
        stream.set(unit.tokens, k);
        if (mask && unit.targetMask) mask.set(unit.targetMask, k);
        k += unit.tokens.length;
      }
      const S = this.opts.seqLen;
      const windows: Row[] = [];
      for (let s = 0; s + 1 < stream.length; s += S) {
        const e = Math.min(stream.length, s + S + 1);
        windows.push({ tokens: stream.subarray(s, e), targetMask: mask?.subarray(s, e) ?? null });
      }
      const n = windows.length;
      for (let k = 0; windows.length % B !== 0; k++) windows.push(windows[k % n]!);
      for (let s = 0; s < windows.length; s += B) batches.push(windows.slice(s, s + B));
    }
    if (batches.length !== this.batchesPerEpoch)
      throw new Error(`batching: internal error (${batches.length} != ${this.batchesPerEpoch} batches)`);
    this.cached = { epoch, batches };
    return batches;
  }
}

/**
 * Rows of tokens -> ids/targets, right-padded to `cols` (default: the longest row's inputs). A row
 * is its tokens, or a {@link Row} whose `targetMask` zeroes some targets (-100).
 */
export function materialize(
  rows: readonly (Int32Array | Row)[],
  padId: number,
  cols = Math.max(...rows.map((r) => tokensOf(r).length)) - 1,
): Batch {
  if (rows.some((r) => tokensOf(r).length - 1 > cols)) throw new Error(`materialize: a row is longer than ${cols} + 1 tokens`);
  const ids = new Int32Array(rows.length * cols).fill(padId);
  const targets = new Int32Array(rows.length * cols).fill(IGNORE_INDEX);
  let tokens = 0;
  rows.forEach((row, b) => {
    const r = tokensOf(row);
    const mask = row instanceof Int32Array ? null : row.targetMask;
    const n = r.length - 1;
    ids.set(r.subarray(0, n), b * cols);
    if (mask === null) {
      targets.set(r.subarray(1), b * cols);
      tokens += n;
    } else {
      for (let i = 1; i <= n; i++) {
        if (mask[i] === 0) continue;
        targets[b * cols + i - 1] = r[i]!;
        tokens += 1;
      }
    }
  });
  return { rows: rows.length, cols, ids, targets, tokens };
}

const tokensOf = (r: Int32Array | Row): Int32Array => (r instanceof Int32Array ? r : r.tokens);
