/**
 * An NLTK-`word_tokenize`-compatible word tokenizer (docs/evaluation.md, "Fluency": the n-grams):
 * `word_tokenize(text)` = Punkt sentence split, then NLTK's improved Treebank tokenizer
 * (`NLTKWordTokenizer`, nltk/tokenize/destructive.py) on each sentence. Ported from NLTK 3.8.
 *
 * The Treebank rules are ported regex for regex, with Python's Unicode `\w`, `\d`, `\s`, `\b`
 * and `$` spelled out (JavaScript's are ASCII-only, and its `$` does not match before a final
 * newline). What differs from NLTK:
 * - Sentence splitting runs Punkt's algorithm (the 3.8 candidate search, first- and second-pass
 *   annotation, boundary realignment) with the parameters of an *untrained* model plus a short
 *   list of common English abbreviations ({@link ABBREVIATIONS}), instead of the pickled
 *   `english` model: that model's ~150 learned abbreviations, collocations, frequent sentence
 *   starters and orthographic statistics are not bundled. Both agree on ordinary prose; they can
 *   differ after a rare abbreviation ("Calif. Then"), an ellipsis or an initial before a
 *   capitalised word. The split only matters for where a word's final period is cut off (the
 *   Treebank rules split a period only at the end of a sentence) and for `"` at a sentence start.
 * - `(?i)` matches use JavaScript's Unicode case folding, which equals Python's for all but a
 *   few special characters.
 */

// Python `re` character classes for str patterns, spelled out for JavaScript's `u` mode.
/** Python `\w`: letters, numbers and `_`. */
const W = '[\\p{L}\\p{N}_]';
/** Python `\s` (str.isspace). */
const S_CHARS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const S = `[${S_CHARS}]`;
const NOT_S = `[^${S_CHARS}]`;
/** Python `\b`: a \w / non-\w transition. */
const B = `(?:(?<=${W})(?!${W})|(?<!${W})(?=${W}))`;
/** Python `$` without MULTILINE: the end, or just before a newline that ends the string. */
const END = '(?=\\n?(?![\\s\\S]))';

const re = (src: string, flags = ''): RegExp => new RegExp(src, `gu${flags}`);

type Rule = readonly [RegExp, string];

const STARTING_QUOTES: readonly Rule[] = [
  [re('([«“‘„]|[`]+)'), ' $1 '],
  [re('^"'), '``'],
  [re('(``)'), ' $1 '],
  [re('([ (\\[{<])("|\'{2})'), '$1 `` '],
  [re(`(')(?!re|ve|ll|m|t|s|d|n)(${W})${B}`, 'i'), '$1 $2'],
];

const PUNCTUATION: readonly Rule[] = [
  [re(`([^.])(\\.)([\\])}>"'»”’ ]*)${S}*${END}`), '$1 $2 $3 '],
  [re('([:,])([^\\p{Nd}])'), ' $1 $2'],
  [re(`([:,])${END}`), ' $1 '],
  [re('\\.{2,}'), ' $& '],
  [re('[;@#$%&]'), ' $& '],
  // the final period (already split by the first rule; kept for fidelity)
  [re(`([^.])(\\.)([\\])}>"']*)${S}*${END}`), '$1 $2$3 '],
  [re('[?!]'), ' $& '],
  [re("([^'])' "), "$1 ' "],
  [re('[*]'), ' $& '],
];

const PARENS_BRACKETS: Rule = [re('[\\][(){}<>]'), ' $& '];
const DOUBLE_DASHES: Rule = [re('--'), ' -- '];

