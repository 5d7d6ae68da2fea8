/**
 * Request validation and dataset mapping: ZsRE and CounterFact records -> EditRequest, the
 * subject check ROME-family methods need, and the target's leading space (shared/README.md, "Requests").
 */
import { readFileSync } from 'node:fs';
import type { EditRequest, PromptAnswer } from './types.js';

/** Throw a clear error for a request no method can use; `where` names the record. */
export function validateRequest(r: EditRequest, where: string, opts: { needsSubject: boolean }): void {
  for (const key of ['prompt', 'target_new', 'subject', 'ground_truth'] as const) {
    const v: unknown = r[key];
    if (v !== undefined && typeof v !== 'string')
      throw new Error(`${where}: field "${key}" must be a string, got ${JSON.stringify(v) ?? typeof v}`);
    if (typeof v === 'string' && LONE_SURROGATE.test(v))
      throw new Error(`${where}: field "${key}" holds a lone UTF-16 surrogate (not valid text); fix the record's encoding`);
  }
  if (typeof r.prompt !== 'string' || r.prompt.trim() === '') throw new Error(`${where}: empty prompt`);
  if (typeof r.target_new !== 'string' || r.target_new.trim() === '') throw new Error(`${where}: empty target_new`);
  const holes = r.prompt.split('{}').length - 1;
  if (holes > 1) throw new Error(`${where}: the prompt has ${holes} "{}" placeholders; a template takes one (the subject)`);
  if (opts.needsSubject) {
    if (typeof r.subject !== 'string' || r.subject.trim() === '') throw new Error(`${where}: empty subject`);
    if (!r.prompt.includes(r.subject)) {
      throw new Error(`${where}: subject "${r.subject}" does not occur in the prompt "${r.prompt}"`);
    }
  }
}

/** An unpaired UTF-16 surrogate: what a broken encoder leaves, shown as U+FFFD by the tokenizers. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A request field that EasyEdit/ROME records may give as `{"str": "..."}` (CounterFact's
 * `target_new`), as plain text; anything else is returned as it is (and refused by validateRequest).
 */
export function plainText(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as { str?: unknown }).str === 'string')
    return (v as { str: string }).str;
  return v;
}

/** The prompt as a template: the first occurrence of the subject replaced by `{}`. */
export function promptTemplate(r: EditRequest): string {
  const i = r.prompt.indexOf(r.subject);
  if (i < 0) throw new Error(`subject "${r.subject}" does not occur in the prompt "${r.prompt}"`);
  return r.prompt.slice(0, i) + '{}' + r.prompt.slice(i + r.subject.length);
}

/**
 * The target with one leading space (added only when missing). `legacy` reproduces EasyEdit's
 * ROME/FT, which prepends a space whenever the target is not exactly " " (double spaces).
 */
export function spacedTarget(target: string, legacy = false): string {
  if (legacy) return target !== ' ' ? ` ${target}` : target;
  return target.startsWith(' ') ? target : ` ${target}`;
}

function str(rec: Record<string, unknown>, key: string, where: string, required = true): string | undefined {
  const v = rec[key];
  if (typeof v === 'string') return v;
  if (v === undefined && !required) return undefined;
  throw new Error(`${where}: field "${key}" must be a string, got ${JSON.stringify(v)}`);
}

/**
 * A ZsRE record (MEND/EasyEdit format: src, subject, alt, pred, rephrase, loc, loc_ans,
 * portability?) as an EditRequest.
 */
export function zsreToRequest(raw: unknown, index: number, file = 'zsre'): EditRequest {
  const where = `${file} record ${index}`;
  if (raw === null || typeof raw !== 'object') throw new Error(`${where}: not an object`);
  const rec = raw as Record<string, unknown>;
  const locality: PromptAnswer[] = [];
  const loc = str(rec, 'loc', where, false);
  const locAns = str(rec, 'loc_ans', where, false);
  if (loc !== undefined && locAns !== undefined) locality.push({ prompt: loc, ground_truth: locAns });
  const portability: PromptAnswer[] = [];
  const port = rec['portability'];
  if (port && typeof port === 'object' && !Array.isArray(port)) {
    const p = port as Record<string, unknown>;
    if (typeof p['New Question'] === 'string' && typeof p['New Answer'] === 'string') {
      portability.push({ prompt: p['New Question'], ground_truth: p['New Answer'] });
    }
  }
  const rephrase = str(rec, 'rephrase', where, false);
  const r: EditRequest = {
    prompt: str(rec, 'src', where)!,
    subject: str(rec, 'subject', where)!,
    target_new: str(rec, 'alt', where)!,
    case_id: index,
    ...(typeof rec['pred'] === 'string' ? { ground_truth: rec['pred'] } : {}),
    ...(rephrase !== undefined ? { rephrase_prompts: [rephrase] } : {}),
    ...(locality.length ? { locality } : {}),
    ...(portability.length ? { portability } : {}),
  };
  return r;
}

