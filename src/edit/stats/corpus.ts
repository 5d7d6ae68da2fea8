/**
 * Local text corpora for layer statistics: .txt/.raw files and JSONL (a `text` field), or a
 * folder of them, read lazily, tokenized text by text and cut into context-length chunks under
 * a token budget and/or a text count. Includes the goldens' WikiText recipe as one call.
 */
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, extname, join, relative, resolve } from 'node:path';
import type { DummyPrefixMode, Tokenizer } from '../../tokenizer/index.js';
import type { CausalLM } from '../../models/types.js';
import type { TokenChunk } from './second-moment.js';

const TEXT_EXTS = new Set(['.txt', '.raw']);
const JSONL_EXTS = new Set(['.jsonl']);

/** How a corpus is read and cut; see {@link resolveCorpus} for the defaults. */
export interface CorpusOptions {
  /** a .txt/.raw/.jsonl file or a folder of them (searched recursively, sorted by path) */
  path: string;
  /** tokens per chunk (one batch row); default min(model max positions, 1024) */
  chunkLength?: number;
  /** 'chunk' (default): a long text becomes consecutive chunks, each from position 0; 'truncate': keep only its first chunk (ROME) */
  overflow?: 'chunk' | 'truncate';
  /** what one text is in a plain-text file: the whole 'file' (default), each 'paragraph' (blank-line separated) or each 'line' */
  split?: 'file' | 'paragraph' | 'line';
  /** JSONL field holding the text (default 'text') */
  jsonField?: string;
  /** keep only the first N characters (Unicode code points) of each text, before tokenization */
  firstChars?: number;
  /** stop after this many texts */
  nSamples?: number;
  /** stop after this many tokens (the last chunk is cut to fit) */
  maxTokens?: number;
  /** put BOS before each text (default: what the tokenizer does by itself) */
  addBos?: boolean;
  /** dummy-prefix mode of SentencePiece-like tokenizers (default: the tokenizer's own) */
  dummyPrefix?: DummyPrefixMode;
  /** corpus identity for cache keys: file 'stat' (path, size, mtime; default) or a 'content' hash */
  identity?: 'stat' | 'content';
}

/** Every option decided, as recorded in cache keys. */
export interface ResolvedCorpus {
  path: string;
  chunkLength: number;
  overflow: 'chunk' | 'truncate';
  split: 'file' | 'paragraph' | 'line';
  jsonField: string;
  firstChars: number | null;
  nSamples: number | null;
  maxTokens: number | null;
  addBos: boolean | null;
  dummyPrefix: DummyPrefixMode | null;
  identity: 'stat' | 'content';
}

/** FastMEMIT (arXiv 2506.04226): ~10·d_k keys keep ≥ 95 % of the editing performance. */
export const DEFAULT_TOKENS_PER_DIM = 10;
/** Longest chunk by default: GPT-2's context; longer contexts add cost, not new key directions. */
export const MAX_DEFAULT_CHUNK = 1024;

/**
 * The goldens' covariance recipe: the first 2000 tokens of the first 20,000 characters of
 * `wikitext-2-raw-test.raw` tokenized as one string (no BOS; a dummy prefix only when the text
 * lacks a leading space), fed as chunks of 128 tokens.
 * @example const C = createStatsProvider({ corpus: goldenCovRecipe(wikitextPath), tokenizer }).secondMoment(model, 1, name);
 */
export function goldenCovRecipe(path: string): CorpusOptions {
  return {
    path,
    split: 'file',
    firstChars: 20_000,
    maxTokens: 2000,
    chunkLength: 128,
    addBos: false,
    dummyPrefix: 'unless_space',
  };
}

/**
 * Fill in the defaults. The token budget defaults to 10·d_k when neither a budget nor a text
 * count is given.
 * @example resolveCorpus({ path: 'wiki/' }, model, 6400) // maxTokens 64000, chunkLength 1024
 */
