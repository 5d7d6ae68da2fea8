/**
 * Small pieces of Python's `str` semantics that the paper's scorers (and the packages they call:
 * `rouge`, nltk, SQuAD-style normalisation) depend on: `str.isspace`, `str.split()` without an
 * argument, and lengths/slices counted in code points rather than UTF-16 units.
 */

/** Every code point for which Python 3.11's `str.isspace()` is true. */
const PY_SPACE = new Set<number>([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Python's `ch.isspace()` for one code point (as a string). */
export function pyIsSpace(ch: string): boolean {
  return PY_SPACE.has(ch.codePointAt(0)!);
}

/** Runs of Python whitespace (all in the BMP, so a UTF-16 regex sees each as one unit). */
const PY_SPACE_RUN = new RegExp(`[${[...PY_SPACE].map((c) => `\\u${c.toString(16).padStart(4, '0')}`).join('')}]+`);

/** Python's `s.split()`: runs of Python whitespace separate, no empty pieces. */
export function pySplit(s: string): string[] {
  return s.split(PY_SPACE_RUN).filter((p) => p !== '');
}

/** Python's `' '.join(s.split())`. */
export function pyCollapseWhitespace(s: string): string {
  return pySplit(s).join(' ');
}

/** Python's `len(s)`: code points. */
export function pyLen(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // a high surrogate followed by a low one is one code point
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Python's `s[start:end]` (code points; negative indices count from the end; `end` omitted = to the end). */
export function pySlice(s: string, start: number, end?: number): string {
  const cps = Array.from(s);
  const n = cps.length;
  const norm = (i: number): number => (i < 0 ? Math.max(0, n + i) : Math.min(i, n));
  const a = norm(start);
  const b = end === undefined ? n : norm(end);
  return b > a ? cps.slice(a, b).join('') : '';
}

/** Python's `s.strip()` without an argument (Python whitespace at both ends). */
export function pyStrip(s: string): string {
  const cps = Array.from(s);
  let a = 0;
  let b = cps.length;
  while (a < b && PY_SPACE.has(cps[a]!.codePointAt(0)!)) a++;
  while (b > a && PY_SPACE.has(cps[b - 1]!.codePointAt(0)!)) b--;
  return cps.slice(a, b).join('');
}
