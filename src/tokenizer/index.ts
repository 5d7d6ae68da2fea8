// Tokenizer entry point: picks the loader from the files present (tokenizer.json, GPT-2 vocab.json +
// merges.txt, llama2.c tokenizer.bin / tokNNN.bin) and re-exports the public tokenizer API.
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { loadHfTokenizer } from './hf.js';
import { loadLlama2cTokenizer } from './llama2c.js';
import type { DecodeOptions, Tokenizer } from './types.js';
export type { DecodeOptions, DummyPrefixMode, EncodeOptions, Tokenizer, TokenizerKind } from './types.js';
export { HfTokenizer, gpt2TokenizerJson, hfTokenizerFromJson, loadHfTokenizer } from './hf.js';
export type { HfTokenizerOptions, JsonObject } from './hf.js';
export { Llama2cTokenizer, loadLlama2cTokenizer, parseLlama2cTokenizer } from './llama2c.js';
export type { Llama2cTokenizerOptions } from './llama2c.js';

const LLAMA2C_NAME = /^(tokenizer|tok\d+)\.bin$/;
const LOOKED_FOR =
  'tokenizer.json; vocab.json + merges.txt; tokenizer.bin or tok<N>.bin (llama2.c); ' +
  'tokenizer.model is recognised but not read';

/** SentencePiece's protobuf ModelProto starts with field 1 (pieces), length-delimited: tag byte 0x0a. */
async function sentencePieceError(path: string): Promise<Error> {
  const fh = await open(path, 'r');
  const head = Buffer.alloc(1);
  try {
    await fh.read(head, 0, 1, 0);
  } finally {
    await fh.close();
  }
  const what = head[0] === 0x0a ? 'is a SentencePiece model (protobuf)' : 'is not a SentencePiece model either';
  return new Error(
    `${path} ${what}; lmedit does not read tokenizer.model: use tokenizer.json ` +
      `(Hugging Face fast tokenizer) or tokenizer.bin (llama2.c's tokenizer.py export) instead`,
  );
}

async function kindOf(path: string): Promise<'file' | 'dir' | null> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}

/**
 * Load the tokenizer of a model folder, or a tokenizer file. In a folder: `tokenizer.json` → Hugging
 * Face; `vocab.json` + `merges.txt` → GPT-2 byte-level BPE; `tokenizer.bin` / `tok<N>.bin` → llama2.c.
 * A lone `tokenizer.model` (SentencePiece protobuf) is reported with a clear error.
 *
 * @example
 * ```ts
 * const gpt2 = await loadTokenizer('../shared/data/gpt2-tokenizer'); // kind 'hf'
 * const tiny = await loadTokenizer('../shared/data/stories260K');     // kind 'llama2c' (tok512.bin)
 * tiny.decode(tiny.encode('Once upon a time'), { skipSpecialTokens: true }); // 'Once upon a time'
 * ```
 */
export async function loadTokenizer(pathOrDir: string): Promise<Tokenizer> {
  const kind = await kindOf(pathOrDir);
  if (kind === null) throw new Error(`${pathOrDir}: no such file or folder (tokenizer files looked for: ${LOOKED_FOR})`);
  if (kind === 'file') {
    const name = basename(pathOrDir);
    if (name.endsWith('.json'))
      return loadHfTokenizer(name === 'vocab.json' ? dirname(pathOrDir) : pathOrDir, {
        layout: name === 'vocab.json' ? 'vocab+merges' : 'tokenizer.json',
      });
    if (name.endsWith('.bin')) return loadLlama2cTokenizer(pathOrDir);
    if (name.endsWith('.model')) throw await sentencePieceError(pathOrDir);
    throw new Error(`${pathOrDir}: unknown tokenizer file type (expected ${LOOKED_FOR})`);
  }
  const names = new Set(await readdir(pathOrDir));
  if (names.has('tokenizer.json')) return loadHfTokenizer(pathOrDir, { layout: 'tokenizer.json' });
  if (names.has('vocab.json') && names.has('merges.txt')) return loadHfTokenizer(pathOrDir, { layout: 'vocab+merges' });
  const bins = [...names].filter((n) => LLAMA2C_NAME.test(n)).sort();
  const bin = names.has('tokenizer.bin') ? 'tokenizer.bin' : bins[0];
  if (bins.length > 1 && !names.has('tokenizer.bin')) {
    throw new Error(`${pathOrDir}: several llama2.c tokenizers (${bins.join(', ')}); pass the file path`);
  }
  if (bin !== undefined) return loadLlama2cTokenizer(join(pathOrDir, bin));
  if (names.has('tokenizer.model')) throw await sentencePieceError(join(pathOrDir, 'tokenizer.model'));
  const seen = [...names].sort().slice(0, 20).join(', ');
  throw new Error(`${pathOrDir}: no tokenizer found. Looked for: ${LOOKED_FOR}. Folder has: ${seen || '(nothing)'}`);
}

/**
 * The text that `ids` add after `prefix`: decoded together and the prefix's text cut off, so a
 * decoder that joins words with spaces (word level) shows the space before the first new word,
 * which decoding the new ids alone would drop.
 * @example decodeAfter(tok, tok.encode('kato works for'), [412]) // ' vukatek' (not 'vukatek')
 */
export function decodeAfter(tok: Tokenizer, prefix: readonly number[], ids: readonly number[], opts: DecodeOptions = {}): string {
  const head = tok.decode([...prefix], opts);
  const whole = tok.decode([...prefix, ...ids], opts);
  return whole.startsWith(head) ? whole.slice(head.length) : tok.decode([...ids], opts);
}
