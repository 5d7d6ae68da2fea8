/**
 * Perplexity on a text (WikiText-2 by default): a cheap general-ability signal next to the eight
 * tasks. The text is tokenized once (no BOS), cut into consecutive windows of the model's context
 * (at most `window` tokens); every token but each window's first is scored given the tokens before
 * it in its window, as Hugging Face's perplexity recipe does with stride = window.
 */
import * as T from '../tensor/index.js';
import type { CausalLM } from '../models/index.js';
import type { Tokenizer } from '../tokenizer/index.js';

export interface PerplexityOptions {
  /** tokens to score at most (default 4096) */
  maxTokens?: number;
  /** window length (default: min(context, 1024)) */
  window?: number;
  /** called after each window */
  onProgress?: (scored: number, total: number) => void;
}

export interface PerplexityResult {
  perplexity: number;
  /** mean negative log-likelihood per scored token, nats */
  nll: number;
  /** tokens scored */
  tokens: number;
  windows: number;
  window: number;
}

/** The first `maxTokens` (+ window starts) tokens of `text`, encoded without BOS. */
function tokenize(tok: Tokenizer, text: string, need: number): number[] {
  // tokenizing a whole corpus costs seconds; a prefix of ~8 characters a token is plenty, grown if short
  let chars = Math.max(4096, need * 8);
  for (;;) {
    const ids = tok.encode(text.slice(0, chars), { addBos: false, addSpecialTokens: false });
    if (ids.length >= need + 1 || chars >= text.length) return ids.slice(0, need + 1);
    chars *= 2;
  }
}

/**
 * @example const r = perplexity(model, tok, readFileSync('wikitext-2-raw-test.raw', 'utf8'), { maxTokens: 2048 });
 */
export function perplexity(model: CausalLM, tok: Tokenizer, text: string, opts: PerplexityOptions = {}): PerplexityResult {
  const budget = opts.maxTokens ?? 4096;
  if (!Number.isInteger(budget) || budget < 1) throw new Error(`perplexity: maxTokens must be a positive integer, got ${budget}`);
  const W = Math.min(opts.window ?? 1024, model.config.maxPositions);
  if (!Number.isInteger(W) || W < 2) throw new Error(`perplexity: window must be an integer >= 2, got ${W}`);
  // each window of W tokens scores W - 1 of them
  const windowsNeeded = Math.ceil(budget / (W - 1));
  const ids = tokenize(tok, text, budget + windowsNeeded);
  if (ids.length < 2) throw new Error('perplexity: the text has fewer than 2 tokens');
  let nllSum = 0;
  let scored = 0;
  let windows = 0;
  for (let s = 0; s < ids.length - 1 && scored < budget; s += W) {
    const chunk = ids.slice(s, Math.min(s + W, ids.length, s + 1 + budget - scored));
    if (chunk.length < 2) break;
    nllSum += T.noGrad(() =>
      T.tidy(() => {
        const x = T.tensor(Int32Array.from(chunk.slice(0, -1)), [1, chunk.length - 1], 'int32');
        const y = T.tensor(Int32Array.from(chunk.slice(1)), [1, chunk.length - 1], 'int32');
        const { logits } = model.forward({ ids: x });
        const loss = T.crossEntropy(T.cast(logits!, 'float32'), y, { reduction: 'none' });
        let sum = 0;
        for (const v of T.cast(loss, 'float64').storage as Float64Array) sum += v;
        return sum;
      }),
    );
    scored += chunk.length - 1;
    windows++;
    opts.onProgress?.(scored, budget);
  }
  const nll = nllSum / scored;
  return { perplexity: Math.exp(nll), nll, tokens: scored, windows, window: W };
}
