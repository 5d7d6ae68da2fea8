/**
 * N-gram entropy, the fluency metric of ROME/MEMIT/EasyEdit (docs/evaluation.md, "Fluency";
 * `n_gram_entropy` / `compute_n_gram_entropy` in EasyEdit's evaluate_utils.py): tokenize with
 * NLTK's word_tokenize, H_n = −Σ p log₂ p over the frequency distribution of the text's
 * n-grams, per text mean(2/3 · H₂, 4/3 · H₃), then the arithmetic mean over texts.
 */
import { wordTokenize } from './treebank.js';

/**
 * Entropy in bits of the n-gram frequency distribution of a token list; 0 when there are
 * fewer than n tokens (NLTK yields no n-grams, NumPy sums an empty array).
 * @example ngramEntropyOf(['a', 'b', 'a', 'b'], 2) // 3 bigrams ab, ba, ab: −(2/3·log₂ 2/3 + 1/3·log₂ 1/3) ≈ 0.918
 */
export function ngramEntropyOf(tokens: readonly string[], n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`n-gram order must be a positive integer, got ${n}`);
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    // NUL cannot occur inside a word token, so joined keys are unambiguous
    const key = tokens.slice(i, i + n).join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const total = Math.max(0, tokens.length - n + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / total;
    h -= (p * Math.log(p)) / Math.LN2;
  }
  return h;
}

export interface NgramEntropyOptions {
  /** n-gram orders (default [2, 3]) */
  ns?: readonly number[];
  /** weight of each order (default [2/3, 4/3]) */
  weights?: readonly number[];
  /** word tokenizer (default NLTK-compatible {@link wordTokenize}) */
  tokenize?: (text: string) => string[];
}

/**
 * One text's score: the mean over orders of weight · H_n (EasyEdit `compute_n_gram_entropy`).
 * @example textNgramEntropy('the cat the cat') // tokens the cat the cat: mean(2/3 · H₂, 4/3 · H₃)
 */
export function textNgramEntropy(text: string, opts: NgramEntropyOptions = {}): number {
  const ns = opts.ns ?? [2, 3];
  const weights = opts.weights ?? [2 / 3, 4 / 3];
  if (ns.length === 0 || ns.length !== weights.length)
    throw new Error(`n-gram entropy: ${ns.length} orders but ${weights.length} weights`);
  const tokens = (opts.tokenize ?? wordTokenize)(text);
  return ns.reduce((s, n, i) => s + weights[i]! * ngramEntropyOf(tokens, n), 0) / ns.length;
}

/** The arithmetic mean of {@link textNgramEntropy} over texts (EasyEdit `n_gram_entropy`, agg "arith"). */
export function ngramEntropy(texts: readonly string[], opts: NgramEntropyOptions = {}): number {
  if (texts.length === 0) return NaN;
  return texts.reduce((s, t) => s + textNgramEntropy(t, opts), 0) / texts.length;
}
