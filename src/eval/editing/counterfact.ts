/**
 * CounterFact probability metrics of the ROME/MEMIT protocol (docs/evaluation.md, "CounterFact probability metrics").
 *
 * NLL_x(a) = −(1/|a|) Σ_j log P(a_j | x, a_<j) with a's tokens = encode(" " + a) without BOS
 * (and without a second SentencePiece dummy space), scored after encode(x) (the tokenizer's own
 * BOS included). The reference tokenises the joined string x + " " + a; the two agree whenever
 * the tokenizer splits at the space (GPT-2 BPE, SentencePiece), which is always the case here.
 *
 * Per case: ES = mean [NLL(new) < NLL(true)] over rewrite prompts, PS the same over paraphrases,
 * NS = mean [NLL(true) < NLL(new)] over neighborhood prompts; magnitudes EM/PM = mean(P_new −
 * P_true), NM = mean(P_true − P_new) with P = exp(−NLL). Then the mean over cases;
 * S = harmonic mean(ES, PS, NS).
 */
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { scoreContinuations } from '../../models/score.js';
import { DEFAULT_EVAL_BATCH } from './token-accuracy.js';

/** A prefix and the answer whose NLL is read after it. */
export interface PrefixAnswer {
  prefix: string;
  answer: string;
}

/** Answer tokens: encode(" " + a) with no special tokens and no extra dummy-prefix space. */
export function encodeAnswer(tok: Tokenizer, answer: string): number[] {
  const ids = tok.encode(` ${answer}`, { addBos: false, addSpecialTokens: false, dummyPrefix: 'unless_space' });
  if (ids.length === 0) throw new Error(`answer "${answer}" encodes to no tokens`);
  return ids;
}

/**
 * Mean per-token NLL of each answer after its prefix, from batched forward passes.
 * @example answerNlls(model, tok, [{ prefix: 'The Eiffel Tower is in', answer: 'Paris' }]) // [0.42]
 */
export function answerNlls(
  model: CausalLM,
  tok: Tokenizer,
  items: readonly PrefixAnswer[],
  opts: { batchSize?: number } = {},
): number[] {
  const enc = items.map((it) => ({ prefix: tok.encode(it.prefix), answer: encodeAnswer(tok, it.answer) }));
  enc.forEach((e, i) => {
    if (e.prefix.length === 0) throw new Error(`prefix "${items[i]!.prefix}" encodes to no tokens`);
  });
  return scoreContinuations(
    model,
    enc.map((e) => ({ prompt: e.prefix, continuation: e.answer })),
    { batchSize: opts.batchSize ?? DEFAULT_EVAL_BATCH },
  ).map((r) => -r.logprob / r.tokenLogprobs.length);
}

/** NLLs of the new and the true target after one prompt. */
export interface TargetNlls {
  new: number;
  true: number;
}

/** One case's rates and magnitudes (NaN where the case has no prompt of that kind). */
export interface CounterFactCase {
  es: number;
  ps: number;
  ns: number;
  em: number;
  pm: number;
  nm: number;
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);

/** A case's metrics from the NLLs of its rewrite, paraphrase and neighborhood prompts. */
export function counterfactCase(nlls: {
  rewrite: readonly TargetNlls[];
  paraphrase: readonly TargetNlls[];
  neighborhood: readonly TargetNlls[];
}): CounterFactCase {
  const pNew = (x: TargetNlls) => Math.exp(-x.new);
  const pTrue = (x: TargetNlls) => Math.exp(-x.true);
  return {
    es: mean(nlls.rewrite.map((x) => (x.new < x.true ? 1 : 0))),
    ps: mean(nlls.paraphrase.map((x) => (x.new < x.true ? 1 : 0))),
    ns: mean(nlls.neighborhood.map((x) => (x.true < x.new ? 1 : 0))),
    em: mean(nlls.rewrite.map((x) => pNew(x) - pTrue(x))),
    pm: mean(nlls.paraphrase.map((x) => pNew(x) - pTrue(x))),
    nm: mean(nlls.neighborhood.map((x) => pTrue(x) - pNew(x))),
  };
}

/** Means over cases (each over the cases where it is defined; null when none) and the score S. */
export interface CounterFactSummary {
  ES: number | null;
  PS: number | null;
  NS: number | null;
  EM: number | null;
  PM: number | null;
  NM: number | null;
  /** harmonic mean of ES, PS and NS; null unless all three are defined */
  S: number | null;
  cases: number;
}

/** Harmonic mean (0 when any value is 0). */
export function harmonicMean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  if (xs.some((x) => x === 0)) return 0;
  return xs.length / xs.reduce((s, x) => s + 1 / x, 0);
}

/** Average each metric over the cases, then S = harmonic mean(ES, PS, NS). */
export function aggregateCounterFact(cases: readonly CounterFactCase[]): CounterFactSummary {
  const over = (k: keyof CounterFactCase): number | null => {
    const xs = cases.map((c) => c[k]).filter((x) => Number.isFinite(x));
    return xs.length ? mean(xs) : null;
  };
  const ES = over('es');
  const PS = over('ps');
  const NS = over('ns');
  return {
    ES,
    PS,
    NS,
    EM: over('em'),
    PM: over('pm'),
    NM: over('nm'),
    S: ES !== null && PS !== null && NS !== null ? harmonicMean([ES, PS, NS]) : null,
    cases: cases.length,
  };
}
