/**
 * SQuAD-style answer normalisation, exact match and token F1, exactly as the ODQA script's
 * `normalize_answer` (docs/evaluation.md, SQuAD normalisation): lowercase → remove ASCII punctuation (Python's
 * `string.punctuation`) → replace `\b(a|an|the)\b` with a space → collapse whitespace.
 *
 * The script uses the `regex` package, whose `\b` is Unicode-aware: a word character is
 * `[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]` (so a combining mark or ZWJ after `a` keeps it
 * inside a word, and `²` or `①` do not count as word characters). JavaScript's own `\b` is ASCII-only,
 * so the boundary is spelled out with lookarounds. Whitespace is Python's `str.split()` set.
 */
import { pySplit } from './py-text.js';

/** Python's `string.punctuation`. */
export const PY_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** A word character for the `regex` package's `\b` (Unicode `Word` property). */
const WORD = String.raw`[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]`;
const ARTICLES = new RegExp(String.raw`(?<!${WORD})(?:a|an|the)(?!${WORD})`, 'gu');

/** Every character of `string.punctuation` (all ASCII, so one UTF-16 unit each). */
const PUNCT_RE = /[!-/:-@[-`{-~]/g;

function removePunc(s: string): string {
  return s.replace(PUNCT_RE, '');
}

/** `normalize_answer(s)` of the ODQA script (and of the SQuAD evaluation script). */
export function normalizeAnswer(s: string): string {
  return pySplit(removePunc(s.toLowerCase()).replace(ARTICLES, ' ')).join(' ');
}

/** `exact_match_score`: equal after normalising both. */
export function exactMatch(prediction: string, groundTruth: string): boolean {
  return normalizeAnswer(prediction) === normalizeAnswer(groundTruth);
}

/** True when the prediction exactly matches some gold answer (false for an empty list). */
export function exactMatchAny(prediction: string, golds: readonly string[]): boolean {
  const p = normalizeAnswer(prediction);
  return golds.some((g) => normalizeAnswer(g) === p);
}

/** SQuAD token F1 of two strings (0 when no token is shared). */
export function tokenF1(prediction: string, groundTruth: string): number {
  const p = pySplit(normalizeAnswer(prediction));
  const g = pySplit(normalizeAnswer(groundTruth));
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      same++;
      counts.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/** The best token F1 over the gold answers (0 for an empty list). */
export function tokenF1Max(prediction: string, golds: readonly string[]): number {
  let best = 0;
  for (const g of golds) best = Math.max(best, tokenF1(prediction, g));
  return best;
}

/**
 * Whether normalised `gold` occurs in normalised `text` as a contiguous run of whole words
 * (both already normalised: single spaces, no leading/trailing space). An empty gold never occurs.
 */
export function containsWordSpan(text: string, gold: string): boolean {
  if (gold === '') return false;
  return ` ${text} `.includes(` ${gold} `);
}
