/**
 * Token encoding for editing and the subject lookup index (README.md, "Subject token index"): where in a
 * tokenised prompt the key/value of the subject is read and where δ is inserted.
 */
import type { EncodeOptions, Tokenizer } from '../../tokenizer/index.js';

/** `fact_token` strategies of ROME/MEMIT. */
export type FactToken = 'subject_last' | 'last' | 'subject_first' | 'subject_first_after_last';

/**
 * How the index is computed from text:
 * - `easyedit`: contextual, `len(encode(pre + subject)) − 1` (counts BOS when one is added);
 * - `original` (kmeng01): strip the prefix's trailing space, `' ' + subject`, and add the lengths
 *   of the separately tokenised pieces.
 */
export type SubjectIndexRule = 'easyedit' | 'original';

export const FACT_TOKENS: readonly FactToken[] = ['subject_last', 'last', 'subject_first', 'subject_first_after_last'];

/**
 * The encoding every ROME/MEMIT prompt uses: a leading space only when the text lacks one (so
 * `encode(' Paris') == encode('Paris')`, which the index arithmetic needs), and BOS where the
 * tokenizer adds one by HF convention — except llama2.c tokenizers (stories260K and the tiny
 * goldens), whose editing convention is no BOS.
 */
export function promptEncoding(tok: Tokenizer): EncodeOptions {
  return tok.kind === 'llama2c' ? { addBos: false, dummyPrefix: 'unless_space' } : { dummyPrefix: 'unless_space' };
}

/** Target ids: never special tokens (no BOS), same dummy-prefix handling as prompts. */
export function encodeTarget(tok: Tokenizer, target: string): number[] {
  const ids = tok.encode(target, { addBos: false, addSpecialTokens: false, dummyPrefix: 'unless_space' });
  if (ids.length === 0) throw new Error(`target "${target}" encodes to no tokens`);
  return ids;
}

/** A prompt split around its subject: text = pre + subject + post. */
export interface SubjectPrompt {
  pre: string;
  subject: string;
  post: string;
}

/** The full text of a split prompt. */
export function fullText(p: SubjectPrompt): string {
  return p.pre + p.subject + p.post;
}

/**
 * Split a template holding one `{}` (the LAST `{}` is the slot, so a sampled context that
 * happens to contain braces stays usable) and fill it with `subject`.
 * @example splitTemplate('The sky. {} plays', 'LeBron James') // { pre: 'The sky. ', subject: 'LeBron James', post: ' plays' }
 */
export function splitTemplate(template: string, subject: string): SubjectPrompt {
  const i = template.lastIndexOf('{}');
  if (i < 0) throw new Error(`template "${template}" has no {} for the subject`);
  return { pre: template.slice(0, i), subject, post: template.slice(i + 2) };
}

/**
 * Index of the token where the subject is looked up, counted in `encode(fullText(p))` with the
 * editing encoding (so it includes BOS when one is added). Always non-negative.
 * @example subjectIndex(tok, { pre: '', subject: 'LeBron James', post: ' plays the sport of' }, 'subject_last', 'easyedit') // 2 on GPT-2
 */
export function subjectIndex(tok: Tokenizer, p: SubjectPrompt, factToken: FactToken, rule: SubjectIndexRule): number {
  if (p.subject.trim() === '') throw new Error(`empty subject in "${fullText(p)}"`);
  const enc = promptEncoding(tok);
  const total = tok.encode(fullText(p), enc).length;
  if (total === 0) throw new Error(`prompt "${fullText(p)}" encodes to no tokens`);
  let idx: number;
  if (factToken === 'last') idx = total - 1;
  else {
    const { prefixLen, wordLen, suffixLen } =
      rule === 'original' ? originalPieces(tok, p, enc) : easyEditPieces(tok, p, enc, total);
    if (wordLen <= 0) throw new Error(`subject "${p.subject}" covers no token of "${fullText(p)}"`);
    if (factToken === 'subject_last') idx = prefixLen + wordLen - 1;
    else if (factToken === 'subject_first') idx = prefixLen;
    else if (factToken === 'subject_first_after_last') idx = prefixLen + wordLen - (suffixLen === 0 ? 1 : 0);
    else throw new Error(`fact_token "${String(factToken)}" is not one of ${FACT_TOKENS.join(', ')}`);
  }
  if (idx < 0 || idx >= total) {
    throw new Error(`subject lookup index ${idx} for "${p.subject}" falls outside the ${total} tokens of "${fullText(p)}"`);
  }
  return idx;
}

interface Pieces {
  prefixLen: number;
  wordLen: number;
  suffixLen: number;
}

// EasyEdit: contextual lengths of pre, pre + subject and the whole text. For the prefix length
// (only used by subject_first) the trailing space is stripped: GPT-2 BPE would count it as a
// token of its own, one too many.
function easyEditPieces(tok: Tokenizer, p: SubjectPrompt, enc: EncodeOptions, total: number): Pieces {
  const prefixLen = tok.encode(p.pre.replace(/ $/, ''), enc).length;
  const withWord = tok.encode(p.pre + p.subject, enc).length;
  return { prefixLen, wordLen: withWord - prefixLen, suffixLen: total - withWord };
}

// kmeng01 `get_words_idxs_in_templates`: a non-empty prefix loses its trailing space, which moves
// to the (stripped) subject; each piece is tokenised on its own (BOS counted with the prefix only).
function originalPieces(tok: Tokenizer, p: SubjectPrompt, enc: EncodeOptions): Pieces {
  let pre = p.pre;
  let word = p.subject;
  if (pre.length > 0 && pre.endsWith(' ')) {
    pre = pre.slice(0, -1);
    word = ` ${word.trim()}`;
  }
  const bare: EncodeOptions = { ...enc, addBos: false };
  const prefixLen = tok.encode(pre, enc).length;
  const wordLen = tok.encode(word, bare).length;
  const suffixLen = p.post.length ? tok.encode(p.post, bare).length : 0;
  return { prefixLen, wordLen, suffixLen };
}
