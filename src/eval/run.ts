/**
 * Evaluate a model on downstream tasks: pick the examples (all, or a seeded subset), build the
 * paper's prompts, generate greedily in batches, and score in `paper` and/or `clean` mode.
 * Returns one result per (task, mode) and one prediction record per prompt.
 */
import type { CausalLM } from '../models/index.js';
import * as T from '../tensor/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { loadTaskExamples } from './data.js';
import { generateBatched, type ContextPolicy, type Generation } from './generation.js';
import { cleanText, paperText } from './text.js';
import { scoreInOrder } from './score-items.js';
import {
  type CleanOptions,
  type Outcome,
  type ScorerMode,
  type ScriptVariant,
  type Task,
  type TaskItem,
  type TaskName,
} from './tasks/types.js';

export type ScorerChoice = ScorerMode | 'both';

export interface TaskEvalOptions {
  /** examples per task: a seeded subset, the same every time (default: all) */
  limit?: number;
  /** seed of the subset (default 0) */
  seed?: number;
  scorer?: ScorerChoice;
  /** which of the paper's scripts (default `before`; studies pass `after` for edited models) */
  variant?: ScriptVariant;
  batchSize?: number;
  contextPolicy?: ContextPolicy;
  /** data files by task (default: the shared copies) */
  dataFiles?: Partial<Record<TaskName, string>>;
  /** data already read, by task (e.g. converted from the hub's parquet): the file's text and where it came from */
  dataContent?: Partial<Record<TaskName, { content: string; source: string }>>;
  clean?: CleanOptions;
  /** progress over all prompts of all tasks (`total`: distinct prompts to generate) */
  onProgress?: (p: { task: TaskName; done: number; total: number; generatedTokens: number }) => void;
}

/** A task's score in one mode. */
export interface TaskResult {
  task: TaskName;
  mode: ScorerMode;
  /** paper mode: which script */
  variant: ScriptVariant | null;
  /** examples scored (blocks for CoNLL-2003) and prompts generated */
  examples: number;
  prompts: number;
  /** null = the whole file */
  limit: number | null;
  seed: number;
  /**
   * The reported value (paper: the script's value with its hard-coded denominator; clean: the
   * corrected score); null when undefined or when the script crashed.
   */
  primary: number | null;
  /**
   * Paper mode on a subset: `primary` rescaled from the script's hard-coded total to the subset
   * size (comparable across subset sizes); equal to `primary` on the whole file.
   */
  primaryOnSubset: number | null;
  /** the aggregate's fields, named as the scripts name them */
  values: Record<string, unknown>;
  /** items on which the paper's script raises (the script would abort the whole run) */
  crashes: number;
  /** prompts shortened or skipped by the context policy */
  truncatedPrompts: number;
  skippedPrompts: number;
  generatedTokens: number;
  seconds: number;
}

/** One generated prompt, with its outcome per mode. */
export interface PredictionRecord {
  task: TaskName;
  example_index: number;
  entity_type?: string;
  prompt_ids: number[];
  generated_ids: number[];
  /** G: the generation, special tokens skipped */
  text: string;
  finish_reason: Generation['finishReason'];
  truncated: boolean;
  /** outcome per mode; `predict` is the text the scorer parsed */
  outcomes: Partial<Record<ScorerMode, Outcome>>;
}

