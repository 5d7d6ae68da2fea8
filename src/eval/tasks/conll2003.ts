/**
 * NER: CoNLL-2003 (docs/evaluation.md, "Tasks"), the dev split with its `-DOCSTART-` blocks. Four prompts
 * per block, one per entity type. The paper's script (`test-NER.py`, `-after.py`: identical
 * scoring) extracts gold entities with an off-by-one scan (an entity runs to the next `O` tag,
 * absorbing adjacent entities of other types, and loses its last token at the end of a block),
 * counts golds that are substrings of the text after `Entity:`, and inflates the MISC total by one
 * for every block without MISC gold. The score is the mean of four recall-like ratios; a type with
 * total 0 raises ZeroDivisionError.
 */
import { exampleAt } from './common.js';
import { pyFloatRepr, pySplitAt } from '../python.js';
import { pySplit, pyStrip } from '../metrics/py-text.js';
import {
  ENTITY_TYPES,
  ScriptCrash,
  type CleanOptions,
  type EntityType,
  type Outcome,
  type ScoringRun,
  type Task,
  type TaskItem,
} from './types.js';

export interface Conll2003Example {
  tokens: string[];
  /** IOB2 NER tags, one per token */
  tags: string[];
  /** 1-based line of the blank line that ends the block */
  line: number;
}

const TYPE_WORD: Record<EntityType, string> = { PER: 'Person', LOC: 'Location', ORG: 'Organization', MISC: 'Miscellaneous' };
const DOCSTART = '-DOCSTART-';

/** The script's sentence text: a space before every token except `,` and `.`, then `[1:]`. */
export function sentenceText(tokens: readonly string[]): string {
  let s = '';
  for (const t of tokens) s += t === ',' || t === '.' ? t : ` ${t}`;
  return s.slice(1);
}

/**
 * The script's gold entities of one type (its `while k < len(labels)` loops): at each `B-X`, m is
 * the first index ≥ k tagged `O` (else the last index); the entity is tokens[k..m−1] joined by
 * spaces; the scan resumes at m+1.
 */
export function paperGold(tokens: readonly string[], tags: readonly string[], type: EntityType): string[] {
  const out: string[] = [];
  const n = tags.length;
  let k = 0;
  while (k < n) {
    let entity = '';
    if (tags[k] === `B-${type}`) {
      let m = k;
      for (; m < n - 1; m++) if (tags[m] === 'O') break;
      // (the Python for-loop leaves m at the 'O' or at the last index)
      while (k < m) {
        entity += ` ${tokens[k]!}`;
        k += 1;
      }
      out.push(entity.slice(1));
      k = m;
    }
    k += 1;
  }
  return out;
}

/** Clean gold: maximal `B-X (I-X)*` runs, tokens joined as in the sentence text. */
export function cleanGold(tokens: readonly string[], tags: readonly string[], type: EntityType): string[] {
  const out: string[] = [];
  let k = 0;
  while (k < tags.length) {
    if (tags[k] === `B-${type}`) {
      let m = k + 1;
      while (m < tags.length && tags[m] === `I-${type}`) m++;
      out.push(sentenceText(tokens.slice(k, m)));
      k = m;
    } else k++;
  }
  return out;
}

function isDocstart(ex: Conll2003Example): boolean {
  return ex.tokens[0] === DOCSTART;
}

function itemType(item: TaskItem): EntityType {
  const t = item.entityType;
  if (t === undefined || !(ENTITY_TYPES as readonly string[]).includes(t)) {
    throw new Error(`conll2003: item of example ${item.exampleIndex} has no entity type (PER, LOC, ORG or MISC)`);
  }
  return t;
}

