/**
 * The contract of a downstream task (the paper's eight general-ability tests): its data file,
 * its prompts, and two scorers — `paper` (the original scripts, bugs included) and `clean`
 * (corrected metrics). Generation is shared (src/eval/generation.ts); a task only builds prompts
 * and scores text.
 */

export const TASK_NAMES = ['gsm8k', 'rte', 'nq-open', 'boolq', 'mutual', 'samsum', 'conll2003', 'sst2'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** `paper`: the paper's scripts exactly; `clean`: corrected metrics on the generated text only. */
export type ScorerMode = 'paper' | 'clean';
/** Which of the paper's two scripts: before editing (baseline) or after editing. */
export type ScriptVariant = 'before' | 'after';
/** CoNLL-2003 entity types, one prompt each. */
export const ENTITY_TYPES = ['PER', 'LOC', 'ORG', 'MISC'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/** One prompt of a task: one per example, four per CoNLL-2003 block (one per entity type). */
export interface TaskItem {
  /** 0-based example index in the data file (header excluded; CoNLL-2003: the block, -DOCSTART- counted) */
  exampleIndex: number;
  /** CoNLL-2003 only */
  entityType?: EntityType;
  /** the prompt string, byte-identical to the paper's scripts */
  prompt: string;
}

/** A per-item result; fields named as the scorer goldens' `outcome` (JSON-serialisable). */
export type Outcome = Record<string, unknown>;

/**
 * An aggregate: `values` are named as the scorer goldens' `aggregate` (paper mode includes
 * `result_file_tail` and `exception`); `primary` is the value tables report
 * (paper: total_accuracy / acc / em / rouge mean / acc_total; clean: the corrected score), null
 * when undefined (no valid answers, or the script crashed).
 */
export interface Aggregate {
  primary: number | null;
  values: Record<string, unknown>;
}

/**
 * A crash of the original script on one item (e.g. rouge's `ValueError: Hypothesis is empty.`).
 * Paper-mode scorers throw it; callers record it as a crash, never as a number.
 */
export class ScriptCrash extends Error {
  constructor(
    /** Python's rendering, e.g. "ValueError: Hypothesis is empty." */
    readonly pythonError: string,
    /** the script's `predict` string at the moment it crashed */
    readonly predict: string,
  ) {
    super(`the paper's script raises ${pythonError}`);
    this.name = 'ScriptCrash';
  }
}

/**
 * One scoring pass over items in order (state such as ODQA's never-reset `flag` lives here).
 * `score` receives the paper text T (paper mode: cleaned-up decode of pads + prompt + generation,
 * special tokens kept) or the generated text G (clean mode: generation only, special tokens skipped).
 */
export interface ScoringRun {
  score(item: TaskItem, text: string): Outcome;
  /** aggregate over everything scored so far, with the paper's denominators in paper mode */
  aggregate(): Aggregate;
}

export interface CleanOptions {
  /** GSM8K: the template without the gold rationale (not the paper's task) */
  rationale?: boolean;
  /** NQ-open: exact match of G's first line instead of the span rule */
  strict?: boolean;
  /** CoNLL-2003: entity-level micro-F1 instead of recall */
  nerF1?: boolean;
}

/** A task: its data, prompts and both scorers. `E` is the parsed record. */
export interface Task<E = unknown> {
  readonly name: TaskName;
  /** column label of the paper's tables: Reas, NLI, ODQA, CDQA, Dial, Summ, NER, SA */
  readonly label: string;
  /** the general ability it measures: 'Reasoning', 'Natural language inference', ... */
  readonly ability: string;
  /** data file relative to the shared data folder: 'gsm8k/test.jsonl' */
  readonly dataFile: string;
  readonly maxNewTokens: number;
  /** the paper script's hard-coded denominator (null for NER) */
  readonly paperTotal: number | null;
  /**
   * Parse the data file's text. `mode` matters only where parsing differs (RTE: csv.reader in
   * paper mode, literal tabs in clean mode). Errors name the file and the record.
   */
  parse(content: string, file: string, mode: ScorerMode): E[];
  /** The prompts of one example (CoNLL-2003: four, in PER, LOC, ORG, MISC order). */
  items(example: E, index: number, opts?: CleanOptions): TaskItem[];
  /** A paper-mode scoring pass over `examples` (indexed by TaskItem.exampleIndex). */
  paper(examples: readonly E[], variant: ScriptVariant): ScoringRun;
  /** A clean-mode scoring pass. */
  clean(examples: readonly E[], opts?: CleanOptions): ScoringRun;
}
