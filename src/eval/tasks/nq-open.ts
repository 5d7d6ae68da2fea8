/**
 * Open-domain QA: Natural Questions (open) (docs/evaluation.md, "Tasks"). The prompt carries a generated
 * background passage and no answer cue. The paper's script (`test-OpenDomainQA.py`, `-after.py`:
 * the same scoring; the before-edit script writes no newline after its last number) normalises the
 * whole text T and scans it for gold answers with a `flag` that is set by the first multi-word hit
 * and never reset, so its state lives in the {@link ScoringRun}.
 */
import { exampleAt } from './common.js';
import { jsonObject, numpyRound, parseJsonLines, pyFloatRepr, pyRound, stringField } from '../python.js';
import { containsWordSpan, normalizeAnswer } from '../metrics/squad.js';
import { ScriptCrash, type CleanOptions, type Outcome, type ScoringRun, type Task } from './types.js';

export interface NqOpenExample {
  question: string;
  /** gold answers */
  answer: string[];
  /** `output[0]`: the generated background passage shipped with the data (not gold) */
  passage: string;
}

const PAPER_TOTAL = 3610;

/** The script's `ems(prediction, ground_truths)`: `max([...])` raises on an empty gold list. */
function makeEms(golds: readonly string[], predict: string): (s: string) => boolean {
  if (golds.length === 0) throw new ScriptCrash('ValueError: max() arg is an empty sequence', predict);
  const norm = new Set(golds.map(normalizeAnswer));
  return (s) => norm.has(normalizeAnswer(s));
}

/** The longest normalised gold, in UTF-16 units (spans longer than it cannot match). */
function maxGoldLength(golds: readonly string[]): number {
  return Math.max(0, ...golds.map((g) => normalizeAnswer(g).length));
}

/**
 * The script's scan of `words` (its lines 61–78) with the run's `flag`: returns the increment of
 * `exact_match_count`, whether the first/last-word branch `continue`d, and the new flag.
 */
function scan(
  words: readonly string[],
  golds: readonly string[],
  predict: string,
  flag: boolean,
): { hits: number; firstLast: boolean; flag: boolean } {
  const ems = makeEms(golds, predict);
  if (ems(words[0]!) || ems(words[words.length - 1]!)) return { hits: 1, firstLast: true, flag };
  // Every word is a fixed point of normalize_answer (it comes from a normalised text), and so is
  // any space-joined run of them; so ems(span) is a set lookup, and a span longer than every gold
  // cannot match (the inner loop would run on without effect). Guard the assumption anyway.
  const fixed = words.every((w) => normalizeAnswer(w) === w && w !== '');
  const goldSet = new Set(golds.map(normalizeAnswer));
  const maxLen = maxGoldLength(golds);
  const emsSpan = fixed ? (s: string) => goldSet.has(s) : ems;
  let hits = 0;
  let f = flag;
  for (let i = 0; i < words.length - 1; i++) {
    let output = words[i]!;
    if (emsSpan(output)) {
      hits += 1;
      continue;
    }
    for (let j = i + 1; j < words.length; j++) {
      output = `${output} ${words[j]!}`;
      if (fixed && output.length > maxLen) break;
      if (emsSpan(output)) {
        hits += 1;
        f = true;
        break;
      }
    }
    if (f) break;
  }
  return { hits, firstLast: false, flag: f };
}