function paperRun(examples: readonly Conll2003Example[]): ScoringRun {
  const count: Record<EntityType, number> = { PER: 0, LOC: 0, ORG: 0, MISC: 0 };
  const total: Record<EntityType, number> = { PER: 0, LOC: 0, ORG: 0, MISC: 0 };
  let crash: ScriptCrash | null = null;
  return {
    score(item, text): Outcome {
      const ex = exampleAt(examples, item.exampleIndex, 'conll2003');
      const type = itemType(item);
      const gold = paperGold(ex.tokens, ex.tags, type);
      let predict: string;
      try {
        predict = pySplitAt(text, 'Entity:', 1); // IndexError without the marker
      } catch (e) {
        if (e instanceof ScriptCrash) crash = e;
        throw e;
      }
      let dCount = 0;
      let dTotal = 0;
      if (gold.length === 0 && predict.length === 0) {
        dCount += 1;
        dTotal += 1;
      } else if (gold.length !== 0) dTotal += gold.length;
      else if (type === 'MISC' && predict.length !== 0) dTotal += 1; // only MISC has this branch live
      for (const g of gold) if (predict.includes(g)) dCount += 1;
      count[type] += dCount;
      total[type] += dTotal;
      return { gold, predict, count: dCount, total: dTotal };
    },
    aggregate() {
      const values: Record<string, unknown> = {};
      for (const t of ENTITY_TYPES) {
        values[`count_${t.toLowerCase()}`] = count[t];
        values[`total_${t.toLowerCase()}`] = total[t];
      }
      const acc: Partial<Record<EntityType, number>> = {};
      let exception: string | null = crash?.pythonError ?? null;
      for (const t of exception ? [] : ENTITY_TYPES) {
        if (total[t] === 0) {
          exception = 'ZeroDivisionError: division by zero';
          break;
        }
        acc[t] = count[t] / total[t];
      }
      for (const t of ENTITY_TYPES) values[`acc_${t.toLowerCase()}`] = acc[t] ?? null;
      if (exception) return { primary: null, values: { ...values, acc_total: null, result_file_tail: null, exception } };
      const accTotal = (acc.PER! + acc.LOC! + acc.ORG! + acc.MISC!) / 4;
      const tail = [acc.PER!, acc.LOC!, acc.ORG!, acc.MISC!, accTotal].map((v) => `${pyFloatRepr(v)}\n`).join('');
      return { primary: accTotal, values: { ...values, acc_total: accTotal, result_file_tail: tail, exception: null } };
    },
  };
}

/** The clean prediction: G without leading whitespace, cut at its first newline. */
function cleanPredict(text: string): string {
  return text.replace(/^\s+/u, '').split('\n')[0]!;
}

