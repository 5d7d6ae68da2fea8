/**
 * Summarization: SAMSum (docs/evaluation.md, "Tasks"). The paper's script (`test-summarization.py`,
 * `-after.py`: identical scoring and closing lines) takes the text after the last `DR:`, always
 * cuts its last 13 characters (the length of `<|endoftext|>`), scores 0 when at most one character
 * is left, else the mean F of ROUGE-1/2/L (PyPI `rouge` 1.0.1), over a hard-coded 818. It also
 * sums nltk's sentence BLEU (not a paper metric) and writes both means; `rouge` raising
 * `ValueError: Hypothesis is empty.` (a prediction made of dots) aborts the whole script.
 */
import { exampleAt } from './common.js';
import { jsonObject, pyFloatRepr, stringField } from '../python.js';
import { sentenceBleu } from '../metrics/bleu.js';
import { pyLen, pySlice, pySplit } from '../metrics/py-text.js';
import { RougeError, rougeMeanF, rougeScores, type RougeScores } from '../metrics/rouge.js';
import { ScriptCrash, type Outcome, type ScoringRun, type Task } from './types.js';

export interface SamsumExample {
  id: string;
  /** the reference summary */
  summary: string;
  dialogue: string;
}

const PAPER_TOTAL = 818;
/** special-token texts removed from G by the clean scorer (G normally has none) */
const SPECIAL = ['<|endoftext|>', '</s>', '<s>'];

function rougeFields(s: RougeScores | null): Record<string, unknown> {
  const stat = (x: { r: number; p: number; f: number } | undefined) => (x ? { r: x.r, p: x.p, f: x.f } : null);
  return { rouge_1: stat(s?.rouge1), rouge_2: stat(s?.rouge2), rouge_l: stat(s?.rougeL) };
}

function paperRun(examples: readonly SamsumExample[]): ScoringRun {
  let bleuTotal = 0;
  let rougeTotal = 0;
  let crash: ScriptCrash | null = null;
  return {
    score(item, text): Outcome {
      const ex = exampleAt(examples, item.exampleIndex, 'samsum');
      const parts = text.split('DR:');
      const predict = pySlice(parts[parts.length - 1]!, 0, -13);
      if (pyLen(predict) <= 1) {
        return {
          gold: ex.summary,
          predict,
          rouge_computed: false,
          ...rougeFields(null),
          rouge_score: 0,
          bleu_score_informational: 0,
        };
      }
      const bleu = sentenceBleu([pySplit(ex.summary)], pySplit(predict));
      bleuTotal += bleu; // the script adds BLEU before it calls rouge
      let scores: RougeScores;
      try {
        scores = rougeScores(predict, ex.summary);
      } catch (e) {
        if (e instanceof RougeError) {
          crash = new ScriptCrash(e.pythonError, predict);
          throw crash;
        }
        throw e;
      }
      const rouge = rougeMeanF(scores);
      rougeTotal += rouge;
      return {
        gold: ex.summary,
        predict,
        rouge_computed: true,
        ...rougeFields(scores),
        rouge_score: rouge,
        bleu_score_informational: bleu,
      };
    },
    aggregate() {
      const base = { rouge_score_total: rougeTotal, bleu_score_total_informational: bleuTotal };
      if (crash) {
        return {
          primary: null,
          values: { ...base, rouge_mean_over_818: null, result_file_tail: null, exception: crash.pythonError },
        };
      }
      const mean = rougeTotal / PAPER_TOTAL;
      const tail = `${pyFloatRepr(bleuTotal / PAPER_TOTAL)}\t${pyFloatRepr(mean)}\n`;
      return { primary: mean, values: { ...base, rouge_mean_over_818: mean, result_file_tail: tail, exception: null } };
    },
  };
}

export const samsum: Task<SamsumExample> = {
  name: 'samsum',
  label: 'Summ',
  ability: 'Summarization',
  dataFile: 'samsum/test-summarization.json',
  maxNewTokens: 25,
  paperTotal: PAPER_TOTAL,

  parse(content, file) {
    let data: unknown;
    try {
      data = JSON.parse(content);
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(data)) throw new Error(`${file}: expected a JSON array of {id, summary, dialogue} records`);
    return data.map((rec: unknown, i) => {
      const where = `${file}: record ${i}`;
      const r = jsonObject(rec, where);
      const id = r['id'] === undefined ? String(i) : String(r['id']);
      return { id, summary: stringField(r, 'summary', where), dialogue: stringField(r, 'dialogue', where) };
    });
  },

  items(example, index) {
    return [{ exampleIndex: index, prompt: `${example.dialogue}\nTL;DR:` }];
  },

  paper(examples) {
    return paperRun(examples);
  },

  clean(examples): ScoringRun {
    let total = 0;
    let n = 0;
    let empty = 0;
    let noSentence = 0;
    return {
      score(item, text) {
        const ex = exampleAt(examples, item.exampleIndex, 'samsum');
        let predict = text;
        for (const s of SPECIAL) predict = predict.split(s).join('');
        predict = predict.trim();
        n += 1;
        let scores: RougeScores | null = null;
        if (predict === '') empty += 1;
        else {
          try {
            scores = rougeScores(predict, ex.summary);
          } catch (e) {
            if (!(e instanceof RougeError)) throw e;
            noSentence += 1; // only dots: the package raises, lmedit scores 0
          }
        }
        const score = scores ? rougeMeanF(scores) : 0;
        total += score;
        return { gold: ex.summary, predict, rouge_computed: scores !== null, ...rougeFields(scores), rouge_score: score };
      },
      aggregate() {
        const score = n > 0 ? total / n : null;
        return {
          primary: score,
          values: { rouge_score_total: total, n, score, empty_predictions: empty, no_sentence_predictions: noSentence },
        };
      },
    };
  },
};
