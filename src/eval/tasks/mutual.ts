/**
 * Dialogue: MuTual (docs/evaluation.md, "Tasks"). The paper's scripts take the text after the last
 * `the answer is` and count it correct when it contains any of A–D and the gold letter; text with
 * none of A–D is `other`. The after-edit script (`test-dialogue-after.py`) first counts any text
 * containing `Chi` (from the prompt's "Chioces") as other; the before-edit one reads it as "C".
 */
import { cleanAnswerRun, exampleAt } from './common.js';
import { jsonObject, parseJsonLines, pyFloatRepr, pySplitAt, stringField } from '../python.js';
import type { ScoringRun, Task } from './types.js';

export interface MutualExample {
  /** the gold letter, A–D */
  answers: string;
  /** the four options, in A–D order */
  options: [string, string, string, string];
  article: string;
}

const PAPER_TOTAL = 886;

export const mutual: Task<MutualExample> = {
  name: 'mutual',
  label: 'Dial',
  ability: 'Dialogue',
  dataFile: 'mutual/dev.jsonl',
  maxNewTokens: 1,
  paperTotal: PAPER_TOTAL,

  parse(content, file) {
    return parseJsonLines(content, file).map(({ value, line }) => {
      const rec = jsonObject(value, `${file}: line ${line}`);
      const answers = stringField(rec, 'answers', `${file}: line ${line}`);
      const article = stringField(rec, 'article', `${file}: line ${line}`);
      const options = rec['options'];
      if (options === undefined) throw new Error(`${file}: line ${line}: missing field "options"`);
      if (!Array.isArray(options) || options.length !== 4 || !options.every((o) => typeof o === 'string')) {
        throw new Error(`${file}: line ${line}: field "options" must be a list of 4 strings`);
      }
      return { answers, article, options: options as [string, string, string, string] };
    });
  },

  items(example, index) {
    const [a, b, c, d] = example.options;
    return [
      {
        exampleIndex: index,
        prompt: `Q: ${example.article} Which choice is correct? Answer Chioces: (A)${a}(B)${b}(C)${c}(D)${d} A: Among A through D, the answer is`,
      },
    ];
  },

  paper(examples, variant): ScoringRun {
    let correct = 0;
    let other = 0;
    return {
      score(item, text) {
        const ex = exampleAt(examples, item.exampleIndex, 'mutual');
        const predict = pySplitAt(text, 'the answer is', -1);
        let dCorrect = 0;
        let dOther = 0;
        if (variant === 'after' && predict.includes('Chi')) dOther = 1;
        else if (/[ABCD]/.test(predict)) dCorrect = predict.includes(ex.answers) ? 1 : 0;
        else dOther = 1;
        correct += dCorrect;
        other += dOther;
        return { gold: ex.answers, predict, correct: dCorrect, other: dOther };
      },
      aggregate() {
        if (other === PAPER_TOTAL) {
          return { primary: null, values: { correct, other, accuracy: null, result_file_tail: 'error\n', exception: null } };
        }
        const accuracy = correct / PAPER_TOTAL;
        return {
          primary: accuracy,
          values: {
            correct,
            other,
            accuracy,
            result_file_tail: `${correct}\t${other}\t${pyFloatRepr(accuracy)}\n`,
            exception: null,
          },
        };
      },
    };
  },

  clean(examples): ScoringRun {
    return cleanAnswerRun(
      examples,
      'mutual',
      (text) => {
        let t = text.trim();
        if (t.startsWith('(')) t = t.slice(1);
        // a letter standing alone: " Chi" or " All" is a word, not the choice C or A
        return t.length > 0 && 'ABCD'.includes(t[0]!) && !/^[\p{L}\p{N}_]/u.test(t.slice(1)) ? t[0]! : null;
      },
      (ex) => ({ shown: ex.answers, compare: ex.answers }),
    );
  },
};