/** Predicted entities for `nerF1`: the prediction split on `,` and `;`, trimmed, empties dropped. */
export function predictedItems(predict: string): string[] {
  return predict
    .split(/[,;]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** True positives: predicted items that equal a gold entity, each gold matched at most once. */
function truePositives(items: readonly string[], gold: readonly string[]): number {
  const left = new Map<string, number>();
  for (const g of gold) left.set(g, (left.get(g) ?? 0) + 1);
  let tp = 0;
  for (const it of items) {
    const c = left.get(it) ?? 0;
    if (c > 0) {
      tp += 1;
      left.set(it, c - 1);
    }
  }
  return tp;
}

function cleanRun(examples: readonly Conll2003Example[], opts?: CleanOptions): ScoringRun {
  const f1Mode = opts?.nerF1 === true;
  const matched: Record<EntityType, number> = { PER: 0, LOC: 0, ORG: 0, MISC: 0 };
  const goldTotal: Record<EntityType, number> = { PER: 0, LOC: 0, ORG: 0, MISC: 0 };
  const predTotal: Record<EntityType, number> = { PER: 0, LOC: 0, ORG: 0, MISC: 0 };
  const tpTotal: Record<EntityType, number> = { PER: 0, LOC: 0, ORG: 0, MISC: 0 };
  let skipped = 0;
  return {
    score(item, text): Outcome {
      const ex = exampleAt(examples, item.exampleIndex, 'conll2003');
      const type = itemType(item);
      if (isDocstart(ex)) {
        skipped += 1;
        return { skipped: true };
      }
      const gold = cleanGold(ex.tokens, ex.tags, type);
      const predict = cleanPredict(text);
      if (f1Mode) {
        const items = predictedItems(predict);
        const tp = truePositives(items, gold);
        goldTotal[type] += gold.length;
        predTotal[type] += items.length;
        tpTotal[type] += tp;
        return { gold, predict, items, tp };
      }
      const m = gold.filter((g) => predict.includes(g)).length;
      matched[type] += m;
      goldTotal[type] += gold.length;
      return { gold, predict, matched: m, total: gold.length };
    },
    aggregate() {
      const values: Record<string, unknown> = { skipped_docstart_items: skipped, metric: f1Mode ? 'f1' : 'recall' };
      const per: number[] = [];
      for (const t of ENTITY_TYPES) {
        const k = t.toLowerCase();
        if (f1Mode) {
          const denom = predTotal[t] + goldTotal[t];
          const f1 = denom > 0 ? (2 * tpTotal[t]) / denom : null;
          values[`tp_${k}`] = tpTotal[t];
          values[`pred_${k}`] = predTotal[t];
          values[`gold_${k}`] = goldTotal[t];
          values[`precision_${k}`] = predTotal[t] > 0 ? tpTotal[t] / predTotal[t] : null;
          values[`recall_${k}`] = goldTotal[t] > 0 ? tpTotal[t] / goldTotal[t] : null;
          values[`f1_${k}`] = f1;
          if (f1 !== null) per.push(f1);
        } else {
          const r = goldTotal[t] > 0 ? matched[t] / goldTotal[t] : null;
          values[`matched_${k}`] = matched[t];
          values[`gold_${k}`] = goldTotal[t];
          values[`recall_${k}`] = r;
          if (r !== null) per.push(r);
        }
      }
      const primary = per.length > 0 ? per.reduce((a, b) => a + b, 0) / per.length : null;
      values['score'] = primary;
      return { primary, values };
    },
  };
}

export const conll2003: Task<Conll2003Example> = {
  name: 'conll2003',
  label: 'NER',
  ability: 'Named entity recognition',
  dataFile: 'conll2003/test-NER.txt',
  maxNewTokens: 10,
  paperTotal: null,

  /**
   * The script's reader: lines as Python reads a text file (`\n`, `\r\n`, `\r`), stripped; a
   * non-empty line must hold exactly `token POS chunk NER`; an empty line ends a block (so two
   * blank lines in a row make an empty block). Text after the last blank line is no block.
   */
  parse(content, file) {
    const lines = content.split(/\r\n|\r|\n/);
    if (lines[lines.length - 1] === '') lines.pop();
    const blocks: Conll2003Example[] = [];
    let tokens: string[] = [];
    let tags: string[] = [];
    lines.forEach((raw, i) => {
      const line = pyStrip(raw);
      if (line !== '') {
        const fields = pySplit(line);
        if (fields.length !== 4) {
          throw new Error(
            `${file}: line ${i + 1}: expected 4 fields (token POS chunk NER), got ${fields.length}: ${JSON.stringify(raw)}`,
          );
        }
        tokens.push(fields[0]!);
        tags.push(fields[3]!);
      } else {
        blocks.push({ tokens, tags, line: i + 1 });
        tokens = [];
        tags = [];
      }
    });
    return blocks;
  },

  items(example, index) {
    const text = sentenceText(example.tokens);
    return ENTITY_TYPES.map((t) => ({
      exampleIndex: index,
      entityType: t,
      prompt: `Please identify ${TYPE_WORD[t]} Entity from the given text. Text: ${text} Entity:`,
    }));
  },

  paper(examples) {
    return paperRun(examples);
  },

  clean(examples, opts) {
    return cleanRun(examples, opts);
  },
};