function paperRun(examples: readonly NqOpenExample[], variant: 'before' | 'after'): ScoringRun {
  let flag = false;
  let count = 0;
  const lengths: number[] = [];
  let crash: ScriptCrash | null = null;
  return {
    score(item, text): Outcome {
      const ex = exampleAt(examples, item.exampleIndex, 'nq-open');
      const parts = text.split('Answer:');
      const predict = normalizeAnswer(parts[parts.length - 1]!.replaceAll('\n', ' '));
      const words = predict.split(' ');
      const flagBefore = flag;
      let r: ReturnType<typeof scan>;
      try {
        r = scan(words, ex.answer, predict, flag);
      } catch (e) {
        if (e instanceof ScriptCrash) crash = e;
        throw e;
      }
      flag = r.flag;
      count += r.hits;
      let appended: number | null = null;
      if (!r.firstLast) {
        appended = predict === '' ? 0 : predict.split(' ').length; // len(predict.split())
        lengths.push(appended);
      }
      return {
        gold: ex.answer,
        predict,
        hits: r.hits,
        flag_before: flagBefore,
        flag_after: flag,
        answer_length_appended: appended,
      };
    },
    aggregate() {
      const base = { exact_match_count: count, flag_final: flag, n_answer_lengths: lengths.length };
      if (crash) {
        return { primary: null, values: { ...base, em: null, lens: null, result_file_tail: null, exception: crash.pythonError } };
      }
      const em = pyRound(count / PAPER_TOTAL, 4);
      // np.mean of an empty list is nan (with a RuntimeWarning); round(nan, 4) stays nan
      const lens = lengths.length === 0 ? NaN : numpyRound(lengths.reduce((a, b) => a + b, 0) / lengths.length, 4);
      const tail = `${pyFloatRepr(em)}\t${pyFloatRepr(lens)}${variant === 'after' ? '\n' : ''}`;
      return {
        primary: em,
        values: { ...base, em, lens: Number.isNaN(lens) ? 'nan' : lens, result_file_tail: tail, exception: null },
      };
    },
  };
}

/** The clean hit rule: a normalised gold as a run of whole words in normalised G (or strict: G's first line). */
function cleanHit(text: string, golds: readonly string[], strict: boolean): { predict: string; hit: boolean } {
  if (strict) {
    const line = text.replace(/^\s+/u, '').split('\n')[0]!;
    const predict = normalizeAnswer(line);
    return { predict, hit: predict !== '' && golds.some((g) => normalizeAnswer(g) === predict) };
  }
  const predict = normalizeAnswer(text);
  return { predict, hit: golds.some((g) => containsWordSpan(predict, normalizeAnswer(g))) };
}

export const nqOpen: Task<NqOpenExample> = {
  name: 'nq-open',
  label: 'ODQA',
  ability: 'Open-domain question answering',
  dataFile: 'nq-open/test-OpenDomainQA.jsonl',
  maxNewTokens: 20,
  paperTotal: PAPER_TOTAL,

  parse(content, file) {
    return parseJsonLines(content, file).map(({ value, line }) => {
      const rec = jsonObject(value, `${file}: line ${line}`);
      const question = stringField(rec, 'question', `${file}: line ${line}`);
      const answer = rec['answer'];
      if (!Array.isArray(answer) || answer.some((a) => typeof a !== 'string')) {
        throw new Error(`${file}: line ${line}: field "answer" must be a list of strings, got ${JSON.stringify(answer)}`);
      }
      const output = rec['output'];
      if (!Array.isArray(output) || output.length === 0 || typeof output[0] !== 'string') {
        throw new Error(
          `${file}: line ${line}: field "output" must be a list whose first element is the passage string, got ${JSON.stringify(output)}`,
        );
      }
      return { question, answer: answer as string[], passage: output[0] };
    });
  },

  items(example, index) {
    return [
      {
        exampleIndex: index,
        prompt: `Refer to the passage below and answer the following question. Passage: ${example.passage} Question: ${example.question}`,
      },
    ];
  },

  paper(examples, variant) {
    return paperRun(examples, variant);
  },

  clean(examples, opts?: CleanOptions): ScoringRun {
    const strict = opts?.strict === true;
    let hits = 0;
    let n = 0;
    return {
      score(item, text) {
        const ex = exampleAt(examples, item.exampleIndex, 'nq-open');
        const { predict, hit } = cleanHit(text, ex.answer, strict);
        n += 1;
        if (hit) hits += 1;
        return { gold: ex.answer, predict, hit: hit ? 1 : 0 };
      },
      aggregate() {
        const score = n > 0 ? hits / n : null;
        return { primary: score, values: { hits, n, score, rule: strict ? 'strict' : 'span' } };
      },
    };
  },
};
