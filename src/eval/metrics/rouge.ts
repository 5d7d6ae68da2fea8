/**
 * ROUGE-1, ROUGE-2 and summary-level ROUGE-L with the semantics of the PyPI `rouge` package 1.0.1
 * (pltrdy/rouge @ 657d4d2; docs/evaluation.md, ROUGE), which the SAMSum script calls as
 * `Rouge().get_scores(hyp, ref)`:
 *
 * - sentences: `text.split('.')`, empty pieces dropped, whitespace collapsed in each piece (a
 *   whitespace-only piece becomes the sentence `''`, i.e. one empty token);
 * - tokens: each sentence split on `' '` and flattened; case-sensitive, punctuation kept;
 * - ROUGE-N: **sets** of n-grams over the flattened tokens (n-grams cross sentence boundaries);
 *   P = |H∩R|/|H|, R = |H∩R|/|R| (0 when a denominator is 0), F = 2·(P·R/(P+R+1e-8));
 * - ROUGE-L: m / n = distinct reference / hypothesis tokens; U = the set of tokens on the LCS
 *   backtrack path of every (reference sentence, hypothesis sentence) pair (diagonal on a match,
 *   else up when table[i−1][j] > table[i][j−1], else left); R = |U|/m, P = |U|/n, same F;
 * - a hypothesis (reference) with no sentence raises `ValueError: Hypothesis (Reference) is empty.`
 */
import { pyCollapseWhitespace } from './py-text.js';

/** The package's ValueError; `pythonError` is Python's rendering. */
export class RougeError extends Error {
  readonly pythonError: string;
  constructor(message: string) {
    super(message);
    this.name = 'RougeError';
    this.pythonError = `ValueError: ${message}`;
  }
}

export interface RougeStat {
  r: number;
  p: number;
  f: number;
}

export interface RougeScores {
  rouge1: RougeStat;
  rouge2: RougeStat;
  rougeL: RougeStat;
}

/** The package's sentence split: `[" ".join(s.split()) for s in text.split(".") if len(s) > 0]`. */
export function rougeSentences(text: string): string[] {
  return text
    .split('.')
    .filter((s) => s.length > 0)
    .map(pyCollapseWhitespace);
}

/** `_split_into_words`: each sentence split on a single space, flattened. */
function words(sentences: readonly string[]): string[] {
  return sentences.flatMap((s) => s.split(' '));
}

function ngramSet(n: number, tokens: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + n <= tokens.length; i++) out.add(JSON.stringify(tokens.slice(i, i + n)));
  return out;
}

function fScore(p: number, r: number): number {
  return 2.0 * ((p * r) / (p + r + 1e-8));
}

function rougeN(hyp: readonly string[], ref: readonly string[], n: number): RougeStat {
  if (hyp.length <= 0) throw new RougeError('Hypothesis is empty.');
  if (ref.length <= 0) throw new RougeError('Reference is empty.');
  const h = ngramSet(n, words(hyp));
  const r = ngramSet(n, words(ref));
  let overlap = 0;
  for (const g of h) if (r.has(g)) overlap++;
  const p = h.size === 0 ? 0.0 : overlap / h.size;
  const rec = r.size === 0 ? 0.0 : overlap / r.size;
  return { f: fScore(p, rec), p, r: rec };
}

/** Tokens on the package's LCS backtrack path of x (reference words) and y (hypothesis words). */
function lcsPathTokens(x: readonly string[], y: readonly string[]): string[] {
  const n = x.length;
  const m = y.length;
  const table: Int32Array[] = [];
  for (let i = 0; i <= n; i++) table.push(new Int32Array(m + 1));
  for (let i = 1; i <= n; i++) {
    const row = table[i]!;
    const prev = table[i - 1]!;
    for (let j = 1; j <= m; j++) {
      row[j] = x[i - 1] === y[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, row[j - 1]!);
    }
  }
  const out: string[] = [];
  let i = n;
  let j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] === y[j - 1]) {
      out.push(x[i - 1]!);
      i--;
      j--;
    } else if (table[i - 1]![j]! > table[i]![j - 1]!) i--;
    else j--;
  }
  return out;
}

function rougeLSummary(hyp: readonly string[], ref: readonly string[]): RougeStat {
  if (hyp.length <= 0 || ref.length <= 0) throw new RougeError('Collections must contain at least 1 sentence.');
  const m = new Set(words(ref)).size;
  const n = new Set(words(hyp)).size;
  const union = new Set<string>();
  for (const r of ref) {
    const rw = r.split(' ');
    for (const h of hyp) for (const t of lcsPathTokens(rw, h.split(' '))) union.add(t);
  }
  const llcs = union.size;
  const r = llcs / m;
  const p = llcs / n;
  return { f: fScore(p, r), p, r };
}

/**
 * `Rouge().get_scores(hypothesis, reference)[0]` of `rouge` 1.0.1, in its metric order (ROUGE-1
 * first, so an empty hypothesis raises "Hypothesis is empty."). Throws {@link RougeError}.
 */
export function rougeScores(hypothesis: string, reference: string): RougeScores {
  const hyp = rougeSentences(hypothesis);
  const ref = rougeSentences(reference);
  return { rouge1: rougeN(hyp, ref, 1), rouge2: rougeN(hyp, ref, 2), rougeL: rougeLSummary(hyp, ref) };
}

/** The SAMSum script's score: the mean of the three F values, `(R1_F + R2_F + RL_F) / 3`. */
export function rougeMeanF(s: RougeScores): number {
  return (s.rouge1.f + s.rouge2.f + s.rougeL.f) / 3;
}
