/**
 * The text each scorer mode sees (docs/evaluation.md, the scorer modes at the top). `paper`:
 * T = decode(prompt ids ⧺ generated ids) with special tokens kept, then transformers 4.30's legacy tokenization clean-up, with any
 * left pads rendered as the pad token's text in front. `clean`: G = decode(generated ids) with
 * special tokens skipped and no clean-up.
 */
import type { Tokenizer } from '../tokenizer/index.js';

/** transformers' `clean_up_tokenization` (the default before 4.31), replacements in its order. */
const CLEANUP: readonly [string, string][] = [
  [' .', '.'],
  [' ?', '?'],
  [' !', '!'],
  [' ,', ','],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

export function legacyCleanup(s: string): string {
  let out = s;
  for (const [from, to] of CLEANUP) out = out.split(from).join(to);
  return out;
}

/**
 * The paper's T. `padTokens` left pads (the scripts' `padding="max_length"`) only prepend the pad
 * token's text; no score depends on them except ODQA's first word.
 */
export function paperText(
  tok: Tokenizer,
  promptIds: readonly number[],
  generatedIds: readonly number[],
  padTokens = 0,
  padId?: number,
): string {
  const pad = padTokens > 0 ? tok.decode([padId ?? tok.padId ?? tok.eosId ?? 0]).repeat(padTokens) : '';
  return pad + legacyCleanup(tok.decode([...promptIds, ...generatedIds]));
}

/** The clean scorers' G: the generation alone, special tokens skipped, no clean-up. */
export function cleanText(tok: Tokenizer, generatedIds: readonly number[]): string {
  return tok.decode(generatedIds, { skipSpecialTokens: true });
}