const ENDING_QUOTES: readonly Rule[] = [
  [re('([»”’])'), ' $1 '],
  [re("''"), " '' "],
  [re('"'), " '' "],
  [re("([^' ])('[sS]|'[mM]|'[dD]|') "), '$1 $2 '],
  [re("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), '$1 $2 '],
];

/** Robert MacIntyre's contractions (CONTRACTIONS2, CONTRACTIONS3), replaced by " $1 $2 ". */
const CONTRACTIONS: readonly RegExp[] = [
  re(`${B}(can)(not)${B}`, 'i'),
  re(`${B}(d)('ye)${B}`, 'i'),
  re(`${B}(gim)(me)${B}`, 'i'),
  re(`${B}(gon)(na)${B}`, 'i'),
  re(`${B}(got)(ta)${B}`, 'i'),
  re(`${B}(lem)(me)${B}`, 'i'),
  re(`${B}(more)('n)${B}`, 'i'),
  re(`${B}(wan)(na)(?=${S})`, 'i'),
  re(` ('t)(is)${B}`, 'i'),
  re(` ('t)(was)${B}`, 'i'),
];

const SPLIT_WS = new RegExp(`${S}+`, 'u');

/**
 * NLTK's `NLTKWordTokenizer().tokenize(sentence)` (the improved Treebank tokenizer; one sentence,
 * no parenthesis conversion).
 * @example treebankTokenize('They don\'t "know".') // ['They', 'do', "n't", '``', 'know', "''", '.']
 */
export function treebankTokenize(sentence: string): string[] {
  let text = sentence;
  for (const [r, sub] of STARTING_QUOTES) text = text.replace(r, sub);
  for (const [r, sub] of PUNCTUATION) text = text.replace(r, sub);
  text = text.replace(PARENS_BRACKETS[0], PARENS_BRACKETS[1]);
  text = text.replace(DOUBLE_DASHES[0], DOUBLE_DASHES[1]);
  text = ` ${text} `;
  for (const [r, sub] of ENDING_QUOTES) text = text.replace(r, sub);
  for (const r of CONTRACTIONS) text = text.replace(r, ' $1 $2 ');
  return text.split(SPLIT_WS).filter((t) => t !== '');
}

// ---------------------------------------------------------------- Punkt sentence splitting

/**
 * Abbreviations that do not end a sentence (lower case, without the final period): common
 * English titles, forms and Latin abbreviations, a subset of what NLTK's pickled English Punkt
 * model learned.
 */
export const ABBREVIATIONS: ReadonlySet<string> = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'rev',
  'gen',
  'gov',
  'sen',
  'rep',
  'col',
  'lt',
  'capt',
  'sgt',
  'cmdr',
  'adm',
  'maj',
  'st',
  'jr',
  'sr',
  'messrs',
  'mme',
  'hon',
  'pres',
  'supt',
  'inc',
  'ltd',
  'co',
  'corp',
  'bros',
  'dept',
  'assn',
  'univ',
  'mt',
  'ft',
  'no',
  'nos',
  'vol',
  'pp',
  'vs',
  'e.g',
  'i.e',
  'cf',
  'al',
  'approx',
  'a.m',
  'p.m',
  'u.s',
  'u.k',
  'u.n',
  'd.c',
  'jan',
  'feb',
  'mar',
  'apr',
  'jun',
  'jul',
  'aug',
  'sep',
  'sept',
  'oct',
  'nov',
  'dec',
]);

const SENT_END = '[.?!]';
/** Punkt `_re_non_word_chars`: characters that cannot appear within words. */
const NON_WORD = `(?:[)";}\\]*:@'({\\[?!])`;
/** Punkt `_re_multi_char_punct`: dashes and ellipses. */
const MULTI_CHAR = `(?:-{2,}|\\.{2,}|(?:\\.${S}){2,}\\.)`;
/** Punkt `_re_word_start`. */
const WORD_START = '[^("`{\\[:;&#*@)}\\]\\-,]';
const PUNKT_WORD = re(
  `${MULTI_CHAR}|(?=${WORD_START})${NOT_S}+?(?=${S}|(?![\\s\\S])|${NON_WORD}|${MULTI_CHAR}|,(?=(?![\\s\\S])|${S}|${NON_WORD}|${MULTI_CHAR}))|${NOT_S}`,
);
const PERIOD_CONTEXT = re(`${SENT_END}(?=(?<after>${NON_WORD}|${S}+(?<next>${NOT_S}+)))`);
const NUMERIC = new RegExp(`^-?[.,]?\\p{Nd}[\\p{Nd},.-]*\\.?${END}`, 'u');
const INITIAL = new RegExp(`^[\\p{L}\\p{Nl}\\p{No}_]\\.${END}`, 'u');
const ELLIPSIS = new RegExp(`^\\.\\.+${END}`, 'u');
const REALIGN = new RegExp(`^["')\\]}]+?(?:${S}+|(?=--)|(?=\\n|(?![\\s\\S])))`, 'u');
/** Python's `string.whitespace`, which Punkt uses to find the word before a candidate period. */
const ASCII_WS = ' \t\n\r\v\f';
const PUNKT_PUNCTUATION = new Set([';', ':', ',', '.', '!', '?']);

interface PunktToken {
  tok: string;
  type: string;
  periodFinal: boolean;
  sentbreak: boolean;
  abbr: boolean;
  ellipsis: boolean;
}

function punktToken(tok: string): PunktToken {
  const lower = tok.toLowerCase();
  return {
    tok,
    type: NUMERIC.test(lower) ? '##number##' : lower,
    periodFinal: tok.endsWith('.'),
    sentbreak: false,
    abbr: false,
    ellipsis: false,
  };
}

const typeNoPeriod = (t: PunktToken): string => (t.type.length > 1 && t.type.endsWith('.') ? t.type.slice(0, -1) : t.type);
const firstUpper = (t: PunktToken): boolean => /^\p{Lu}/u.test(t.tok);
const firstLower = (t: PunktToken): boolean => /^\p{Ll}/u.test(t.tok);

/** Punkt's first pass: sentence-end marks, ellipses, abbreviations by type. */
function firstPass(t: PunktToken, abbrevs: ReadonlySet<string>): void {
  if (t.tok === '.' || t.tok === '?' || t.tok === '!') t.sentbreak = true;
  else if (ELLIPSIS.test(t.tok)) t.ellipsis = true;
  else if (t.periodFinal && !t.tok.endsWith('..')) {
    const base = t.tok.slice(0, -1).toLowerCase();
    if (abbrevs.has(base) || abbrevs.has(base.split('-').pop()!)) t.abbr = true;
    else t.sentbreak = true;
  }
}

