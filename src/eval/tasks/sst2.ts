/**
 * Sentiment: SST-2 (docs/evaluation.md, "Tasks"). The paper's scripts (`test-SentimentAnalysis.py`,
 * `-after.py`: identical scoring) read the TSV with `csv.reader`, take the text after the last
 * `answer:`, and count `positive`/`negative` substrings through an if/elif chain (one counter per
 * answer; `int(label)` is evaluated for every valid answer).
 */
import { cleanAnswerRun, confusionRun, tsvRows } from './common.js';
import { pyInt, pySplitAt } from '../python.js';
import type { ScoringRun, Task } from './types.js';

export interface Sst2Example {
  /** lowercased, PTB-tokenised, with a trailing space */
  sentence: string;
  /** `1` positive, `0` negative (as written in the file) */
  label: string;
}

const PAPER_TOTAL = 872;

export const sst2: Task<Sst2Example> = {
  name: 'sst2',
  label: 'SA',
  ability: 'Sentiment analysis',
  dataFile: 'sst2/test-SentimentAnalysis.tsv',
  maxNewTokens: 1,
  paperTotal: PAPER_TOTAL,

  parse(content, file, mode) {
    return tsvRows(content, file, mode).map(({ fields, line }, i) => {
      // the script reads line[0..1] and ignores any further field; clean mode wants exactly two
      const bad = mode === 'paper' ? fields.length < 2 : fields.length !== 2;
      if (bad)
        throw new Error(
          `${file}: line ${line} (record ${i}): expected 2 tab-separated fields (sentence, label), got ${fields.length}`,
        );
      const [sentence, label] = fields as [string, string];
      if (mode === 'clean' && label !== '0' && label !== '1') {
        throw new Error(`${file}: line ${line} (record ${i}): label must be 0 or 1, got ${JSON.stringify(label)}`);
      }
      return { sentence, label };
    });
  },

  items(example, index) {
    return [
      {
        exampleIndex: index,
        prompt: `For each snippet of text,label the sentiment of the text as positive or negative.The answer should be exact 'positive' or 'negative'. text: ${example.sentence} answer:`,
      },
    ];
  },

  // the before- and after-edit scripts score alike
  paper(examples): ScoringRun {
    return confusionRun(examples, 'sst2', PAPER_TOTAL, 'error\n', (ex, text) => {
      const predict = pySplitAt(text, 'answer:', -1);
      const lower = predict.toLowerCase();
      const pos = lower.includes('positive');
      const neg = lower.includes('negative');
      if (!pos && !neg) return { gold: ex.label, predict, counts: { others: 1 } };
      const label = pyInt(ex.label, predict); // ValueError on a non-integer label, as in the script
      // the script's if/elif chain, in its order
      const counts =
        pos && label === 1
          ? { TP: 1 }
          : neg && label === 0
            ? { FN: 1 }
            : neg && label === 1
              ? { TN: 1 }
              : pos && label === 0
                ? { FP: 1 }
                : {};
      return { gold: ex.label, predict, counts };
    });
  },

  clean(examples): ScoringRun {
    return cleanAnswerRun(
      examples,
      'sst2',
      (text) => {
        const w = text.trim().toLowerCase();
        return w.startsWith('positive') ? '1' : w.startsWith('negative') ? '0' : null;
      },
      (ex) => ({ shown: ex.label, compare: ex.label.trim() }),
    );
  },
};
