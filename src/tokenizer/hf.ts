// Hugging Face tokenizers (tokenizer.json + tokenizer_config.json, or GPT-2's vocab.json + merges.txt)
// through @huggingface/tokenizers (the pure-JS tokenizer of transformers.js), behind lmedit's Tokenizer.
// Adds what lmedit needs on top: BOS/EOS control, dummy-prefix modes, lossless decode, id checks.
import { Tokenizer as HfLib } from '@huggingface/tokenizers';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DecodeOptions, DummyPrefixMode, EncodeOptions, Tokenizer } from './types.js';

/** A parsed JSON object. */
export type JsonObject = { [key: string]: unknown };

/** Options of {@link loadHfTokenizer}. */
export interface HfTokenizerOptions {
  /** Which files to read; `auto` (default) prefers tokenizer.json over vocab.json + merges.txt. */
  layout?: 'auto' | 'tokenizer.json' | 'vocab+merges';
  /**
   * Override `add_prefix_space` (default: tokenizer_config.json's value, else the tokenizer.json's): false
   * removes every prefix-space mechanism, true sets it on byte-level pre-tokenizers.
   */
  addPrefixSpace?: boolean;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A special-token entry of tokenizer_config.json: a string or an AddedToken object `{content: ...}`. */
function tokenName(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return null;
}

async function readJson(path: string): Promise<JsonObject> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new Error(`${path}: expected a JSON object`);
  return value;
}

