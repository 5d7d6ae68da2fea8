// llama2.c `tokenizer.bin` reader with llama2.c's encode/decode (karpathy/llama2.c run.c, commit 350e04f).
// Used for stories260K (tok512.bin) and the LLaMA 32k vocab. Same ids as run.c, faster: merging runs per
// stretch that no piece can span, with run.c's scan for short stretches and a heap for long ones.
import { readFile } from 'node:fs/promises';
import type { DecodeOptions, DummyPrefixMode, EncodeOptions, Tokenizer } from './types.js';

const BOS_ID = 1; // llama2.c hard-codes these
const EOS_ID = 2;
const BYTE_OFFSET = 3; // byte b is token b + 3 (<0x00> .. <0xFF>)
const MIN_SCORE = Math.fround(-1e10); // run.c: `float best_score = -1e10`, strict `>`
const MAX_TOKEN_LENGTH_LIMIT = 1 << 16;
const NAIVE_MAX = 24; // stretches up to this many tokens use run.c's quadratic scan
const CACHE_MAX = 1 << 16;
const UNIT_SEP = '\u0100'; // outside the binary-string range, so unit-pair keys are unambiguous
const SPECIAL_DISPLAY: ReadonlyMap<string, string> = new Map([
  ['\n<s>\n', '<s>'], // tokenizer.py exports BOS/EOS with newlines around them
  ['\n</s>\n', '</s>'],
]);

/** Options of {@link loadLlama2cTokenizer} / {@link parseLlama2cTokenizer}. */
export interface Llama2cTokenizerOptions {
  /** Read exactly this many tokens (run.c takes it from the checkpoint); default: every token up to end of file. */
  vocabSize?: number;
  /** Default dummy-prefix mode of encode; default `always` (llama2.c). */
  dummyPrefix?: DummyPrefixMode;
}

/** run.c's units: a lead byte and at most 3 continuation bytes, as binary strings. */
function codePointUnits(bytes: Uint8Array): string[] {
  const units: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const next = bytes[i + 1];
    if (next !== undefined && (next & 0xc0) === 0x80 && i + 1 - start < 4) continue;
    units.push(binary(bytes.subarray(start, i + 1)));
    start = i + 1;
  }
  return units;
}