export function resolveCorpus(opts: CorpusOptions, model: CausalLM | null, dk: number | null): ResolvedCorpus {
  const maxPos = model?.config.maxPositions ?? MAX_DEFAULT_CHUNK;
  const chunkLength = opts.chunkLength ?? Math.min(maxPos, MAX_DEFAULT_CHUNK);
  positiveInt('chunkLength', chunkLength);
  if (model && chunkLength > maxPos)
    throw new Error(`corpus: chunkLength ${chunkLength} exceeds the model's ${maxPos} positions`);
  for (const k of ['firstChars', 'nSamples', 'maxTokens'] as const) {
    const v = opts[k];
    if (v !== undefined) positiveInt(k, v);
  }
  let maxTokens = opts.maxTokens ?? null;
  if (maxTokens === null && opts.nSamples === undefined && dk !== null) maxTokens = DEFAULT_TOKENS_PER_DIM * dk;
  return {
    path: resolve(opts.path),
    chunkLength,
    overflow: opts.overflow ?? 'chunk',
    split: opts.split ?? 'file',
    jsonField: opts.jsonField ?? 'text',
    firstChars: opts.firstChars ?? null,
    nSamples: opts.nSamples ?? null,
    maxTokens,
    addBos: opts.addBos ?? null,
    dummyPrefix: opts.dummyPrefix ?? null,
    identity: opts.identity ?? 'stat',
  };
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`corpus: ${name} must be a positive integer, got ${v}`);
}

/** The corpus files in reading order (a file, or every .txt/.raw/.jsonl under a folder, sorted). */
export function corpusFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new Error(`corpus: ${path} does not exist`);
  }
  if (st.isFile()) {
    if (!isCorpusFile(path)) throw new Error(`corpus: ${path}: unsupported file type (expected .txt, .raw or .jsonl)`);
    return [path];
  }
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else if (s.isFile() && isCorpusFile(p)) out.push(p);
    }
  };
  walk(path);
  if (out.length === 0) throw new Error(`corpus: no .txt, .raw or .jsonl file under ${path}`);
  return out;
}

function isCorpusFile(p: string): boolean {
  const e = extname(p).toLowerCase();
  return TEXT_EXTS.has(e) || JSONL_EXTS.has(e);
}

/**
 * A string identifying the corpus contents for cache keys: per file its relative path, size
 * and mtime, or (identity 'content') a sha256 of the bytes.
 */
export function corpusId(c: ResolvedCorpus): string {
  const files = corpusFiles(c.path);
  const h = createHash('sha256');
  for (const f of files) {
    const st = statSync(f);
    h.update(`${relative(c.path, f) || basename(f)}\0${st.size}\0`);
    if (c.identity === 'content') forEachBlock(f, (b) => h.update(b));
    else h.update(String(st.mtimeMs));
    h.update('\n');
  }
  return `${c.path}#${c.identity}:${h.digest('hex').slice(0, 16)}`;
}

const BLOCK = 1 << 20;

function forEachBlock(path: string, fn: (b: Uint8Array) => void, limit = Infinity): void {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(BLOCK);
    let pos = 0;
    while (pos < limit) {
      const n = readSync(fd, buf, 0, Math.min(BLOCK, limit - pos), pos);
      if (n <= 0) break;
      fn(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Lines of a file, read in 1 MiB blocks (UTF-8; CR kept, so CRLF text is not altered). */
function* lines(path: string): Generator<string> {
  const dec = new TextDecoder('utf-8');
  let rest = '';
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(BLOCK);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, BLOCK, pos);
      if (n <= 0) break;
      pos += n;
      rest += dec.decode(buf.subarray(0, n), { stream: true });
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        yield rest.slice(0, nl + 1);
        rest = rest.slice(nl + 1);
      }
    }
  } finally {
    closeSync(fd);
  }
  rest += dec.decode();
  if (rest.length > 0) yield rest;
}

