/**
 * Keys and values at the subject's lookup token: the input (k) and output (v) of the rewrite
 * module, read from batched right-padded forwards, and ROME's / MEMIT's template averaging.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import { Trace } from '../../models/hooks.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { EditRequest } from '../types.js';
import {
  fullText,
  promptEncoding,
  splitTemplate,
  subjectIndex,
  type FactToken,
  type SubjectIndexRule,
  type SubjectPrompt,
} from './subject-index.js';

/** One tokenised prompt and the position read/edited in it. */
export interface LookupRow {
  ids: number[];
  idx: number;
}

/** The request prompt around its subject (first occurrence). */
export function requestParts(r: EditRequest): SubjectPrompt {
  const i = r.prompt.indexOf(r.subject);
  if (i < 0 || r.subject === '') throw new Error(`subject "${r.subject}" does not occur in the prompt "${r.prompt}"`);
  return { pre: r.prompt.slice(0, i), subject: r.subject, post: r.prompt.slice(i + r.subject.length) };
}

/**
 * `template.format(prompt)` with the subject filled in and `suffix` appended, kept split around
 * the subject for the index rules.
 * @example inContext('The sky. {}', parts) // 'The sky. ' + 'LeBron James' + ' plays the sport of'
 */
export function inContext(template: string, prompt: SubjectPrompt, suffix = ''): SubjectPrompt {
  const t = splitTemplate(template, prompt.subject);
  return { pre: t.pre + prompt.pre, subject: prompt.subject, post: prompt.post + t.post + suffix };
}

/** Tokenise prompts and find each lookup index. */
export function lookupRows(
  tok: Tokenizer,
  prompts: readonly SubjectPrompt[],
  factToken: FactToken,
  rule: SubjectIndexRule,
): LookupRow[] {
  const enc = promptEncoding(tok);
  return prompts.map((p) => ({ ids: tok.encode(fullText(p), enc), idx: subjectIndex(tok, p, factToken, rule) }));
}

/** Right-pad rows into int32 ids [B, L] (pads come after every real token, so causal attention never sees them). */
export function rightPad(rows: readonly (readonly number[])[], pad = 0): Tensor {
  const L = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * L).fill(pad);
  rows.forEach((r, b) => ids.set(r, b * L));
  return T.tensor(ids, [rows.length, L], 'int32');
}

/** Flat row indices b·L + idx_b of a padded [B, L] batch. */
export function flatRows(idxs: readonly number[], L: number, offset = 0): Tensor {
  return T.tensor(
    Int32Array.from(idxs, (i, b) => (offset + b) * L + i),
    [idxs.length],
    'int32',
  );
}

export interface ReadSpec {
  /** modules whose input to read at the lookup token */
  inputs?: readonly string[];
  /** modules whose output to read */
  outputs?: readonly string[];
  /** the last module needed: the forward stops after it */
  stopAfter: string;
  /** rows per forward (default 64) */
  batchSize?: number;
}

/**
 * Inputs/outputs of modules at each row's lookup token, without gradients: name → [n, dim]
 * (caller owns the tensors).
 */
export function readAt(
  model: CausalLM,
  rows: readonly LookupRow[],
  spec: ReadSpec,
): { inputs: Map<string, Tensor>; outputs: Map<string, Tensor> } {
  const bs = spec.batchSize ?? 64;
  const ins = spec.inputs ?? [];
  const outs = spec.outputs ?? [];
  const parts = { inputs: new Map<string, Tensor[]>(), outputs: new Map<string, Tensor[]>() };
  for (const n of ins) parts.inputs.set(n, []);
  for (const n of outs) parts.outputs.set(n, []);
  T.noGrad(() => {
    for (let s = 0; s < rows.length; s += bs) {
      const chunk = rows.slice(s, s + bs);
      const trace = new Trace({ retainInput: ins, retainOutput: outs, stopAfter: spec.stopAfter });
      T.tidy(() => {
        const ids = rightPad(chunk.map((r) => r.ids));
        const L = ids.shape[1]!;
        const out = model.forward({ ids, trace, logits: 'none' });
        out.hidden?.dispose();
        const sel = flatRows(
          chunk.map((r) => r.idx),
          L,
        );
        const pick = (t: Tensor): Tensor => T.keep(T.indexSelect(T.reshape(T.contiguous(t), [chunk.length * L, -1]), sel)); // [b, dim]
        for (const n of ins) parts.inputs.get(n)!.push(pick(trace.input(n)));
        for (const n of outs) parts.outputs.get(n)!.push(pick(trace.output(n)));
      });
      trace.dispose();
    }
  });
  const join = (m: Map<string, Tensor[]>): Map<string, Tensor> => {
    const r = new Map<string, Tensor>();
    for (const [n, ts] of m) {
      r.set(n, ts.length === 1 ? ts[0]! : T.keep(T.noGrad(() => T.tidy(() => T.concat(ts, 0)))));
      if (ts.length > 1) ts.forEach((t) => t.dispose());
    }
    return r;
  };
  return { inputs: join(parts.inputs), outputs: join(parts.outputs) };
}

/**
 * Mean over consecutive blocks of rows: x [n·m, d] → [n, d] (ROME: m templates per request).
 * With `groups` (sizes summing to m) the mean is taken within each group first, then across
 * groups (MEMIT's compute_ks), so a group of one template weighs as much as a group of five.
 */
export function templateMean(x: Tensor, n: number, groups?: readonly number[]): Tensor {
  return T.noGrad(() =>
    T.tidy(() => {
      const m = x.shape[0]! / n;
      if (!Number.isInteger(m)) throw new Error(`templateMean: ${x.shape[0]} rows are not ${n} blocks`);
      const sizes = groups ?? [m];
      if (sizes.reduce((a, b) => a + b, 0) !== m)
        throw new Error(`templateMean: group sizes ${sizes.join('+')} do not add up to ${m}`);
      const per: Tensor[] = [];
      for (let r = 0; r < n; r++) {
        let start = r * m;
        const means = sizes.map((g) => {
          const mu = T.mean(T.narrow(x, 0, start, start + g), 0); // [d]
          start += g;
          return mu;
        });
        per.push(means.length === 1 ? means[0]! : T.mean(T.stack(means, 0), 0));
      }
      return T.stack(per, 0); // [n, d]
    }),
  );
}
