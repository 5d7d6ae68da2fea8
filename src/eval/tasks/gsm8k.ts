/**
 * Reasoning: GSM8K (docs/evaluation.md, "Tasks"). The prompt carries the gold rationale; the paper's
 * script (`test-reasoning.py`, `-after.py`: identical scoring) counts an answer correct when the
 * gold string is a substring of the text after the answer cue, over a hard-coded 1319.
 */
import { cleanAnswerRun, exampleAt } from './common.js';
import { jsonObject, parseJsonLines, pyFloatRepr, pySplitAt, stringField } from '../python.js';
import type { CleanOptions, ScoringRun, Task } from './types.js';

export interface Gsm8kExample {
  question: string;
  /** the full gold answer: rationale, then `#### <final>` */
  answer: string;
  /** `answer.split("#### ")[0]`: the rationale with its trailing newline */
  hint: string;
  /** `answer.split("#### ")[1]`: the final answer as written (may contain commas) */
  gold: string;
}

const MARKER = 'Therefore, the answer (arabic numerals) is:';
const PAPER_TOTAL = 1319;
/** the clean scorer's number: optional minus, digits with thousands commas, optional decimals */
const NUMBER = /-?\d[\d,]*(\.\d+)?/;

function numeric(s: string): number {
  const t = s.replaceAll(',', '').trim();
  return t === '' ? NaN : Number(t);
}

export const gsm8k: Task<Gsm8kExample> = {
  name: 'gsm8k',
  label: 'Reas',
  ability: 'Reasoning',
  dataFile: 'gsm8k/test.jsonl',
  maxNewTokens: 5,
  paperTotal: PAPER_TOTAL,

  parse(content, file) {
    return parseJsonLines(content, file).map(({ value, line }) => {
      const rec = jsonObject(value, `${file}: line ${line}`);
      const question = stringField(rec, 'question', `${file}: line ${line}`);
      const answer = stringField(rec, 'answer', `${file}: line ${line}`);
      const parts = answer.split('#### ');
      if (parts.length < 2) throw new Error(`${file}: line ${line}: field "answer" has no "#### " before the final answer`);
      return { question, answer, hint: parts[0]!, gold: parts[1]! };
    });
  },

  items(example, index, opts?: CleanOptions) {
    const hint = opts?.rationale === false ? '' : `${example.hint} `;
    return [
      {
        exampleIndex: index,
        prompt: `Q: ${example.question} A:Let's think step by step. ${hint}Therefore, the answer (arabic numerals) is:`,
      },
    ];
  },

  // the before- and after-edit scripts score alike
  paper(examples): ScoringRun {
    let correct = 0;
    return {
      score(item, text) {
        const ex = exampleAt(examples, item.exampleIndex, 'gsm8k');
        const predict = pySplitAt(text, MARKER, 1);
        const hit = predict.includes(ex.gold) ? 1 : 0;
        correct += hit;
        return { gold: ex.gold, predict, correct: hit };
      },
      aggregate() {
        const acc = correct / PAPER_TOTAL;
        return { primary: acc, values: { correct, acc, result_file_tail: `${pyFloatRepr(acc)}\n`, exception: null } };
      },
    };
  },

  clean(examples): ScoringRun {
    return cleanAnswerRun(
      examples,
      'gsm8k',
      (text) => NUMBER.exec(text)?.[0].replaceAll(',', '') ?? null,
      (ex) => ({ shown: ex.gold, compare: ex.gold }),
      // compared as numbers: "2,125" and "2125.0" are the gold 2125
      (predicted, gold) => !Number.isNaN(numeric(gold)) && numeric(predicted) === numeric(gold),
    );
  },
};