/**
 * Punkt's orthographic heuristic without orthographic statistics: punctuation and lower-case
 * words never start a sentence, anything else is unknown.
 */
function orthoHeuristic(t: PunktToken): false | 'unknown' {
  if (PUNKT_PUNCTUATION.has(t.tok)) return false;
  if (firstLower(t)) return false;
  return 'unknown';
}

/** Punkt's second pass (no collocations or sentence starters): initials and ordinals. */
function secondPass(t1: PunktToken, t2: PunktToken | undefined): void {
  if (!t2 || !t1.periodFinal) return;
  const isInitial = INITIAL.test(t1.tok);
  if (isInitial || typeNoPeriod(t1) === '##number##') {
    const starter = orthoHeuristic(t2);
    if (starter === false || (isInitial && firstUpper(t2))) {
      t1.sentbreak = false;
      t1.abbr = true;
    }
  }
}

/** Punkt's word segmentation of a context, line by line. */
function punktWords(text: string): PunktToken[] {
  return text.split('\n').flatMap((line) => (line.trim() ? [...line.matchAll(PUNKT_WORD)].map((m) => punktToken(m[0])) : []));
}

/** Whether a candidate context holds a sentence break followed by another token. */
function containsSentbreak(context: string, abbrevs: ReadonlySet<string>): boolean {
  const toks = punktWords(context);
  toks.forEach((t) => firstPass(t, abbrevs));
  let found = false;
  for (let i = 0; i < toks.length; i++) {
    if (found) return true;
    secondPass(toks[i]!, toks[i + 1]);
    if (toks[i]!.sentbreak) found = true;
  }
  return false;
}

function lastAsciiWhitespace(s: string): number {
  for (let i = s.length - 1; i >= 0; i--) if (ASCII_WS.includes(s[i]!)) return i;
  return 0;
}

/** Candidate sentence ends with their contexts (NLTK 3.8 `_match_potential_end_contexts`). */
function* endContexts(text: string): Generator<{ end: number; nextStart: number | null; context: string }> {
  let prev: { start: number; stop: number } = { start: 0, stop: 0 };
  let prevMatch: RegExpMatchArray | null = null;
  const emit = (m: RegExpMatchArray, slice: { start: number; stop: number }) => ({
    end: m.index! + 1,
    nextStart: m.groups!['next'] !== undefined ? m.index! + 1 + m.groups!['after']!.length - m.groups!['next']!.length : null,
    context: text.slice(slice.start, slice.stop) + m[0] + m.groups!['after']!,
  });
  for (const m of text.matchAll(PERIOD_CONTEXT)) {
    const before = text.slice(prev.stop, m.index);
    let wordStart = lastAsciiWhitespace(before);
    wordStart = wordStart ? wordStart + prev.stop + 1 : prev.start;
    const wordSlice = { start: wordStart, stop: m.index! };
    if (prevMatch && prev.stop <= wordSlice.start) yield emit(prevMatch, prev);
    prevMatch = m;
    prev = wordSlice;
  }
  if (prevMatch) yield emit(prevMatch, prev);
}

/**
 * Split text into sentences as NLTK's Punkt tokenizer does with realigned boundaries, using
 * the parameters described in the file header.
 */
export function splitSentences(text: string, abbrevs: ReadonlySet<string> = ABBREVIATIONS): string[] {
  const slices: [number, number][] = [];
  let lastBreak = 0;
  for (const c of endContexts(text)) {
    if (!containsSentbreak(c.context, abbrevs)) continue;
    slices.push([lastBreak, c.end]);
    lastBreak = c.nextStart ?? c.end;
  }
  slices.push([lastBreak, text.replace(new RegExp(`${S}+$`, 'u'), '').length]);
  // realign closing quotes and brackets that follow a sentence end into that sentence
  const out: string[] = [];
  let realign = 0;
  for (let i = 0; i < slices.length; i++) {
    const s1: [number, number] = [slices[i]![0] + realign, slices[i]![1]];
    const s2 = slices[i + 1];
    const t1 = text.slice(s1[0], s1[1]);
    if (!s2) {
      if (t1) out.push(t1);
      continue;
    }
    const m = REALIGN.exec(text.slice(s2[0], s2[1]));
    if (m) {
      out.push(text.slice(s1[0], s2[0] + m[0].replace(new RegExp(`${S}+$`, 'u'), '').length));
      realign = m[0].length;
    } else {
      realign = 0;
      if (t1) out.push(t1);
    }
  }
  return out;
}

/**
 * NLTK's `word_tokenize(text)`: sentences (see {@link splitSentences}), then the Treebank
 * tokenizer on each.
 * @example wordTokenize("Hello world. I can't go.") // ['Hello', 'world', '.', 'I', 'ca', "n't", 'go', '.']
 */
export function wordTokenize(text: string, opts: { preserveLine?: boolean } = {}): string[] {
  const sentences = opts.preserveLine ? [text] : splitSentences(text);
  return sentences.flatMap((s) => treebankTokenize(s));
}
