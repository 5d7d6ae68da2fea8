// The one Tokenizer interface every part of lmedit uses (HF tokenizer.json, GPT-2 vocab/merges,
// llama2.c tokenizer.bin). Conventions follow Hugging Face: encode adds the tokenizer's own special
// tokens by default (LLaMA: BOS; GPT-2: none), decode keeps special tokens unless asked.

/** Which loader built the tokenizer: `hf` (tokenizer.json or GPT-2 vocab.json + merges.txt) or `llama2c` (tokenizer.bin). */
export type TokenizerKind = 'hf' | 'llama2c';

/**
 * SentencePiece "dummy prefix" (a space put before the text) handling, for tokenizers that add one
 * (LLaMA/SentencePiece, byte-level BPE with `add_prefix_space`). Ignored by tokenizers that never add a
 * prefix space (GPT-2 as shipped).
 * - `always`: add `' '` before any non-empty text (llama2.c; HF LLaMA legacy), so `' Paris'` gets two spaces.
 * - `unless_space`: add it only when the text does not already start with `' '`, so
 *   `encode(' Paris') == encode('Paris')` (what ROME/MEMIT/FT need for subject/target arithmetic).
 * - `never`: never add it.
 */
export type DummyPrefixMode = 'always' | 'unless_space' | 'never';

/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /**
   * Force (true) or suppress (false) a leading BOS. Default: whatever the tokenizer does by itself when
   * `addSpecialTokens` is on (LLaMA and llama2.c: BOS; GPT-2: none).
   */
  addBos?: boolean;
  /** Apply the tokenizer's special-token template (BOS/EOS as configured). Default true, as in HF. */
  addSpecialTokens?: boolean;
  /** Dummy-prefix mode; default: the tokenizer's own behaviour (llama2.c: `always`). See {@link DummyPrefixMode}. */
  dummyPrefix?: DummyPrefixMode;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, PAD, UNK, ...) from the text. Default false, as in HF. */
  skipSpecialTokens?: boolean;
}

/**
 * A text tokenizer. Ids are plain numbers; invalid ids passed to decode/decodeToken throw a RangeError.
 * Decoding is lossless (no HF "clean up tokenization spaces"): `decode(encode(t, {addSpecialTokens: false}))`
 * gives back `t` for tokenizers without a dummy prefix.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from './index.js';
 * const tok = await loadTokenizer('../shared/data/gpt2-tokenizer');
 * tok.encode('Hello world'); // [15496, 995]
 * tok.decode([15496, 995]); // 'Hello world'
 * ```
 */
export interface Tokenizer {
  /** Which loader built it. */
  readonly kind: TokenizerKind;
  /** Number of token ids (largest id + 1, added tokens included). */
  readonly vocabSize: number;
  /** Beginning-of-sequence id, or null when the tokenizer has none. */
  readonly bosId: number | null;
  /** End-of-sequence id, or null. */
  readonly eosId: number | null;
  /** Padding id, or null (GPT-2 has none; callers usually fall back to eosId). */
  readonly padId: number | null;
  /** Text to token ids. */
  encode(text: string, opts?: EncodeOptions): number[];
  /** Token ids to text; multi-byte UTF-8 characters split over several tokens are reassembled. */
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** The text of one token on its own (a lone partial UTF-8 byte decodes to U+FFFD). */
  decodeToken(id: number): string;
  /** The vocabulary string of a token (e.g. `'Ġworld'`, `' world'`), or null for an unknown id. */
  idToToken(id: number): string | null;
  /** The id of a vocabulary string, or null when it is not in the vocabulary. */
  tokenToId(token: string): number | null;
}
