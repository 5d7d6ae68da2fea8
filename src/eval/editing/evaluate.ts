/**
 * Editing metrics over a list of requests, pre (unedited model) and post (edited model) under an
 * evaluation order (docs/evaluation.md, "Pre, post and evaluation orders"):
 * - `post-each`: edits applied in sequence; after edit i, post metrics of its requests only;
 * - `post-all`: all edits applied in sequence, then post metrics of every request on the final model;
 * - `single` (non-sequential): each edit is measured alone and undone before the next.
 * Every result carries { method, evalOrder, batchSize, numEdits } with per-record values and
 * their means, so numbers from different protocols are never mixed.
 */
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { runEdits } from '../../edit/runner.js';
import type { EditContext, EditMethod, EditRequest, EditResult } from '../../edit/types.js';
import {
  aggregateCounterFact,
  answerNlls,
  counterfactCase,
  type CounterFactCase,
  type CounterFactSummary,
} from './counterfact.js';
import { fluency, recordSeed } from './fluency.js';
import { localityAgreement, localityPredictions } from './locality.js';
import {
  answerPredictions,
  accuracyOf,
  DEFAULT_EVAL_BATCH,
  encodePair,
  generationExactMatch,
  type PromptTarget,
} from './token-accuracy.js';

export type EvalOrder = 'post-each' | 'post-all' | 'single';
export const EVAL_ORDERS: readonly EvalOrder[] = ['post-each', 'post-all', 'single'];

/** Version of the metric definitions; stored with every result. */
export const EDIT_METRICS_VERSION = 1;

/** What to compute and how. */
export interface MetricOptions {
  /** rows per forward pass (default 16) */
  batchSize?: number;
  /** sample from each edit prompt and score n-gram entropy (default false) */
  fluency?: boolean;
  /** total tokens per fluency sample, prompt included (default 100) */
  fluencyMaxLen?: number;
  /** base seed of the fluency sampler; record i uses recordSeed(seed, i) (default 0) */
  seed?: number;
  /** also the greedy-generation exact match of rewrite and rephrase answers (default false) */
  exactMatch?: boolean;
  /** CounterFact probability metrics for requests with a ground_truth (default true) */
  counterfact?: boolean;
}

/** Metric values of one request. Values that cannot be computed are null (JSON has no NaN). */
export interface RecordMetrics {
  /** position of the request in the evaluated list */
  index: number;
  case_id?: string | number;
  /** the edit (0-based) that wrote this request; absent for pre metrics */
  edit?: number;
  /** reliability: token accuracy of target_new after the prompt */
  rewrite_acc: number | null;
  /** generalization: mean over rephrases (per rephrase in rephrase_accs) */
  rephrase_acc?: number | null;
  rephrase_accs?: (number | null)[];
  /** mean over probes of post/pre agreement (post only) */
  locality_acc?: number | null;
  locality_accs?: (number | null)[];
  /** pre only: the unedited model's argmax predictions at each locality probe's answer positions */
  locality_predictions?: number[][];
  portability_acc?: number | null;
  portability_accs?: (number | null)[];
  /** greedy generation reproduces the answer tokens (1/0); with `exactMatch` */
  rewrite_exact?: number | null;
  rephrase_exact?: number | null;
  /** with `fluency`: n-gram entropy of the sampled text, and the text */
  ngram_entropy?: number;
  fluency_text?: string;
  /** CounterFact rates and magnitudes of this case (requests with a ground_truth) */
  counterfact?: { [K in keyof CounterFactCase]: number | null };
}

/** Per-record metrics with their means (each over the records where it is defined). */
export interface MetricSet {
  records: RecordMetrics[];
  means: Record<string, number | null>;
  /** CounterFact summary (ES, PS, NS, EM, PM, NM, S) when computed */
  counterfact?: CounterFactSummary;
}