/** A CounterFact record (requested_rewrite with a `{}` prompt, paraphrase and neighborhood prompts). */
export function counterfactToRequest(raw: unknown, index: number, file = 'counterfact'): EditRequest {
  const where = `${file} record ${index}`;
  if (raw === null || typeof raw !== 'object') throw new Error(`${where}: not an object`);
  const rec = raw as Record<string, unknown>;
  const rw = rec['requested_rewrite'] as Record<string, unknown> | undefined;
  if (!rw || typeof rw !== 'object') throw new Error(`${where}: missing requested_rewrite`);
  const subject = str(rw, 'subject', where)!;
  const template = str(rw, 'prompt', where)!;
  if (!template.includes('{}')) throw new Error(`${where}: requested_rewrite.prompt has no {} for the subject`);
  const tn = rw['target_new'] as Record<string, unknown> | undefined;
  const tt = rw['target_true'] as Record<string, unknown> | undefined;
  if (!tn || typeof tn['str'] !== 'string') throw new Error(`${where}: requested_rewrite.target_new.str missing`);
  const paraphrases = Array.isArray(rec['paraphrase_prompts'])
    ? (rec['paraphrase_prompts'] as unknown[]).filter((x): x is string => typeof x === 'string')
    : [];
  const neighborhood = Array.isArray(rec['neighborhood_prompts'])
    ? (rec['neighborhood_prompts'] as unknown[]).filter((x): x is string => typeof x === 'string')
    : [];
  const truth = tt && typeof tt['str'] === 'string' ? tt['str'] : undefined;
  return {
    prompt: template.replace('{}', subject),
    subject,
    target_new: tn['str'],
    case_id: typeof rec['case_id'] === 'number' ? rec['case_id'] : index,
    ...(truth !== undefined ? { ground_truth: truth } : {}),
    ...(paraphrases.length ? { rephrase_prompts: paraphrases } : {}),
    ...(neighborhood.length && truth !== undefined
      ? { locality: neighborhood.map((p) => ({ prompt: p, ground_truth: truth })) }
      : {}),
  };
}

/**
 * An EasyEdit flat record (CounterFact splits in ../shared: prompt with the subject filled in,
 * subject, target_new, ground_truth, rephrase_prompt, locality_prompt, locality_ground_truth).
 */
export function flatToRequest(raw: unknown, index: number, file = 'records'): EditRequest {
  const where = `${file} record ${index}`;
  if (raw === null || typeof raw !== 'object') throw new Error(`${where}: not an object`);
  const rec = raw as Record<string, unknown>;
  const rephrase = str(rec, 'rephrase_prompt', where, false);
  const locP = str(rec, 'locality_prompt', where, false);
  const locA = str(rec, 'locality_ground_truth', where, false);
  const truth = str(rec, 'ground_truth', where, false);
  return {
    prompt: str(rec, 'prompt', where)!,
    subject: str(rec, 'subject', where)!,
    target_new: str(rec, 'target_new', where)!,
    case_id: typeof rec['case_id'] === 'number' || typeof rec['case_id'] === 'string' ? rec['case_id'] : index,
    ...(truth !== undefined ? { ground_truth: truth } : {}),
    ...(rephrase !== undefined ? { rephrase_prompts: [rephrase] } : {}),
    ...(locP !== undefined && locA !== undefined ? { locality: [{ prompt: locP, ground_truth: locA }] } : {}),
  };
}

/** Read a JSON file of ZsRE / CounterFact / EasyEdit records as requests; errors name the file and record. */
export function readRequestsFile(path: string): EditRequest[] {
  let records: unknown;
  try {
    records = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  return recordsToRequests(records, path);
}

/** Map a dataset file's records, detecting ZsRE, ROME CounterFact and EasyEdit flat records by their fields. */
export function recordsToRequests(records: unknown, file: string): EditRequest[] {
  if (!Array.isArray(records)) throw new Error(`${file}: expected a JSON array of records`);
  return records.map((r, i) => {
    const o = (r ?? {}) as Record<string, unknown>;
    if (typeof o !== 'object') throw new Error(`${file} record ${i}: not an object`);
    if ('requested_rewrite' in o) return counterfactToRequest(r, i, file);
    if ('src' in o) return zsreToRequest(r, i, file);
    if ('prompt' in o && 'target_new' in o) return flatToRequest(r, i, file);
    throw new Error(
      `${file} record ${i}: not a ZsRE (src/alt), CounterFact (requested_rewrite) or EasyEdit (prompt/target_new) record`,
    );
  });
}
