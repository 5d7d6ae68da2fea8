/**
 * Re-score saved generations without a model: each prediction line names an example and the
 * generated token ids; the task's `paper` or `clean` scorer sees the text its mode defines
 * (docs/evaluation.md, the scorer modes at the top) and one aggregate is computed over exactly
 * the given lines, in order.
 */
import type { Tokenizer } from '../tokenizer/index.js';
import { cleanText, paperText } from './text.js';
import { scoreInOrder } from './score-items.js';
import { ENTITY_TYPES } from './tasks/types.js';
import type { CleanOptions, EntityType, Outcome, ScorerMode, ScriptVariant, Task, TaskItem } from './tasks/types.js';

/** One saved generation (CoNLL-2003: one line per block and entity type). */
export interface PredictionLine {
  example_index: number;
  /** the generated ids (EOS included if it was generated) */
  continuation_ids: number[];
  /** left pads in front of the prompt (paper mode only: they prepend the pad token's text to T) */
  pad_tokens?: number;
  /** CoNLL-2003 only: which of the block's four prompts */
  entity_type?: EntityType;
}

export interface RescoreOptions {
  task: Task;
  mode: ScorerMode;
  variant: ScriptVariant;
  tokenizer: Tokenizer;
  /** the lines (validated here); numbered from 1 in errors unless `lineNumbers` says otherwise */
  predictions: readonly unknown[];
  /** the task's parsed examples (parsed for `mode`: RTE's differ) */
  examples: readonly unknown[];
  /** named in errors; default 'predictions' */
  predictionsFile?: string;
  /** the source line of each prediction (from {@link parsePredictions}) */
  lineNumbers?: readonly number[];
  cleanOptions?: CleanOptions;
}

export interface RescoreCase {
  example_index: number;
  entity_type?: EntityType;
  outcome: Outcome;
}

export interface RescoreResult {
  cases: RescoreCase[];
  /** the task's aggregate values plus `primary`; after a crash: every value null and `exception` set */
  aggregate: Record<string, unknown>;
}

/** Parse a predictions JSONL file (blank lines skipped); errors name the file and line. */
export function parsePredictions(content: string, file: string): { predictions: unknown[]; lineNumbers: number[] } {
  const predictions: unknown[] = [];
  const lineNumbers: number[] = [];
  content.split('\n').forEach((text, i) => {
    if (text.trim() === '') return;
    try {
      predictions.push(JSON.parse(text));
    } catch (e) {
      throw new Error(`${file}: line ${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    lineNumbers.push(i + 1);
  });
  return { predictions, lineNumbers };
}

function validateLine(raw: unknown, where: string, task: Task, nExamples: number, vocabSize: number): PredictionLine {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${where}: expected a JSON object`);
  const rec = raw as Record<string, unknown>;
  const idx = rec['example_index'];
  if (idx === undefined) throw new Error(`${where}: missing example_index`);
  if (typeof idx !== 'number' || !Number.isInteger(idx))
    throw new Error(`${where}: example_index must be an integer, got ${JSON.stringify(idx)}`);
  if (idx < 0 || idx >= nExamples) {
    throw new Error(
      `${where}: example_index ${idx} is out of range (${task.name} has ${nExamples} examples: 0..${nExamples - 1})`,
    );
  }
  // `generated_ids` is what `lmedit eval --out` writes to predictions.jsonl
  const ids = rec['continuation_ids'] ?? rec['generated_ids'];
  if (ids === undefined) throw new Error(`${where}: missing continuation_ids`);
  if (!Array.isArray(ids)) throw new Error(`${where}: continuation_ids must be a list of token ids`);
  ids.forEach((id, k) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new Error(
        `${where}: continuation_ids[${k}] = ${JSON.stringify(id)} is not a token id (integers 0..${vocabSize - 1})`,
      );
    }
  });
  const pad = rec['pad_tokens'];
  if (pad !== undefined && pad !== null && (typeof pad !== 'number' || !Number.isInteger(pad) || pad < 0)) {
    throw new Error(`${where}: pad_tokens must be a non-negative integer, got ${JSON.stringify(pad)}`);
  }
  const type = rec['entity_type'];
  const line: PredictionLine = { example_index: idx, continuation_ids: ids as number[] };
  if (typeof pad === 'number') line.pad_tokens = pad;
  if (task.name === 'conll2003') {
    if (type === undefined || type === null)
      throw new Error(`${where}: missing entity_type (one of ${ENTITY_TYPES.join(', ')}) for conll2003`);
    if (!(ENTITY_TYPES as readonly unknown[]).includes(type)) {
      throw new Error(`${where}: bad entity_type ${JSON.stringify(type)} (one of ${ENTITY_TYPES.join(', ')})`);
    }
    line.entity_type = type as EntityType;
  } else if (type !== undefined && type !== null) {
    throw new Error(`${where}: bad entity_type ${JSON.stringify(type)}: only conll2003 predictions have one`);
  }
  return line;
}

/**
 * Score the lines in order with one scoring pass. A line on which the paper's script would raise
 * gets the outcome `{ predict, raises }`, and the aggregate becomes a crash: `exception` is the
 * first crash's Python error and every other value is null (a crash is never a number).
 */
export function rescore(opts: RescoreOptions): RescoreResult {
  const { task, mode, variant, tokenizer: tok, examples } = opts;
  const file = opts.predictionsFile ?? 'predictions';
  const lines = opts.predictions.map((raw, i) =>
    validateLine(raw, `${file}: line ${opts.lineNumbers?.[i] ?? i + 1}`, task, examples.length, tok.vocabSize),
  );
  const run = mode === 'paper' ? task.paper(examples, variant) : task.clean(examples, opts.cleanOptions);
  const itemCache = new Map<number, TaskItem[]>();
  const items = lines.map((line, i) => {
    let all = itemCache.get(line.example_index);
    if (!all) {
      all = task.items(examples[line.example_index], line.example_index, mode === 'clean' ? opts.cleanOptions : undefined);
      itemCache.set(line.example_index, all);
    }
    const item = line.entity_type === undefined ? all[0] : all.find((it) => it.entityType === line.entity_type);
    if (!item) throw new Error(`${file}: line ${opts.lineNumbers?.[i] ?? i + 1}: ${task.name} has no prompt for this line`);
    return item;
  });
  // paper: the scripts decode the tokenizer's own encoding of the prompt (LLaMA: with its BOS)
  const texts = lines.map((line, i) =>
    mode === 'paper'
      ? paperText(tok, tok.encode(items[i]!.prompt), line.continuation_ids, line.pad_tokens ?? 0)
      : cleanText(tok, line.continuation_ids),
  );
  const { outcomes, aggregate } = scoreInOrder(run, items, texts);
  const cases: RescoreCase[] = lines.map((line, i) =>
    line.entity_type === undefined
      ? { example_index: line.example_index, outcome: outcomes[i]! }
      : { example_index: line.example_index, entity_type: line.entity_type, outcome: outcomes[i]! },
  );
  return { cases, aggregate: { ...aggregate.values, primary: aggregate.primary } };
}
