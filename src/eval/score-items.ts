/** Scoring a sequence of items with one scoring pass, crashes of the paper's scripts included. */
import { ScriptCrash, type Aggregate, type Outcome, type ScoringRun, type TaskItem } from './tasks/types.js';

/**
 * Score items in order. An item on which the paper's script raises gets the outcome
 * `{ predict, raises }`, and the aggregate becomes the crash (the script stops there): `exception`
 * is the first crash's Python error and every other value is null, never a number.
 */
export function scoreInOrder(
  run: ScoringRun,
  items: readonly TaskItem[],
  texts: readonly string[],
): { outcomes: Outcome[]; crashes: number; aggregate: Aggregate } {
  let firstCrash: ScriptCrash | null = null;
  let crashes = 0;
  const outcomes = items.map((item, i) => {
    try {
      return run.score(item, texts[i]!);
    } catch (e) {
      if (!(e instanceof ScriptCrash)) throw e;
      crashes++;
      firstCrash ??= e;
      return { predict: e.predict, raises: e.pythonError };
    }
  });
  const crash = firstCrash as ScriptCrash | null; // assigned inside the callback
  const agg = run.aggregate();
  const aggregate = crash
    ? {
        primary: null,
        values: { ...Object.fromEntries(Object.keys(agg.values).map((k) => [k, null])), exception: crash.pythonError },
      }
    : agg;
  return { outcomes, crashes, aggregate };
}
