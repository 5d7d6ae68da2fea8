/**
 * nltk 3.8's `sentence_bleu(references, hypothesis)` with the default weights (0.25 ×4) and no
 * smoothing (`method0`), as the SAMSum script computes it (informational: the paper does not report
 * it). To reproduce CPython's numbers to the last bit, `math.log`/`math.exp` are glibc's (see
 * libm.ts; V8's differ in the last bit for a few percent of arguments) and `math.fsum` is
 * CPython's exactly rounded sum.
 */
import { glibcExp, glibcLog } from './libm.js';

/** `sys.float_info.min`. */
const FLOAT_MIN = 2.2250738585072014e-308;

/** CPython's `math.fsum`: the correctly rounded sum (Shewchuk partials, half-even fix-up). */
export function fsum(values: Iterable<number>): number {
  const partials: number[] = [];
  let special = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      special += v;
      continue;
    }
    let x = v;
    let i = 0;
    for (let j = 0; j < partials.length; j++) {
      let y = partials[j]!;
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  if (special !== 0 || Number.isNaN(special)) return special;
  let n = partials.length;
  let hi = 0;
  if (n > 0) {
    hi = partials[--n]!;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = partials[--n]!;
      hi = x + y;
      const yr = hi - x;
      lo = y - yr;
      if (lo !== 0) break;
    }
    if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
      const y = lo * 2;
      const x = hi + y;
      const yr = x - hi;
      if (y === yr) hi = x;
    }
  }
  return hi;
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = JSON.stringify(tokens.slice(i, i + n));
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/** nltk's `modified_precision` as (numerator, denominator), the denominator at least 1. */
export function modifiedPrecision(
  references: readonly (readonly string[])[],
  hypothesis: readonly string[],
  n: number,
): [number, number] {
  const counts = ngramCounts(hypothesis, n);
  const maxCounts = new Map<string, number>();
  for (const ref of references) {
    const rc = ngramCounts(ref, n);
    for (const g of counts.keys()) maxCounts.set(g, Math.max(maxCounts.get(g) ?? 0, rc.get(g) ?? 0));
  }
  let num = 0;
  let total = 0;
  for (const [g, c] of counts) {
    num += Math.min(c, maxCounts.get(g) ?? 0);
    total += c;
  }
  return [num, Math.max(1, total)];
}

/**
 * nltk 3.8 `sentence_bleu(references, hypothesis)` (weights 0.25 ×4, `method0`): 0 when no unigram
 * matches; a zero higher-order precision becomes `sys.float_info.min`; BP = 1 if the hypothesis is
 * longer than the closest reference, else exp(1 − r/c).
 */
export function sentenceBleu(references: readonly (readonly string[])[], hypothesis: readonly string[]): number {
  const weights = [0.25, 0.25, 0.25, 0.25];
  const p = weights.map((_, i) => modifiedPrecision(references, hypothesis, i + 1));
  const hypLen = hypothesis.length;
  let refLen = Infinity;
  let best: [number, number] | null = null;
  for (const r of references) {
    const key: [number, number] = [Math.abs(r.length - hypLen), r.length];
    if (best === null || key[0] < best[0] || (key[0] === best[0] && key[1] < best[1])) {
      best = key;
      refLen = r.length;
    }
  }
  const bp = hypLen > refLen ? 1 : hypLen === 0 ? 0 : glibcExp(1 - refLen / hypLen);
  if (p[0]![0] === 0) return 0;
  const pn = p.map(([num, den]) => (num !== 0 ? num / den : FLOAT_MIN));
  const s = fsum(weights.map((w, i) => w * glibcLog(pn[i]!)));
  return bp * glibcExp(s);
}