/** A whole file as text; only the bytes that can hold the first `maxChars` code points are read. */
function readText(path: string, maxChars: number | null): string {
  const parts: string[] = [];
  const dec = new TextDecoder('utf-8');
  forEachBlock(path, (b) => parts.push(dec.decode(b, { stream: true })), maxChars === null ? Infinity : 4 * maxChars);
  parts.push(dec.decode());
  return parts.join('');
}

/** The first n code points (not UTF-16 units, so the cut matches Python's `s[:n]`). */
export function firstCodePoints(s: string, n: number): string {
  let units = 0;
  let count = 0;
  while (units < s.length && count < n) {
    const c = s.codePointAt(units)!;
    units += c > 0xffff ? 2 : 1;
    count++;
  }
  return s.slice(0, units);
}

/** The texts of the corpus in order (before firstChars / nSamples). */
export function* corpusTexts(c: ResolvedCorpus): Generator<string> {
  for (const f of corpusFiles(c.path)) {
    if (JSONL_EXTS.has(extname(f).toLowerCase())) {
      let lineNo = 0;
      for (const line of lines(f)) {
        lineNo++;
        if (line.trim() === '') continue;
        let rec: unknown;
        try {
          rec = JSON.parse(line);
        } catch (e) {
          throw new Error(`corpus: ${f}:${lineNo}: invalid JSON (${(e as Error).message})`);
        }
        const text = rec !== null && typeof rec === 'object' ? (rec as Record<string, unknown>)[c.jsonField] : undefined;
        if (typeof text !== 'string') throw new Error(`corpus: ${f}:${lineNo}: no string field "${c.jsonField}"`);
        yield text;
      }
    } else if (c.split === 'file') {
      yield readText(f, c.firstChars);
    } else if (c.split === 'line') {
      for (const line of lines(f)) if (line.trim() !== '') yield line;
    } else {
      let para = '';
      for (const line of lines(f)) {
        if (line.trim() === '') {
          if (para.trim() !== '') yield para;
          para = '';
        } else para += line;
      }
      if (para.trim() !== '') yield para;
    }
  }
}

/**
 * The chunk stream: each text (cut to firstChars) tokenized as one string, split into
 * consecutive chunks of chunkLength tokens (or only the first with overflow 'truncate'),
 * stopping at nSamples texts or maxTokens tokens. Deterministic, so a position (chunk index)
 * identifies where a checkpointed run stopped.
 * @example for (const { ids } of corpusChunks(resolveCorpus(goldenCovRecipe(p), model, null), tok)) ...
 */
export function* corpusChunks(c: ResolvedCorpus, tokenizer: Tokenizer): Generator<TokenChunk> {
  let texts = 0;
  let tokens = 0;
  let index = 0;
  const enc = {
    ...(c.addBos !== null ? { addBos: c.addBos } : {}),
    ...(c.dummyPrefix !== null ? { dummyPrefix: c.dummyPrefix } : {}),
  };
  for (const raw of corpusTexts(c)) {
    if (c.nSamples !== null && texts >= c.nSamples) return;
    texts++;
    const text = c.firstChars !== null ? firstCodePoints(raw, c.firstChars) : raw;
    const ids = tokenizer.encode(text, enc);
    const end = c.overflow === 'truncate' ? Math.min(ids.length, c.chunkLength) : ids.length;
    for (let s = 0; s < end; s += c.chunkLength) {
      let piece = ids.slice(s, Math.min(end, s + c.chunkLength));
      if (c.maxTokens !== null) piece = piece.slice(0, c.maxTokens - tokens);
      if (piece.length === 0) return;
      tokens += piece.length;
      yield { ids: piece, index: index++ };
      if (c.maxTokens !== null && tokens >= c.maxTokens) return;
    }
  }
}

/** All token ids the chunk stream feeds, concatenated (the goldens' `cov_token_ids`). */
export function corpusTokenIds(c: ResolvedCorpus, tokenizer: Tokenizer): number[] {
  const out: number[] = [];
  for (const ch of corpusChunks(c, tokenizer)) out.push(...ch.ids);
  return out;
}
