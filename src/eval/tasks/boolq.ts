/**
 * Closed-domain QA: BoolQ (docs/evaluation.md, "Tasks"). The paper's scripts take the text after the
 * first `answer:`. Validity differs: the before-edit script (`test-ClosedDomainQA.py`) accepts
 * exactly `' yes'`/`' no'` (any case); the after-edit one (`-after.py`) any text containing `yes`
 * or `no` (so `' not'`, `' now'`, `' unknown'` count as "no").
 */
import { cleanAnswerRun, confusionRun } from './common.js';
import { jsonObject, parseJsonLines, pySplitAt, stringField } from '../python.js';
import type { ScoringRun, Task } from './types.js';

export interface BoolqExample {
  question: string;
  passage: string;
  /** the gold answer */
  answer: boolean;
}

const PAPER_TOTAL = 3267;
/** Python's `string.punctuation` */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

export const boolq: Task<BoolqExample> = {
  name: 'boolq',
  label: 'CDQA',
  ability: 'Closed-domain question answering',
  dataFile: 'boolq/test-ClosedDomainQA.jsonl',
  maxNewTokens: 1,
  paperTotal: PAPER_TOTAL,

  parse(content, file) {
    return parseJsonLines(content, file).map(({ value, line }) => {
      const rec = jsonObject(value, `${file}: line ${line}`);
      const question = stringField(rec, 'question', `${file}: line ${line}`);
      const passage = stringField(rec, 'passage', `${file}: line ${line}`);
      const answer = rec['answer'];
      if (answer === undefined) throw new Error(`${file}: line ${line}: missing field "answer"`);
      if (typeof answer !== 'boolean')
        throw new Error(`${file}: line ${line}: field "answer" must be true or false, got ${JSON.stringify(answer)}`);
      return { question, passage, answer };
    });
  },

  items(example, index) {
    return [
      {
        exampleIndex: index,
        prompt: `Please answer the given question based on the passage. The answer should be exact 'yes' or 'no'. passage: ${example.passage} question: ${example.question}. answer:`,
      },
    ];
  },

  paper(examples, variant): ScoringRun {
    // CDQA writes "error" without a newline
    return confusionRun(examples, 'boolq', PAPER_TOTAL, 'error', (ex, text) => {
      const predict = pySplitAt(text, 'answer:', 1);
      const lower = predict.toLowerCase();
      const yes = variant === 'before' ? lower === ' yes' : lower.includes('yes');
      const no = variant === 'before' ? lower === ' no' : lower.includes('no');
      if (!yes && !no) return { gold: ex.answer, predict, counts: { others: 1 } };
      // the scripts' if/elif chain, in its order
      const counts = yes && ex.answer ? { TP: 1 } : no && !ex.answer ? { FN: 1 } : no && ex.answer ? { TN: 1 } : { FP: 1 };
      return { gold: ex.answer, predict, counts };
    });
  },

  clean(examples): ScoringRun {
    return cleanAnswerRun(
      examples,
      'boolq',
      (text) => {
        const w = text.trim().toLowerCase().replace(PUNCTUATION, '').trim();
        return w === 'yes' ? true : w === 'no' ? false : null;
      },
      (ex) => ({ shown: ex.answer, compare: ex.answer }),
    );
  },
};