export interface EditingEvaluation {
  /** the method's name; null for pre-only runs, the caller's label for an edited model dir */
  method: string | null;
  /** how post was measured: an `EvalOrder`, 'edited-model' (a given edited model), or 'pre-only' */
  evalOrder: EvalOrder | 'edited-model' | 'pre-only';
  /** requests per edit */
  batchSize: number;
  numEdits: number;
  numRequests: number;
  metricsVersion: number;
  pre: MetricSet;
  post: MetricSet | null;
  seconds: { pre: number; edit: number; post: number; total: number };
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
const meanOf = (xs: readonly (number | null | undefined)[]): number | null => {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? v.reduce((s, x) => s + x, 0) / v.length : null;
};

/** Locality probes that are CounterFact neighborhood prompts: same true answer as the request. */
function neighborhoodProbes(r: EditRequest) {
  return r.ground_truth === undefined ? [] : (r.locality ?? []).filter((p) => p.ground_truth === r.ground_truth);
}

/**
 * Compute the metrics of `requests` (whose list positions are `indices`) on `model`, all forward
 * passes batched across requests. With `pre` (the same requests' pre records) locality is the
 * agreement with the recorded pre predictions; without, the predictions are recorded.
 */
export function computeMetrics(
  model: CausalLM,
  tok: Tokenizer,
  requests: readonly EditRequest[],
  indices: readonly number[],
  opts: MetricOptions = {},
  pre?: readonly RecordMetrics[],
): RecordMetrics[] {
  const bs = { batchSize: opts.batchSize ?? DEFAULT_EVAL_BATCH };
  // one flat list of (prompt, answer) pairs for the teacher-forced accuracy of every request
  const accItems: PromptTarget[] = [];
  const refs: { rewrite: number; rephrase: number[]; portability: number[] }[] = requests.map((r) => {
    const at = (p: PromptTarget): number => accItems.push(p) - 1;
    return {
      rewrite: at({ prompt: r.prompt, answer: r.target_new }),
      rephrase: (r.rephrase_prompts ?? []).map((p) => at({ prompt: p, answer: r.target_new })),
      portability: (r.portability ?? []).map((p) => at({ prompt: p.prompt, answer: p.ground_truth })),
    };
  });
  const pairs = accItems.map((p) => encodePair(tok, p));
  const preds = answerPredictions(model, pairs, bs);
  const acc = pairs.map((p, i) => finite(accuracyOf(p, preds[i]!)));

  const probes = requests.flatMap((r) => r.locality ?? []);
  const locPreds = probes.length ? localityPredictions(model, tok, probes, bs) : [];

  const records: RecordMetrics[] = requests.map((r, k) => {
    const ref = refs[k]!;
    const rec: RecordMetrics = {
      index: indices[k]!,
      ...(r.case_id !== undefined ? { case_id: r.case_id } : {}),
      rewrite_acc: acc[ref.rewrite]!,
    };
    if (ref.rephrase.length) {
      rec.rephrase_accs = ref.rephrase.map((i) => acc[i]!);
      rec.rephrase_acc = meanOf(rec.rephrase_accs);
    }
    if (ref.portability.length) {
      rec.portability_accs = ref.portability.map((i) => acc[i]!);
      rec.portability_acc = meanOf(rec.portability_accs);
    }
    return rec;
  });

  const preByIndex = new Map((pre ?? []).map((x) => [x.index, x]));
  let p = 0;
  requests.forEach((r, k) => {
    const n = r.locality?.length ?? 0;
    if (!n) return;
    const mine = locPreds.slice(p, p + n);
    p += n;
    const rec = records[k]!;
    if (!pre) rec.locality_predictions = mine;
    else {
      const before = preByIndex.get(rec.index)?.locality_predictions;
      if (!before) throw new Error(`request ${rec.index}: no pre locality predictions recorded`);
      rec.locality_accs = mine.map((m, j) => finite(localityAgreement(before[j]!, m)));
      rec.locality_acc = meanOf(rec.locality_accs);
    }
  });

  if (opts.exactMatch) {
    const em = generationExactMatch(model, tok, accItems, bs);
    records.forEach((rec, k) => {
      const ref = refs[k]!;
      rec.rewrite_exact = finite(em[ref.rewrite]!);
      if (ref.rephrase.length) rec.rephrase_exact = meanOf(ref.rephrase.map((i) => em[i]!));
    });
  }

  if (opts.counterfact !== false) addCounterFact(model, tok, requests, records, bs);

  if (opts.fluency) {
    const f = fluency(
      model,
      tok,
      requests.map((r) => r.prompt),
      {
        maxLen: opts.fluencyMaxLen ?? 100,
        seeds: records.map((rec) => recordSeed(opts.seed ?? 0, rec.index)),
        ...bs,
      },
    );
    records.forEach((rec, k) => {
      rec.ngram_entropy = f.entropies[k]!;
      rec.fluency_text = f.texts[k]!;
    });
  }
  return records;
}

/** ES/PS/NS and magnitudes for the requests that carry a ground_truth. */
function addCounterFact(
  model: CausalLM,
  tok: Tokenizer,
  requests: readonly EditRequest[],
  records: RecordMetrics[],
  bs: { batchSize: number },
): void {
  const items: { prefix: string; answer: string }[] = [];
  const cases: { k: number; rewrite: number[]; paraphrase: number[]; neighborhood: number[] }[] = [];
  requests.forEach((r, k) => {
    if (r.ground_truth === undefined) return;
    const both = (prefix: string): number => {
      items.push({ prefix, answer: r.target_new }, { prefix, answer: r.ground_truth! });
      return items.length - 2;
    };
    cases.push({
      k,
      rewrite: [both(r.prompt)],
      paraphrase: (r.rephrase_prompts ?? []).map(both),
      neighborhood: neighborhoodProbes(r).map((p) => both(p.prompt)),
    });
  });
  if (!cases.length) return;
  const nll = answerNlls(model, tok, items, bs);
  const pairOf = (i: number) => ({ new: nll[i]!, true: nll[i + 1]! });
  for (const c of cases) {
    const cf = counterfactCase({
      rewrite: c.rewrite.map(pairOf),
      paraphrase: c.paraphrase.map(pairOf),
      neighborhood: c.neighborhood.map(pairOf),
    });
    records[c.k]!.counterfact = {
      es: finite(cf.es),
      ps: finite(cf.ps),
      ns: finite(cf.ns),
      em: finite(cf.em),
      pm: finite(cf.pm),
      nm: finite(cf.nm),
    };
  }
}

/** Means of every scalar metric, and the CounterFact summary. */
export function summarize(records: RecordMetrics[]): MetricSet {
  const keys = [
    'rewrite_acc',
    'rephrase_acc',
    'locality_acc',
    'portability_acc',
    'rewrite_exact',
    'rephrase_exact',
    'ngram_entropy',
  ] as const;
  const means: Record<string, number | null> = {};
  for (const k of keys) if (records.some((r) => r[k] !== undefined)) means[k] = meanOf(records.map((r) => r[k]));
  const set: MetricSet = { records, means };
  const cf = records.filter((r) => r.counterfact).map((r) => r.counterfact!);
  if (cf.length) {
    const nan = (x: number | null): number => x ?? NaN;
    set.counterfact = aggregateCounterFact(
      cf.map((c) => ({ es: nan(c.es), ps: nan(c.ps), ns: nan(c.ns), em: nan(c.em), pm: nan(c.pm), nm: nan(c.nm) })),
    );
  }
  return set;
}

const seconds = (t0: number): number => (Date.now() - t0) / 1000;

/** Pre metrics of every request on the (unedited) model, locality predictions recorded. */
export function evaluatePre(
  model: CausalLM,
  tok: Tokenizer,
  requests: readonly EditRequest[],
  opts: MetricOptions = {},
): MetricSet {
  return summarize(computeMetrics(model, tok, requests, [...requests.keys()], opts));
}

/** Pre metrics only (no edit): an EditingEvaluation with `post` null. */
export function evaluateUnedited(
  model: CausalLM,
  tok: Tokenizer,
  requests: readonly EditRequest[],
  opts: MetricOptions = {},
): EditingEvaluation {
  const t0 = Date.now();
  const pre = evaluatePre(model, tok, requests, opts);
  const s = seconds(t0);
  return {
    method: null,
    evalOrder: 'pre-only',
    batchSize: 1,
    numEdits: 0,
    numRequests: requests.length,
    metricsVersion: EDIT_METRICS_VERSION,
    pre,
    post: null,
    seconds: { pre: s, edit: 0, post: 0, total: s },
  };
}

/**
 * Pre metrics on `unedited`, post metrics on `edited` (an already edited model with the same
 * tokenizer, e.g. saved by `lmedit edit --save`); nothing is edited here.
 */
export function evaluateEditedModel(
  unedited: CausalLM,
  edited: CausalLM,
  tok: Tokenizer,
  requests: readonly EditRequest[],
  opts: MetricOptions & { method?: string | null; batchSize?: number; numEdits?: number } = {},
): EditingEvaluation {
  const t0 = Date.now();
  const pre = evaluatePre(unedited, tok, requests, opts);
  const tPre = seconds(t0);
  const post = summarize(computeMetrics(edited, tok, requests, [...requests.keys()], opts, pre.records));
  const total = seconds(t0);
  return {
    method: opts.method ?? null,
    evalOrder: 'edited-model',
    batchSize: opts.batchSize ?? 1,
    numEdits: opts.numEdits ?? requests.length,
    numRequests: requests.length,
    metricsVersion: EDIT_METRICS_VERSION,
    pre,
    post,
    seconds: { pre: tPre, edit: 0, post: total - tPre, total },
  };
}

export interface EvaluateEditsOptions {
  order: EvalOrder;
  /** requests per edit (default 1) */
  batchSize?: number;
  /** metric settings (the forward-pass batch size is `metrics.batchSize`) */
  metrics?: MetricOptions;
  /** undo every sequential edit at the end, leaving the model as it came (default true) */
  restore?: boolean;
  /** called after each edit with the post records measured so far for it (post-each, single) */
  onEdit?: (info: { index: number; records: RecordMetrics[] }) => void;
  log?: (msg: string) => void;
}

/**
 * Edit with `method` through `runEdits` and measure pre and post metrics under `opts.order`.
 * @example const ev = evaluateEdits(model, rome, requests, hp, { tokenizer }, { order: 'post-each' });
 *          console.log(ev.post!.means.rewrite_acc);
 */
export function evaluateEdits<H>(
  model: CausalLM,
  method: EditMethod<H>,
  requests: readonly EditRequest[],
  hparams: H,
  ctx: EditContext,
  opts: EvaluateEditsOptions,
): EditingEvaluation {
  if (!EVAL_ORDERS.includes(opts.order))
    throw new Error(`evaluation order must be one of ${EVAL_ORDERS.join(', ')}, got "${String(opts.order)}"`);
  if (requests.length === 0) throw new Error('evaluateEdits: no requests');
  const tok = ctx.tokenizer;
  const m = opts.metrics ?? {};
  const t0 = Date.now();
  opts.log?.(`pre metrics of ${requests.length} request(s)`);
  const pre = evaluatePre(model, tok, requests, m);
  const tPre = seconds(t0);
  const bs = opts.batchSize ?? 1;
  const postRecords: RecordMetrics[] = [];
  let postSecs = 0;
  /** post metrics of requests[from, from + n) on the model as it is now */
  const measure = (from: number, n: number): RecordMetrics[] => {
    const t = Date.now();
    const idx = Array.from({ length: n }, (_, j) => from + j);
    const recs = computeMetrics(
      model,
      tok,
      idx.map((i) => requests[i]!),
      idx,
      m,
      pre.records,
    );
    recs.forEach((r) => (r.edit = Math.floor(r.index / bs))); // runEdits cuts consecutive chunks
    postSecs += seconds(t);
    return recs;
  };
  const sequential = opts.order !== 'single';
  let results: EditResult[] = [];
  const tEdit = Date.now();
  try {
    const summary = runEdits(model, method, [...requests], hparams, ctx, {
      sequential,
      batchSize: bs,
      onEdit: ({ index, requests: chunk, result }) => {
        results.push(result);
        if (opts.order === 'post-all') return;
        const recs = measure(index * bs, chunk.length);
        postRecords.push(...recs);
        opts.log?.(`edit ${index}: post metrics of ${chunk.length} request(s)`);
        opts.onEdit?.({ index, records: recs });
      },
    });
    results = summary.results;
    if (opts.order === 'post-all') {
      opts.log?.(`post metrics of ${requests.length} request(s) on the model after ${summary.edits} edit(s)`);
      postRecords.push(...measure(0, requests.length));
    }
    const editSecs = seconds(tEdit) - postSecs;
    const total = seconds(t0);
    return {
      method: method.name,
      evalOrder: opts.order,
      batchSize: bs,
      numEdits: summary.edits,
      numRequests: requests.length,
      metricsVersion: EDIT_METRICS_VERSION,
      pre,
      post: summarize(postRecords.sort((a, b) => a.index - b.index)),
      seconds: { pre: tPre, edit: editSecs, post: postSecs, total },
    };
  } finally {
    // sequential edits saved the weights each found; undo them newest first
    if (sequential && opts.restore !== false) for (const r of [...results].reverse()) if (r.applied) r.restore();
    for (const r of results) r.dispose();
  }
}