async function readJsonIfPresent(path: string): Promise<JsonObject | null> {
  return (await isFile(path)) ? readJson(path) : null;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Apply `fn` to every pre-tokenizer / normalizer node, descending into `Sequence`s. `fn` returns the
 * replacement node, or null to drop it. Returns the new tree and whether anything changed.
 */
function mapComponents(node: unknown, listKey: string, fn: (n: JsonObject) => JsonObject | null): [unknown, boolean] {
  if (!isObject(node)) return [node, false];
  const list = node[listKey];
  if (node.type === 'Sequence' && Array.isArray(list)) {
    let changed = false;
    const items: unknown[] = [];
    for (const item of list) {
      const [mapped, c] = mapComponents(item, listKey, fn);
      changed ||= c;
      if (mapped !== null) items.push(mapped);
    }
    return [{ ...node, [listKey]: items }, changed];
  }
  const mapped = fn(node);
  return [mapped, mapped !== node];
}

/** The tokenizer.json with every dummy-prefix mechanism off, and whether it had any. */
function withoutDummyPrefix(json: JsonObject): [JsonObject, boolean] {
  const [normalizer, c1] = mapComponents(json.normalizer, 'normalizers', (n) => (n.type === 'Prepend' ? null : n));
  const [preTokenizer, c2] = mapComponents(json.pre_tokenizer, 'pretokenizers', (n) => {
    if (n.type === 'ByteLevel' && n.add_prefix_space === true) return { ...n, add_prefix_space: false };
    if (n.type === 'Metaspace' && n.prepend_scheme !== 'never' && n.add_prefix_space !== false) {
      return { ...n, prepend_scheme: 'never', add_prefix_space: false };
    }
    return n;
  });
  return [{ ...json, normalizer, pre_tokenizer: preTokenizer }, c1 || c2];
}

/** tokenizer_config's `add_prefix_space`: false turns every prefix mechanism off, true turns it on for byte-level BPE. */
function withPrefixSpace(json: JsonObject, on: boolean): JsonObject {
  if (!on) return withoutDummyPrefix(json)[0];
  const [preTokenizer] = mapComponents(json.pre_tokenizer, 'pretokenizers', (n) =>
    n.type === 'ByteLevel' ? { ...n, add_prefix_space: true } : n,
  );
  return { ...json, pre_tokenizer: preTokenizer };
}

const WELL_KNOWN = {
  bos: ['<s>', '<|begin_of_text|>', '<bos>', '<|endoftext|>'],
  eos: ['</s>', '<|end_of_text|>', '<eos>', '<|endoftext|>'],
  pad: ['<pad>', '<|pad|>', '[PAD]'],
} as const;

/**
 * A tokenizer.json-based tokenizer (GPT-2 byte-level BPE, LLaMA SentencePiece-BPE with byte fallback, ...).
 * Build it with {@link loadHfTokenizer} or {@link hfTokenizerFromJson}.
 *
 * @example
 * ```ts
 * const tok = await loadHfTokenizer('../shared/data/gpt2-tokenizer');
 * tok.encode(' Hello world'); // [18435, 995]
 * ```
 */
export class HfTokenizer implements Tokenizer {
  readonly kind = 'hf' as const;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  /** Whether the tokenizer puts a prefix space before the text by itself (Metaspace, Prepend, add_prefix_space). */
  readonly hasDummyPrefix: boolean;
  private readonly lib: HfLib;
  private readonly noPrefixJson: JsonObject;
  private readonly libConfig: JsonObject;
  private noPrefixLib: HfLib | null = null;
  private readonly templateBos: boolean;
  private readonly templateEos: boolean;
  private readonly defaultBos: boolean;
  private readonly defaultEos: boolean;
  private readonly source: string;

  constructor(json: JsonObject, config: JsonObject, source: string) {
    this.source = source;
    // truncation/padding in tokenizer.json are training leftovers (GPT-2's says max_length 50): never apply them.
    const clean: JsonObject = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...json,
      added_tokens: Array.isArray(json.added_tokens) ? json.added_tokens : [],
      truncation: null,
      padding: null,
    };
    const extra = Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens : [];
    this.libConfig = {
      ...config,
      additional_special_tokens: extra.map(tokenName).filter((t): t is string => t !== null),
      clean_up_tokenization_spaces: false,
    };
    this.lib = this.build(clean);
    [this.noPrefixJson, this.hasDummyPrefix] = withoutDummyPrefix(clean);
    let maxId = -1;
    for (const id of this.lib.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    const special = (key: string): number | null => {
      const name = tokenName(config[key]);
      return name === null ? null : this.tokenToId(name);
    };
    const addedList = clean.added_tokens as unknown[];
    const addedSpecial = new Set(addedList.filter((t) => isObject(t) && t.special === true).map(tokenName));
    const wellKnown = (names: readonly string[]): number | null => {
      const name = names.find((n) => addedSpecial.has(n));
      return name === undefined ? null : this.tokenToId(name);
    };
    // What the post-processor adds around a one-token text tells us the template's BOS/EOS.
    const plain = this.libEncode(this.lib, 'a', false);
    const full = this.libEncode(this.lib, 'a', true);
    const added = full.length > plain.length;
    const templateFirst = added && full[0] !== plain[0] ? (full[0] ?? null) : null;
    const templateLast = added && full.at(-1) !== plain.at(-1) ? (full.at(-1) ?? null) : null;

    this.bosId = special('bos_token') ?? templateFirst ?? wellKnown(WELL_KNOWN.bos);
    this.eosId = special('eos_token') ?? templateLast ?? wellKnown(WELL_KNOWN.eos);
    this.padId = special('pad_token') ?? wellKnown(WELL_KNOWN.pad);
    this.templateBos = templateFirst !== null && templateFirst === this.bosId;
    this.templateEos = templateLast !== null && templateLast === this.eosId;
    this.defaultBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : this.templateBos;
    this.defaultEos = typeof config.add_eos_token === 'boolean' ? config.add_eos_token : this.templateEos;
  }

  private build(json: JsonObject): HfLib {
    try {
      return new HfLib(json, this.libConfig);
    } catch (err) {
      throw new Error(`${this.source}: @huggingface/tokenizers cannot load it: ${(err as Error).message}`);
    }
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    let lib = this.lib;
    let input = text;
    const mode: DummyPrefixMode | undefined = opts.dummyPrefix;
    if (mode !== undefined && this.hasDummyPrefix) {
      lib = this.noPrefixLib ??= this.build(this.noPrefixJson);
      const add = mode === 'always' || (mode === 'unless_space' && !text.startsWith(' '));
      if (add && text.length > 0) input = ' ' + text;
    }
    const useTemplate = opts.addSpecialTokens ?? true;
    let ids = this.libEncode(lib, input, useTemplate);
    if (useTemplate) {
      if (this.templateBos) ids = ids.slice(1);
      if (this.templateEos) ids = ids.slice(0, -1);
      if (this.defaultEos) ids.push(this.required(this.eosId, 'EOS'));
    }
    if (opts.addBos ?? (useTemplate && this.defaultBos)) ids.unshift(this.required(this.bosId, 'BOS'));
    return ids;
  }

  /** The library's ids, checked: its .d.ts resolve to `any` under NodeNext, and unknown pieces map to undefined. */
  private libEncode(lib: HfLib, text: string, addSpecialTokens: boolean): number[] {
    const raw: unknown = lib.encode(text, { add_special_tokens: addSpecialTokens }).ids;
    if (!Array.isArray(raw)) throw new Error(`${this.source}: @huggingface/tokenizers returned no ids`);
    return raw.map((id: unknown, i) => {
      if (typeof id !== 'number') throw new Error(`${this.source}: token ${i} of the text has no id and there is no unk_token`);
      return id;
    });
  }

  private required(id: number | null, what: string): number {
    if (id === null) throw new Error(`${this.source}: the tokenizer has no ${what} token`);
    return id;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.lib.id_to_token(id) === undefined) {
        throw new RangeError(`token id ${id} is out of range [0, ${this.vocabSize}) or not in the vocabulary`);
      }
    }
    if (ids.length === 0) return '';
    return this.lib.decode([...ids], {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  decodeToken(id: number): string {
    return this.decode([id]);
  }

  idToToken(id: number): string | null {
    return this.lib.id_to_token(id) ?? null;
  }

  tokenToId(token: string): number | null {
    return this.lib.token_to_id(token) ?? null;
  }
}

/**
 * Build a tokenizer from an already parsed tokenizer.json object and tokenizer_config.json object.
 *
 * @example
 * ```ts
 * const tok = hfTokenizerFromJson(JSON.parse(readFileSync('tokenizer.json', 'utf8')));
 * ```
 */
export function hfTokenizerFromJson(json: JsonObject, config: JsonObject = {}, source = 'tokenizer.json'): HfTokenizer {
  if (!isObject(json.model)) throw new Error(`${source}: not a tokenizer.json (no "model" object)`);
  return new HfTokenizer(json, config, source);
}

/**
 * The tokenizer.json that Hugging Face's GPT2TokenizerFast builds from GPT-2's vocab.json + merges.txt:
 * byte-level pre-tokenizer (GPT-2 regex), BPE, byte-level decoder. `specialTokens` (those in the vocab) become
 * special added tokens, `addedTokens` (added_tokens.json) plain added tokens.
 *
 * @example
 * ```ts
 * const json = gpt2TokenizerJson(vocab, mergesText.split('\n'), ['<|endoftext|>']);
 * ```
 */
export function gpt2TokenizerJson(
  vocab: Record<string, number>,
  mergeLines: readonly string[],
  specialTokens: readonly string[] = ['<|endoftext|>'],
  source = 'merges.txt',
  addedTokens: readonly string[] = [],
): JsonObject {
  const merges: [string, string][] = [];
  mergeLines.forEach((line, i) => {
    if ((i === 0 && line.startsWith('#version')) || line.trim() === '') return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new Error(`${source}:${i + 1}: expected "left right", got ${JSON.stringify(line)}`);
    }
    merges.push([parts[0] ?? '', parts[1] ?? '']);
  });
  const special = new Set(specialTokens);
  const added = [...new Set([...specialTokens, ...addedTokens])]
    .filter((t) => vocab[t] !== undefined)
    .map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: !special.has(content),
      special: special.has(content),
    }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

/**
 * Load a Hugging Face tokenizer from a model folder (or a tokenizer.json path): `tokenizer.json`, else
 * GPT-2's slow layout `vocab.json` + `merges.txt`; plus `tokenizer_config.json` and
 * `special_tokens_map.json` when present (bos/eos/pad, add_bos_token, add_eos_token, add_prefix_space).
 * Without them, BOS/EOS come from the post-processor template, then from well-known special tokens
 * (`<s>`, `</s>`, `<|endoftext|>`, ...), as GPT2Tokenizer's defaults do.
 *
 * @example
 * ```ts
 * const tok = await loadHfTokenizer('../shared/reference/models/tiny-gpt2');
 * tok.encode('Hello world'); // [15496, 995]
 * tok.eosId; // 50256
 * ```
 */
export async function loadHfTokenizer(pathOrDir: string, opts: HfTokenizerOptions = {}): Promise<HfTokenizer> {
  const direct = (await isFile(pathOrDir)) ? pathOrDir : null;
  const dir = direct === null ? pathOrDir : dirname(pathOrDir);
  const fileConfig = (await readJsonIfPresent(join(dir, 'tokenizer_config.json'))) ?? {};
  const specialMap = (await readJsonIfPresent(join(dir, 'special_tokens_map.json'))) ?? {};
  const config: JsonObject = { ...specialMap, ...fileConfig };
  for (const key of Object.keys(specialMap)) config[key] ??= specialMap[key]; // a null in the config falls back too

  const layout = opts.layout ?? 'auto';
  const jsonPath = direct ?? join(dir, 'tokenizer.json');
  const vocabPath = join(dir, 'vocab.json');
  const mergesPath = join(dir, 'merges.txt');
  let json: JsonObject;
  let source: string;
  if (layout === 'tokenizer.json' || (layout === 'auto' && (direct !== null || (await isFile(jsonPath))))) {
    json = await readJson(jsonPath);
    source = jsonPath;
  } else if ((await isFile(vocabPath)) && (await isFile(mergesPath))) {
    const vocabJson = await readJson(vocabPath);
    const vocab: Record<string, number> = {};
    for (const [k, v] of Object.entries(vocabJson)) {
      if (!Number.isInteger(v)) throw new Error(`${vocabPath}: id of ${JSON.stringify(k)} is not an integer`);
      vocab[k] = v as number;
    }
    const addedTokens = Object.entries((await readJsonIfPresent(join(dir, 'added_tokens.json'))) ?? {});
    for (const [k, v] of addedTokens) if (Number.isInteger(v)) vocab[k] = v as number;
    const specials = ['bos_token', 'eos_token', 'unk_token', 'pad_token']
      .map((k) => tokenName(config[k]))
      .concat(Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens.map(tokenName) : [])
      .filter((t): t is string => t !== null);
    const mergeLines = (await readFile(mergesPath, 'utf8')).split(/\r?\n/);
    const added = addedTokens.map(([k]) => k);
    json = gpt2TokenizerJson(vocab, mergeLines, ['<|endoftext|>', ...specials], mergesPath, added);
    source = `${vocabPath} + merges.txt`;
  } else {
    const wanted = layout === 'vocab+merges' ? 'vocab.json + merges.txt' : 'tokenizer.json or vocab.json + merges.txt';
    throw new Error(`${dir}: no Hugging Face tokenizer files (looked for ${wanted})`);
  }
  const prefixSpace = opts.addPrefixSpace ?? (typeof config.add_prefix_space === 'boolean' ? config.add_prefix_space : undefined);
  if (prefixSpace !== undefined) json = withPrefixSpace(json, prefixSpace);
  return hfTokenizerFromJson(json, config, source);
}
