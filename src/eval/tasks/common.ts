/**
 * What several tasks share: the example an item points at, the NLI/CDQA/SA scripts' confusion
 * counters and closing lines, the clean one-answer scorer, and TSV rows.
 */
import { pyCsvReader, pyFloatRepr } from '../python.js';
import type { Aggregate, Outcome, ScoringRun } from './types.js';

/** Counters of the NLI, CDQA and SA scripts. */
export interface Confusion {
  TP: number;
  FN: number;
  TN: number;
  FP: number;
  others: number;
}

/**
 * The closing lines of the NLI, CDQA and SA scripts: `error` when every answer was invalid
 * (`others == total`; CDQA writes it without a newline), else accuracy = (TP+FN)/(TP+FN+TN+FP)
 * (ZeroDivisionError when no answer is valid) and total_accuracy = (TP+FN)/(all counters; RTE can
 * count one answer twice). `primary` is total_accuracy (docs/evaluation.md, "Tasks").
 */
export function confusionAggregate(c: Confusion, total: number, errorText: string): Aggregate {
  const counts = { TP: c.TP, FN: c.FN, TN: c.TN, FP: c.FP, others: c.others };
  if (c.others === total) {
    return {
      primary: null,
      values: { ...counts, accuracy: null, total_accuracy: null, result_file_tail: errorText, exception: null },
    };
  }
  const valid = c.TP + c.FN + c.TN + c.FP;
  if (valid === 0) {
    return {
      primary: null,
      values: {
        ...counts,
        accuracy: null,
        total_accuracy: null,
        result_file_tail: null,
        exception: 'ZeroDivisionError: division by zero',
      },
    };
  }
  const accuracy = (c.TP + c.FN) / valid;
  const totalAccuracy = (c.TP + c.FN) / (valid + c.others);
  const tail = `${c.TP}\t${c.FN}\t${c.TN}\t${c.FP}\t${c.others}\n${pyFloatRepr(accuracy)}\t${pyFloatRepr(totalAccuracy)}\n`;
  return {
    primary: totalAccuracy,
    values: { ...counts, accuracy, total_accuracy: totalAccuracy, result_file_tail: tail, exception: null },
  };
}

/**
 * The clean scorers' aggregate for the one-answer tasks: score = correct / n over the items
 * scored (n = the file size on a full run), with the valid-answer rate beside it.
 */
export function cleanAggregate(correct: number, valid: number, n: number): Aggregate {
  const score = n > 0 ? correct / n : null;
  return {
    primary: score,
    values: {
      correct,
      valid,
      n,
      score,
      valid_rate: n > 0 ? valid / n : null,
      accuracy_on_valid: valid > 0 ? correct / valid : null,
    },
  };
}

/** The example an item points at, or an error naming the task and index. */
export function exampleAt<E>(examples: readonly E[], index: number, task: string): E {
  const ex = Number.isInteger(index) ? examples[index] : undefined;
  if (ex === undefined) throw new Error(`${task}: example_index ${index} is out of range (0..${examples.length - 1})`);
  return ex;
}

/**
 * A clean-mode pass that reads one answer per item: `predictOf(G)` gives the answer or null
 * (invalid); an answer is correct when it is `same` as `goldOf(example)` (default ===). Outcome
 * `{ gold, predict, valid, correct }`, aggregate {@link cleanAggregate}.
 */
export function cleanAnswerRun<E, A extends string | number | boolean>(
  examples: readonly E[],
  task: string,
  predictOf: (text: string) => A | null,
  goldOf: (example: E) => { shown: unknown; compare: A | null },
  same: (predicted: A, gold: A) => boolean = (a, b) => a === b,
): ScoringRun {
  let correct = 0;
  let valid = 0;
  let n = 0;
  return {
    score(item, text) {
      const ex = exampleAt(examples, item.exampleIndex, task);
      const predict = predictOf(text);
      const gold = goldOf(ex);
      const hit = predict !== null && gold.compare !== null && same(predict, gold.compare) ? 1 : 0;
      n += 1;
      if (predict !== null) valid += 1;
      correct += hit;
      return { gold: gold.shown, predict, valid: predict !== null, correct: hit };
    },
    aggregate: () => cleanAggregate(correct, valid, n),
  };
}

/**
 * Data rows (header excluded) of a TSV task file with the 1-based line each starts on: Python's
 * csv.reader in paper mode (as the scripts read it), literal tab splitting in clean mode.
 */
export function tsvRows(content: string, file: string, mode: 'paper' | 'clean'): { fields: string[]; line: number }[] {
  if (mode === 'paper') return pyCsvReader(content, '\t', file).slice(1);
  const lines = content.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.slice(1).map((l, i) => ({ fields: l.replace(/\r$/, '').split('\t'), line: i + 2 }));
}

/**
 * A paper-mode pass of the NLI, CDQA and SA scripts: `count` reads one answer (the script's
 * `predict` and the counter it increments, possibly two for RTE); the counters add up and the
 * aggregate is the scripts' closing lines ({@link confusionAggregate}).
 */
export function confusionRun<E>(
  examples: readonly E[],
  task: string,
  total: number,
  errorText: string,
  count: (example: E, text: string) => { gold: unknown; predict: string; counts: Partial<Confusion> },
): ScoringRun {
  const c: Confusion = { TP: 0, FN: 0, TN: 0, FP: 0, others: 0 };
  return {
    score(item, text): Outcome {
      const { gold, predict, counts } = count(exampleAt(examples, item.exampleIndex, task), text);
      const d: Confusion = { TP: 0, FN: 0, TN: 0, FP: 0, others: 0, ...counts };
      for (const k of Object.keys(c) as (keyof Confusion)[]) c[k] += d[k];
      return { gold, predict, ...d };
    },
    aggregate: () => confusionAggregate(c, total, errorText),
  };
}
