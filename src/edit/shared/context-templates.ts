/**
 * Context templates (README.md, "Context templates"): short model-sampled prefixes "<text>. {}" over which
 * ROME/MEMIT average keys and fit v*. Sampled with a seed ("generate_fast": top-k 5, length
 * counting the prompt), cached per (model, recipe, seed); explicit templates bypass sampling.
 */
import type { CausalLM } from '../../models/types.js';
import { generate } from '../../models/generate.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { promptEncoding } from './subject-index.js';

/**
 * - `rome-easyedit`: "{}" + n/5 samples per seed word for each (length, n), braces deleted;
 * - `rome-original`: "{}" + n samples per (length, n) started from the EOS token, no brace cleaning;
 * - `memit`: groups [["{}"], [one length-10 sample per seed word, braces → spaces]].
 */
export type TemplateRecipe = 'rome-easyedit' | 'rome-original' | 'memit';

/** EasyEdit / MEMIT seed words. */
export const SEED_WORDS = ['The', 'Therefore', 'Because', 'I', 'You'] as const;

/** ROME's default `context_template_length_params`. */
export const ROME_LENGTH_PARAMS: readonly (readonly [number, number])[] = [
  [5, 10],
  [10, 10],
];

const cache = new WeakMap<CausalLM, Map<string, string[][]>>();

/**
 * Sample `n` continuations of each prompt (token ids), as one left-padded batch, until each
 * row holds `maxLen` tokens counting the padded prompt, with top-k 5 sampling; decode and
 * clean them as generate_fast does. Rows come prompt by prompt, n per prompt.
 */
export function generateFast(
  model: CausalLM,
  tok: Tokenizer,
  prompts: readonly (readonly number[])[],
  n: number,
  maxLen: number,
  seed: number,
): string[] {
  const rows = prompts.flatMap((p) => Array.from({ length: n }, () => p));
  if (rows.length === 0) return [];
  const newTokens = Math.max(0, maxLen - Math.max(...rows.map((r) => r.length)));
  const { tokens } = generate(model, rows, { maxNewTokens: newTokens, doSample: true, topK: 5, seed, eosTokenId: null });
  return tokens.map((t, i) =>
    tok
      .decode([...rows[i]!, ...t], { skipSpecialTokens: true })
      .normalize('NFKD')
      .replaceAll('\n\n', ' ')
      .replaceAll('<|endoftext|>', ''),
  );
}

/**
 * The context templates of a recipe as groups (ROME recipes give one group after "{}"),
 * sampled once per (model, recipe, seed, lengths) and cached.
 * @example const groups = contextTemplates(model, tok, 'memit', { seed: 0 }); // [["{}"], [5 templates]]
 */
export function contextTemplates(
  model: CausalLM,
  tok: Tokenizer,
  recipe: TemplateRecipe,
  opts: { seed?: number; lengthParams?: readonly (readonly [number, number])[] } = {},
): string[][] {
  const seed = opts.seed ?? 0;
  const lengths = recipe === 'memit' ? [[10, 5] as const] : (opts.lengthParams ?? ROME_LENGTH_PARAMS);
  const key = JSON.stringify([recipe, seed, lengths]);
  let perModel = cache.get(model);
  if (!perModel) cache.set(model, (perModel = new Map()));
  const hit = perModel.get(key);
  if (hit) return hit.map((g) => [...g]);

  const enc = promptEncoding(tok);
  const samples: string[] = [];
  let call = 0;
  // one RNG stream per generate call, derived from the seed so each call is reproducible alone
  const nextSeed = (): number => (Math.imul(seed + 1, 0x9e3779b1) + 7919 * call++) >>> 0;
  for (const [length, n] of lengths) {
    if (recipe === 'rome-original') {
      const start = tok.eosId ?? tok.bosId;
      if (start === null)
        throw new Error('context templates (rome-original): the tokenizer has neither EOS nor BOS to start from');
      samples.push(...generateFast(model, tok, [[start]], n, length, nextSeed()));
    } else {
      // all seed words in one batch, as EasyEdit's generate_fast call does
      const per = Math.floor(n / SEED_WORDS.length);
      const texts = generateFast(
        model,
        tok,
        SEED_WORDS.map((w) => tok.encode(w, enc)),
        per,
        length,
        nextSeed(),
      );
      // a SentencePiece-style dummy prefix decodes as a leading space HF's decode would drop
      samples.push(...texts.map((t) => (t.startsWith(' ') ? t.slice(1) : t)));
    }
  }
  let groups: string[][];
  if (recipe === 'memit') groups = [['{}'], samples.map((s) => `${s.replace(/[{}]/g, ' ')}. {}`)];
  else if (recipe === 'rome-easyedit') groups = [['{}'], samples.map((s) => `${s.replace(/[{}]/g, '')}. {}`)];
  else groups = [['{}'], samples.map((s) => `${s}. {}`)];
  perModel.set(key, groups);
  return groups.map((g) => [...g]);
}

/** Drop the cached templates of a model (e.g. after its weights were replaced). */
export function clearContextTemplateCache(model: CausalLM): void {
  cache.delete(model);
}

/**
 * Normalise explicit templates to groups: a flat list is one group (plain mean), groups are
 * kept. Every template must hold a `{}`.
 */
export function asGroups(templates: string[] | string[][]): string[][] {
  if (templates.length === 0) throw new Error('context templates: the list is empty');
  const groups = templates.every((t) => typeof t === 'string') ? [templates as string[]] : (templates as string[][]);
  for (const g of groups) {
    if (!Array.isArray(g) || g.length === 0) throw new Error('context templates: every group needs at least one template');
    for (const t of g)
      if (typeof t !== 'string' || !t.includes('{}')) throw new Error(`context template ${JSON.stringify(t)} has no {}`);
  }
  return groups.map((g) => [...g]);
}