/** `n` distinct indices of [0, total), chosen by a seeded shuffle, in ascending (file) order. */
export function seededSubset(total: number, n: number, seed: number): number[] {
  const idx = Array.from({ length: total }, (_, i) => i);
  if (n >= total) return idx;
  const rng = new T.Rng(seed);
  for (let i = 0; i < n; i++) {
    const j = i + rng.nextInt(total - i);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, n).sort((a, b) => a - b);
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

/**
 * The paper's primary value with the subset size in place of the script's hard-coded total
 * (e.g. GSM8K correct/n instead of correct/1319). The NLI, CDQA and SA scripts already divide
 * by the counters they saw, and NER has no hard-coded total.
 */
export function paperValueOnSubset(
  task: TaskName,
  agg: { primary: number | null; values: Record<string, unknown> },
  n: number,
): number | null {
  if (agg.primary === null) return null;
  const v = agg.values;
  switch (task) {
    case 'gsm8k':
    case 'mutual':
      return num(v['correct']) / n;
    case 'nq-open':
      return num(v['exact_match_count']) / n;
    case 'samsum':
      return num(v['rouge_score_total']) / n;
    default:
      return agg.primary;
  }
}

interface Prepared {
  task: Task;
  modes: ScorerMode[];
  examples: Partial<Record<ScorerMode, unknown[]>>;
  indices: number[];
  items: Partial<Record<ScorerMode, TaskItem[]>>;
}

function prepare(task: Task, modes: ScorerMode[], opts: TaskEvalOptions): Prepared {
  const examples: Prepared['examples'] = {};
  const items: Prepared['items'] = {};
  let indices: number[] | null = null;
  for (const mode of modes) {
    const given = opts.dataContent?.[task.name];
    const ex = given
      ? task.parse(given.content, given.source, mode)
      : loadTaskExamples(task, mode, opts.dataFiles?.[task.name]).examples;
    examples[mode] = ex;
    indices ??= opts.limit !== undefined ? seededSubset(ex.length, opts.limit, opts.seed ?? 0) : ex.map((_, i) => i);
    items[mode] = indices.flatMap((i) => task.items(ex[i], i, opts.clean));
  }
  return { task, modes, examples, indices: indices ?? [], items };
}

/**
 * Evaluate `tasks` on a model.
 * @example const { results } = evaluateTasks(model, tok, [TASKS.sst2], { limit: 20, scorer: 'both' });
 */
export function evaluateTasks(
  model: CausalLM,
  tok: Tokenizer,
  tasks: readonly Task[],
  opts: TaskEvalOptions = {},
): { results: TaskResult[]; predictions: PredictionRecord[] } {
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1))
    throw new Error(`limit must be a positive integer, got ${opts.limit}`);
  const scorer = opts.scorer ?? 'both';
  const modes: ScorerMode[] = scorer === 'both' ? ['paper', 'clean'] : [scorer];
  const variant = opts.variant ?? 'before';
  const prepared = tasks.map((t) => prepare(t, modes, opts));
  // modes share prompts except where parsing differs (RTE's csv quoting): generate each distinct prompt once
  const uniques = prepared.map((p) => {
    const unique = new Map<string, number>();
    for (const mode of modes) for (const it of p.items[mode]!) if (!unique.has(it.prompt)) unique.set(it.prompt, unique.size);
    return unique;
  });
  const total = uniques.reduce((s, u) => s + u.size, 0);
  const results: TaskResult[] = [];
  const predictions: PredictionRecord[] = [];
  let before = 0;
  for (const [k, p] of prepared.entries()) {
    const t0 = Date.now();
    const unique = uniques[k]!;
    const promptTexts = [...unique.keys()];
    const gens = generateBatched(
      model,
      promptTexts.map((s) => tok.encode(s)),
      {
        maxNewTokens: p.task.maxNewTokens,
        ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
        ...(opts.contextPolicy ? { contextPolicy: opts.contextPolicy } : {}),
        onProgress: (done, _total, generatedTokens) =>
          opts.onProgress?.({ task: p.task.name, done: before + done, total, generatedTokens }),
      },
    );
    before += promptTexts.length;
    const seconds = (Date.now() - t0) / 1000;
    const records = new Map<string, PredictionRecord>();
    for (const mode of modes) {
      const items = p.items[mode]!;
      const itemGens = items.map((it) => gens[unique.get(it.prompt)!]!);
      const texts = itemGens.map((g) =>
        mode === 'paper' ? paperText(tok, g.promptIds, g.generatedIds) : cleanText(tok, g.generatedIds),
      );
      const run = mode === 'paper' ? p.task.paper(p.examples[mode]!, variant) : p.task.clean(p.examples[mode]!, opts.clean);
      const { outcomes, crashes, aggregate } = scoreInOrder(run, items, texts);
      items.forEach((it, i) => {
        const key = `${it.exampleIndex}/${it.entityType ?? ''}`;
        const g = itemGens[i]!;
        let rec = records.get(key);
        if (!rec) {
          rec = {
            task: p.task.name,
            example_index: it.exampleIndex,
            ...(it.entityType ? { entity_type: it.entityType } : {}),
            prompt_ids: g.promptIds,
            generated_ids: g.generatedIds,
            text: cleanText(tok, g.generatedIds),
            finish_reason: g.finishReason,
            truncated: g.truncated,
            outcomes: {},
          };
          records.set(key, rec);
        }
        rec.outcomes[mode] = outcomes[i]!;
      });
      results.push({
        task: p.task.name,
        mode,
        variant: mode === 'paper' ? variant : null,
        examples: p.indices.length,
        prompts: items.length,
        limit: opts.limit ?? null,
        seed: opts.seed ?? 0,
        primary: aggregate.primary,
        primaryOnSubset: mode === 'paper' ? paperValueOnSubset(p.task.name, aggregate, p.indices.length) : aggregate.primary,
        values: aggregate.values,
        crashes,
        truncatedPrompts: itemGens.filter((g) => g.truncated && !g.skipped).length,
        skippedPrompts: itemGens.filter((g) => g.skipped).length,
        generatedTokens: itemGens.reduce((s, g) => s + g.generatedIds.length, 0),
        seconds,
      });
    }
    predictions.push(...records.values());
  }
  return { results, predictions };
}