/** Bytes as a binary string (one char per byte) so that piece concatenation is byte concatenation. */
function binary(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

/**
 * A llama2.c tokenizer: SentencePiece-BPE pieces with scores, byte fallback, merge by highest score.
 *
 * @example
 * ```ts
 * const tok = await loadLlama2cTokenizer('../shared/data/stories260K/tok512.bin');
 * tok.encode('Hello world', { addBos: false }); // [346, 306, 414, 263, 304, 341]
 * tok.decode([1, 403, 407]); // '<s>Once upon' (the space after BOS is stripped, as in llama2.c)
 * ```
 */
export class Llama2cTokenizer implements Tokenizer {
  readonly kind = 'llama2c' as const;
  readonly bosId: number | null = BOS_ID;
  readonly eosId: number | null = EOS_ID;
  readonly padId: number | null = null;
  readonly vocabSize: number;
  /** Raw piece bytes per id, as stored (spaces, not U+2581). */
  readonly pieces: readonly Uint8Array[];
  /** Merge score per id. */
  readonly scores: Float32Array;
  readonly maxTokenLength: number;
  private readonly lookup = new Map<string, number>();
  /** (left id * vocabSize + right id) → id of the piece equal to their concatenation. */
  private readonly pairs = new Map<number, number>();
  /** `unitA + UNIT_SEP + unitB` for every pair of code points adjacent inside some piece; null: never split. */
  private readonly joinable: Set<string> | null;
  private readonly cache = new Map<string, readonly number[]>();
  private readonly dummyPrefix: DummyPrefixMode;

  constructor(pieces: Uint8Array[], scores: Float32Array, maxTokenLength: number, opts: Llama2cTokenizerOptions = {}) {
    this.pieces = pieces;
    this.scores = scores;
    this.maxTokenLength = maxTokenLength;
    this.vocabSize = pieces.length;
    this.dummyPrefix = opts.dummyPrefix ?? 'always';
    // First id wins for duplicate pieces (run.c's bsearch order is unspecified; the shipped vocabs have none).
    pieces.map(binary).forEach((p, id) => {
      if (!this.lookup.has(p)) this.lookup.set(p, id);
    });
    // run.c looks up the concatenated string of every adjacent pair; precomputing the splits of each
    // piece gives the same answers with a numeric key.
    for (const [p, id] of this.lookup) {
      for (let k = 1; k < p.length; k++) {
        const a = this.lookup.get(p.slice(0, k));
        const b = this.lookup.get(p.slice(k));
        if (a !== undefined && b !== undefined) this.pairs.set(a * this.vocabSize + b, id);
      }
    }
    // Code-point pairs inside pieces; only sound when every piece is whole UTF-8 code points.
    const strict = new TextDecoder('utf-8', { fatal: true });
    const joinable = new Set<string>();
    for (const piece of pieces) {
      try {
        strict.decode(piece);
      } catch {
        this.joinable = null;
        return;
      }
      const units = codePointUnits(piece);
      for (let k = 1; k < units.length; k++) joinable.add(units[k - 1] + UNIT_SEP + units[k]);
    }
    this.joinable = joinable;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.encodeBody(text, opts.dummyPrefix ?? this.dummyPrefix);
    const addBos = opts.addBos ?? opts.addSpecialTokens ?? true;
    return addBos ? [BOS_ID, ...ids] : ids;
  }

  /**
   * run.c `encode` without BOS/EOS: dummy prefix, one token per code point (or its bytes), then merges.
   * Merging runs separately on stretches between code points that are never adjacent inside any piece
   * (no merge can cross them, so the ids are the same) and is cached per stretch.
   */
  private encodeBody(text: string, mode: DummyPrefixMode): number[] {
    if (text.length === 0) return [];
    const units = codePointUnits(utf8.encode(text));
    if (mode === 'always' || (mode === 'unless_space' && !text.startsWith(' '))) units.unshift(' ');
    const out: number[] = [];
    let start = 0;
    for (let i = 1; i <= units.length; i++) {
      if (i < units.length && (this.joinable?.has(units[i - 1] + UNIT_SEP + units[i]) ?? true)) continue;
      for (const id of this.encodeStretch(units.slice(start, i))) out.push(id);
      start = i;
    }
    return out;
  }

  private encodeStretch(units: string[]): readonly number[] {
    const key = units.join('');
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const ids: number[] = [];
    for (const unit of units) {
      const id = this.lookup.get(unit);
      if (id !== undefined) ids.push(id);
      else for (let k = 0; k < unit.length; k++) ids.push(unit.charCodeAt(k) + BYTE_OFFSET); // byte fallback
    }
    const merged = this.mergeIds(ids, ids.length <= NAIVE_MAX ? 'scan' : 'heap');
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    if (key.length <= 64) this.cache.set(key, merged);
    return merged;
  }

  /**
   * Repeatedly merge the adjacent pair whose concatenation has the highest score, leftmost on ties.
   * `scan` is run.c's loop verbatim (quadratic, used for short stretches); `heap` gives the same result
   * in O(n log n). Exposed for tests.
   * @internal
   */
  mergeIds(ids: readonly number[], strategy: 'scan' | 'heap'): number[] {
    return strategy === 'scan' ? this.mergeScan([...ids]) : this.mergeHeap(ids);
  }

  private mergeScan(tok: number[]): number[] {
    for (;;) {
      let bestScore = MIN_SCORE;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i + 1 < tok.length; i++) {
        const id = this.pairs.get((tok[i] ?? 0) * this.vocabSize + (tok[i + 1] ?? 0));
        if (id !== undefined && (this.scores[id] ?? MIN_SCORE) > bestScore) {
          bestScore = this.scores[id] ?? MIN_SCORE;
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx < 0) return tok;
      tok[bestIdx] = bestId;
      tok.splice(bestIdx + 1, 1);
    }
  }

  private mergeHeap(ids: readonly number[]): number[] {
    const n = ids.length;
    const tok = Int32Array.from(ids);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const version = new Int32Array(n); // bumped whenever a node changes or dies, to drop stale heap entries
    const heap = new PairHeap();
    const consider = (l: number): void => {
      const r = next[l] ?? -1;
      if (l < 0 || r < 0) return;
      const id = this.pairs.get((tok[l] ?? 0) * this.vocabSize + (tok[r] ?? 0));
      if (id === undefined) return;
      const score = this.scores[id] ?? MIN_SCORE;
      if (score > MIN_SCORE) heap.push({ score, left: l, right: r, lv: version[l] ?? 0, rv: version[r] ?? 0, id });
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
      const { left: l, right: r } = e;
      if (version[l] !== e.lv || version[r] !== e.rv || next[l] !== r) continue; // stale
      tok[l] = e.id;
      version[l] = (version[l] ?? 0) + 1;
      version[r] = (version[r] ?? 0) + 1;
      const rn = next[r] ?? -1;
      next[l] = rn;
      if (rn >= 0) prev[rn] = l;
      consider(prev[l] ?? -1);
      consider(l);
    }
    const out: number[] = [];
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i] ?? -1) out.push(tok[i] ?? 0);
    return out;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const bytes: number[] = [];
    let prevId = -1;
    for (const id of ids) {
      this.check(id);
      const isSpecial = id <= EOS_ID;
      if (isSpecial && opts.skipSpecialTokens) {
        prevId = id;
        continue;
      }
      if (isSpecial) {
        for (const b of utf8.encode(this.tokenString(id))) bytes.push(b);
      } else if (this.isByteToken(id)) {
        bytes.push(id - BYTE_OFFSET);
      } else {
        const piece = this.pieces[id] ?? new Uint8Array();
        // run.c: following BOS, SentencePiece's decoder strips a leading space
        const from = prevId === BOS_ID && piece[0] === 0x20 ? 1 : 0;
        for (let i = from; i < piece.length; i++) bytes.push(piece[i] ?? 0);
      }
      prevId = id;
    }
    return utf8Decoder.decode(Uint8Array.from(bytes));
  }

  decodeToken(id: number): string {
    return this.decode([id]);
  }

  idToToken(id: number): string | null {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.tokenString(id) : null;
  }

  tokenToId(token: string): number | null {
    for (const [raw, shown] of SPECIAL_DISPLAY) {
      if (shown === token) return this.lookup.get(raw) ?? null;
    }
    return this.lookup.get(binary(utf8.encode(token))) ?? null;
  }

  private tokenString(id: number): string {
    const raw = utf8Decoder.decode(this.pieces[id]);
    return SPECIAL_DISPLAY.get(raw) ?? raw;
  }

  private isByteToken(id: number): boolean {
    return id >= BYTE_OFFSET && id < BYTE_OFFSET + 256;
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is out of range [0, ${this.vocabSize})`);
    }
  }
}

interface PairEntry {
  score: number;
  left: number;
  right: number;
  lv: number;
  rv: number;
  id: number;
}

/** Max-heap on score, then min on left position (= leftmost, since positions keep their order). */
class PairHeap {
  private readonly a: PairEntry[] = [];
  private static before(x: PairEntry, y: PairEntry): boolean {
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }
  push(e: PairEntry): void {
    const a = this.a;
    let i = a.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = a[p] as PairEntry;
      if (!PairHeap.before(e, pe)) break;
      a[i] = pe;
      i = p;
    }
    a[i] = e;
  }
  pop(): PairEntry | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && PairHeap.before(a[r] as PairEntry, a[l] as PairEntry) ? r : l;
      const ce = a[c] as PairEntry;
      if (!PairHeap.before(ce, last)) break;
      a[i] = ce;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/**
 * Parse llama2.c `tokenizer.bin` bytes: int32 max_token_length, then per token float32 score,
 * int32 length, bytes (little-endian). `source` names the file in error messages.
 *
 * @example
 * ```ts
 * const tok = parseLlama2cTokenizer(new Uint8Array(readFileSync('tok512.bin')), 'tok512.bin');
 * tok.vocabSize; // 512
 * ```
 */
export function parseLlama2cTokenizer(
  bytes: Uint8Array,
  source = '<buffer>',
  opts: Llama2cTokenizerOptions = {},
): Llama2cTokenizer {
  const fail = (msg: string): never => {
    throw new Error(`${source}: not a valid llama2.c tokenizer.bin: ${msg}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) fail(`file is ${bytes.byteLength} bytes, too short for the header`);
  const maxLen = view.getInt32(0, true);
  if (maxLen <= 0 || maxLen > MAX_TOKEN_LENGTH_LIMIT) fail(`max_token_length ${maxLen} is not in 1..${MAX_TOKEN_LENGTH_LIMIT}`);
  const want = opts.vocabSize;
  if (want !== undefined && (!Number.isInteger(want) || want <= 0)) fail(`vocabSize ${want} must be a positive integer`);
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let off = 4;
  while (want === undefined ? off < bytes.byteLength : pieces.length < want) {
    const i = pieces.length;
    if (off + 8 > bytes.byteLength)
      fail(`truncated at token ${i} (offset ${off}): header needs 8 bytes, ${bytes.byteLength - off} left`);
    const score = view.getFloat32(off, true);
    const len = view.getInt32(off + 4, true);
    if (!Number.isFinite(score)) fail(`token ${i} (offset ${off}) has a non-finite score ${score}`);
    if (len < 0 || len > maxLen) fail(`token ${i} (offset ${off}) has length ${len}, outside 0..max_token_length=${maxLen}`);
    off += 8;
    if (off + len > bytes.byteLength)
      fail(`truncated in token ${i} (offset ${off}): needs ${len} bytes, ${bytes.byteLength - off} left`);
    pieces.push(bytes.slice(off, off + len));
    scores.push(score);
    off += len;
  }
  if (pieces.length < BYTE_OFFSET + 256) fail(`only ${pieces.length} tokens; expected <unk>, BOS, EOS and 256 byte tokens first`);
  for (let b = 0; b < 256; b++) {
    const expected = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    const got = utf8Decoder.decode(pieces[b + BYTE_OFFSET]);
    if (got !== expected) fail(`token ${b + BYTE_OFFSET} is ${JSON.stringify(got)}, expected byte token ${expected}`);
  }
  return new Llama2cTokenizer(pieces, Float32Array.from(scores), maxLen, opts);
}

/**
 * Load a llama2.c `tokenizer.bin` (e.g. stories260K's `tok512.bin`, or the LLaMA 32k export).
 * Encode defaults to llama2.c's run.c: BOS + dummy prefix `' '` + text; pass `{ addBos: false,
 * dummyPrefix: 'unless_space' }` for the ROME/MEMIT/FT convention.
 *
 * @example
 * ```ts
 * const tok = await loadLlama2cTokenizer('../shared/data/llama2-tokenizer/tokenizer.bin');
 * tok.encode('Hello world'); // [1, 15043, 3186]
 * ```
 */
export async function loadLlama2cTokenizer(path: string, opts: Llama2cTokenizerOptions = {}): Promise<Llama2cTokenizer> {
  const buf = await readFile(path);
  return parseLlama2cTokenizer(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path, opts);
}
