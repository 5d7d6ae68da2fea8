/**
 * Plain text to training documents, so `lmedit train --corpus FILE` reuses the pretraining loop.
 */
import type { Tokenizer } from '../tokenizer/index.js';

export interface CorpusOptions {
  /**
   * Where one document ends: 'paragraph' (default: blank lines), 'line' (every line) or 'none'
   * (the whole text is one document; the batcher packs and cuts it).
   */
  split?: 'paragraph' | 'line' | 'none';
}

/**
 * Split `text` into documents and encode each without special tokens (the batcher adds
 * BOS/EOS). Blank documents are skipped; surrounding whitespace of each is trimmed.
 * @example const documents = tokenizeCorpus(readFileSync('corpus.txt', 'utf8'), tokenizer);
 */
export function tokenizeCorpus(text: string, tokenizer: Tokenizer, opts: CorpusOptions = {}): number[][] {
  const split = opts.split ?? 'paragraph';
  const normalized = text.replace(/\r\n?/g, '\n');
  const parts = split === 'none' ? [normalized] : split === 'line' ? normalized.split('\n') : normalized.split(/\n[ \t]*\n/);
  const docs: number[][] = [];
  for (const p of parts) {
    const t = p.trim();
    if (t.length === 0) continue;
    const ids = tokenizer.encode(t, { addSpecialTokens: false });
    if (ids.length > 0) docs.push(ids);
  }
  return docs;
}
