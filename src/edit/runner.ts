/**
 * The four editing settings of the paper over any method: single or sequential editing ×
 * one request (instance) or many (batch) per edit. Single editing restores the model after
 * each edit; sequential editing keeps every edit (the model drifts, which is what the paper
 * measures). A callback sees the model after each edit (for evaluation) before any restore.
 */
import type { CausalLM } from '../models/types.js';
import { methodNeedsSubject } from './registry.js';
import { validateRequest } from './request.js';
import { EditSession, type EditContext, type EditMethod, type EditRequest, type EditResult } from './types.js';

export interface RunOptions {
  /** keep every edit (sequential editing); default false = restore after each edit */
  sequential?: boolean;
  /** requests per edit (default 1); > 1 needs a batchable method */
  batchSize?: number;
  /** called after each edit while it is applied; `index` counts edits from 0 */
  onEdit?: (info: { index: number; requests: EditRequest[]; result: EditResult; model: CausalLM }) => void;
}

export interface RunSummary {
  edits: number;
  requests: number;
  seconds: number;
  /** results of the edits (sequential runs keep their deltas; single runs have been restored) */
  results: EditResult[];
}

/**
 * Run `requests` through `method` in chunks of `batchSize`.
 * @example runEdits(model, rome, requests, hp, { tokenizer }, { sequential: true });
 */
export function runEdits<H>(
  model: CausalLM,
  method: EditMethod<H>,
  requests: EditRequest[],
  hparams: H,
  ctx: EditContext,
  opts: RunOptions = {},
): RunSummary {
  const bs = opts.batchSize ?? 1;
  if (!Number.isInteger(bs) || bs < 1) throw new Error(`batch size must be a positive integer, got ${bs}`);
  if (bs > 1 && !method.batchable)
    throw new Error(`${method.name} edits one request at a time (batch size ${bs} requested); use sequential editing instead`);
  requests.forEach((r, i) => validateRequest(r, `request ${r.case_id ?? i}`, { needsSubject: methodNeedsSubject(method.name) }));
  const t0 = Date.now();
  const results: EditResult[] = [];
  // a sequential run is one session (state carried between its edits) unless the caller holds one
  using own = opts.sequential && !ctx.session ? new EditSession() : null;
  const runCtx = own ? { ...ctx, session: own } : ctx;
  for (let s = 0, index = 0; s < requests.length; s += bs, index++) {
    const chunk = requests.slice(s, s + bs);
    const result = method.apply(model, chunk, hparams, runCtx);
    try {
      opts.onEdit?.({ index, requests: chunk, result, model });
    } finally {
      if (!opts.sequential && result.applied) result.restore();
    }
    results.push(result);
  }
  return { edits: results.length, requests: requests.length, seconds: (Date.now() - t0) / 1000, results };
}
