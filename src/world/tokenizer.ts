/**
 * The world's tokenizer: word level. Every entity name, number and template word is one token; the
 * Whitespace pre-tokenizer splits on spaces (and between word characters and punctuation), so
 * `encode(' rome')` and `encode('rome')` give the same single id. Saved as a Hugging Face
 * tokenizer.json (WordLevel model, WordPiece decoder that joins words with spaces) and a
 * tokenizer_config.json (BOS = EOS = pad = `<|endoftext|>`, `<unk>`; BOS added by default).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixedWords } from './lexicon.js';
import { EOT, UNK } from './text.js';
import type { World } from './types.js';

/** Numbers 0..99 are always in the vocabulary, in order, after the special tokens. */
export const NUMBER_TOKENS = Array.from({ length: 100 }, (_, i) => String(i));

/** The vocabulary: special tokens, numbers 0..99, then every other word (fixed words, names, objects) sorted. */
export function buildVocab(world: Pick<World, 'entities' | 'facts' | 'derived'>): string[] {
  const words = new Set<string>(fixedWords());
  for (const e of world.entities) words.add(e.name);
  for (const f of [...world.facts, ...world.derived]) words.add(f.object);
  const numbers = new Set(NUMBER_TOKENS);
  const rest = [...words].filter((w) => !numbers.has(w)).sort();
  return [EOT, UNK, ...NUMBER_TOKENS, ...rest];
}

/** The words of a text as the tokenizer splits it (whitespace, then word/punctuation runs). */
export function words(text: string): string[] {
  return text.match(/\w+|[^\w\s]+/g) ?? [];
}

type Json = { [key: string]: Json } | Json[] | string | number | boolean | null;

const special = (id: number, content: string): Json => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** The tokenizer.json object (loads with @huggingface/tokenizers and Python's `tokenizers`). */
export function tokenizerJson(world: Pick<World, 'vocab'>): { [key: string]: Json } {
  const vocab: { [key: string]: Json } = {};
  world.vocab.forEach((w, i) => (vocab[w] = i));
  if (world.vocab[0] !== EOT || world.vocab[1] !== UNK) throw new Error(`world vocabulary must start with ${EOT}, ${UNK}`);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, EOT), special(1, UNK)],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: EOT, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: EOT, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [EOT]: { id: EOT, ids: [0], tokens: [EOT] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: { type: 'WordLevel', vocab, unk_token: UNK },
  };
}

/** tokenizer_config.json: the special tokens (the JS library reads `<unk>` from here for a WordLevel model). */
export function tokenizerConfigJson(): { [key: string]: Json } {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: EOT,
    eos_token: EOT,
    pad_token: EOT,
    unk_token: UNK,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
  };
}

/** Write tokenizer.json and tokenizer_config.json into `dir` (created if missing). */
export async function writeTokenizer(dir: string, world: Pick<World, 'vocab'>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(world), null, 2) + '\n');
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfigJson(), null, 2) + '\n');
}
