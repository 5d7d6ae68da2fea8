/**
 * NLI: RTE (docs/evaluation.md, "Tasks"). The paper's scripts (`test-NLI.py`, `-after.py`: identical
 * scoring) read the TSV with `csv.reader` (quoted fields lose their quotes: 69 prompts change),
 * take the text after the last `answer:`, and count `true`/`false` substrings, so an answer holding
 * both words increments two counters. total_accuracy divides by the sum of all counters.
 */
import { cleanAnswerRun, confusionRun, tsvRows } from './common.js';
import { pySplitAt } from '../python.js';
import type { ScoringRun, Task } from './types.js';

export interface RteExample {
  /** the row's own `index` column */
  index: string;
  sentence1: string;
  sentence2: string;
  /** `entailment` or `not_entailment` */
  label: string;
}

const PAPER_TOTAL = 2489;
const FIELDS = 'index, sentence1, sentence2, label';
const LABELS = ['entailment', 'not_entailment'];

export const rte: Task<RteExample> = {
  name: 'rte',
  label: 'NLI',
  ability: 'Natural language inference',
  dataFile: 'rte/test-NLI.tsv',
  maxNewTokens: 1,
  paperTotal: PAPER_TOTAL,

  parse(content, file, mode) {
    return tsvRows(content, file, mode).map(({ fields, line }, i) => {
      // the script reads line[0..3] and ignores any further field; clean mode wants exactly four
      const bad = mode === 'paper' ? fields.length < 4 : fields.length !== 4;
      if (bad)
        throw new Error(`${file}: line ${line} (record ${i}): expected 4 tab-separated fields (${FIELDS}), got ${fields.length}`);
      const [index, sentence1, sentence2, label] = fields as [string, string, string, string];
      if (mode === 'clean' && !LABELS.includes(label)) {
        throw new Error(
          `${file}: line ${line} (record ${i}): label must be entailment or not_entailment, got ${JSON.stringify(label)}`,
        );
      }
      return { index, sentence1, sentence2, label };
    });
  },

  items(example, index) {
    return [{ exampleIndex: index, prompt: `${example.sentence1} entails the ${example.sentence2}. True or False? answer:` }];
  },

  // the before- and after-edit scripts score alike
  paper(examples): ScoringRun {
    return confusionRun(examples, 'rte', PAPER_TOTAL, 'error\n', (ex, text) => {
      const predict = pySplitAt(text, 'answer:', -1);
      const lower = predict.toLowerCase();
      const t = lower.includes('true') ? 1 : 0;
      const f = lower.includes('false') ? 1 : 0;
      // "true" and "false" in one answer increment two counters, as in the script
      const counts =
        !t && !f ? { others: 1 } : ex.label.toLowerCase().includes('not_entailment') ? { FP: t, FN: f } : { TP: t, TN: f };
      return { gold: ex.label, predict, counts };
    });
  },

  clean(examples): ScoringRun {
    return cleanAnswerRun(
      examples,
      'rte',
      (text) => {
        const w = text.trim().toLowerCase();
        return w.startsWith('true') ? 'entailment' : w.startsWith('false') ? 'not_entailment' : null;
      },
      (ex) => ({ shown: ex.label, compare: ex.label }),
    );
  },
};
