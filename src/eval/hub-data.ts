/**
 * The tasks' datasets in their Hugging Face hub parquet form, for users who have the network but
 * not the paper's files. A parquet file (downloaded through the hub cache, or local) is read with
 * hyparquet and rewritten in the paper's file format, so the task parsers, prompts and scorers
 * stay the same code.
 *
 * Hub copies differ from the paper's files in known ways (listed per source below); results on
 * them are labelled with their source and are not the paper's numbers.
 */
import { readFileSync } from 'node:fs';
import { parquetReadObjects } from 'hyparquet';
import { resolveHubFile, type ResolveModelOptions } from '../io/hf-hub.js';
import type { TaskName } from './tasks/types.js';

type Row = Record<string, unknown>;

export interface HubSource {
  repo: string;
  file: string;
  revision?: string;
  /** how this copy differs from the paper's file */
  differences: string;
}

/** Default hub sources (dataset repos and parquet paths as the hub lays them out). */
export const HUB_SOURCES: Partial<Record<TaskName, HubSource>> = {
  gsm8k: { repo: 'openai/gsm8k', file: 'main/test-00000-of-00001.parquet', differences: 'none known (1319 rows)' },
  rte: {
    repo: 'nyu-mll/glue',
    file: 'rte/train-00000-of-00001.parquet',
    differences: 'the paper drops GLUE idx 2164; so does lmedit',
  },
  boolq: {
    repo: 'google/boolq',
    file: 'data/validation-00000-of-00001.parquet',
    differences: 'no `title` column (unused by the prompt)',
  },
  sst2: { repo: 'nyu-mll/glue', file: 'sst2/validation-00000-of-00001.parquet', differences: 'none known (872 rows)' },
  samsum: {
    repo: 'Samsung/samsum',
    file: 'samsum/test/0000.parquet',
    revision: 'refs/convert/parquet',
    differences: '819 rows; the paper has 818',
  },
  conll2003: {
    repo: 'eriktks/conll2003',
    file: 'conll2003/validation/0000.parquet',
    revision: 'refs/convert/parquet',
    differences: 'no -DOCSTART- blocks (3250 blocks, the paper 3466), which changes paper-mode MISC totals',
  },
};

/** Tasks whose paper data has no hub equivalent, and why. */
export const NO_HUB_SOURCE: Partial<Record<TaskName, string>> = {
  'nq-open':
    "the paper's prompts contain a generated background passage that ships only with the paper's data (nq_open on the hub has questions and answers only)",
  mutual: "the paper's MuTual files (dev_{i}.txt) have no parquet copy on the hub",
};

const NER_TAGS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC'];

function field(row: Row, names: readonly string[], where: string): unknown {
  for (const n of names) if (n in row) return row[n];
  throw new Error(`${where}: no column ${names.map((n) => `"${n}"`).join(' or ')}`);
}

function text(row: Row, names: readonly string[], where: string): string {
  const v = field(row, names, where);
  if (typeof v !== 'string') throw new Error(`${where}: column "${names[0]}" is not a string`);
  return v;
}

/** A string column written into a TSV line: a tab or newline in it would split the row. */
function tsvText(row: Row, names: readonly string[], where: string): string {
  const v = text(row, names, where);
  if (/[\t\n]/.test(v)) throw new Error(`${where}: a tab or newline inside "${names[0]}" cannot be written as a TSV field`);
  return v;
}

function int(row: Row, names: readonly string[], where: string): number {
  const v = field(row, names, where);
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new Error(`${where}: column "${names[0]}" is not an integer`);
  return n;
}

/**
 * Rows of a task's parquet file in the paper's file format (JSONL, TSV, JSON or CoNLL text).
 * Column names may be the hub's or the paper's.
 */
export function rowsToTaskFile(task: TaskName, rows: readonly Row[], source: string): string {
  const where = (i: number): string => `${source} row ${i}`;
  switch (task) {
    case 'gsm8k':
      return (
        rows
          .map((r, i) => JSON.stringify({ question: text(r, ['question'], where(i)), answer: text(r, ['answer'], where(i)) }))
          .join('\n') + '\n'
      );
    case 'boolq':
      return (
        rows
          .map((r, i) => {
            const a = field(r, ['answer', 'label'], where(i));
            const answer = typeof a === 'boolean' ? a : Number(a) === 1;
            return JSON.stringify({
              question: text(r, ['question'], where(i)),
              title: 'title' in r ? String(r['title']) : '',
              answer,
              passage: text(r, ['passage'], where(i)),
            });
          })
          .join('\n') + '\n'
      );
    case 'rte': {
      const lines = ['index\tsentence1\tsentence2\tlabel'];
      let k = 0;
      rows.forEach((r, i) => {
        const idx = 'idx' in r ? int(r, ['idx'], where(i)) : i;
        if (idx === 2164 && 'idx' in r) return; // the paper's file omits GLUE RTE train idx 2164
        const l = field(r, ['label'], where(i));
        const label = typeof l === 'string' ? l : Number(l) === 0 ? 'entailment' : 'not_entailment';
        lines.push([k++, tsvText(r, ['sentence1'], where(i)), tsvText(r, ['sentence2'], where(i)), label].join('\t'));
      });
      return lines.join('\n') + '\n';
    }
    case 'sst2':
      return (
        ['sentence\tlabel', ...rows.map((r, i) => `${tsvText(r, ['sentence'], where(i))}\t${int(r, ['label'], where(i))}`)].join(
          '\n',
        ) + '\n'
      );
    case 'samsum':
      return JSON.stringify(
        rows.map((r, i) => ({
          id: String(field(r, ['id'], where(i))),
          summary: text(r, ['summary'], where(i)),
          dialogue: text(r, ['dialogue'], where(i)),
        })),
      );
    case 'conll2003':
      return rows
        .map((r, i) => {
          const tokens = field(r, ['tokens'], where(i));
          const tags = field(r, ['ner_tags'], where(i));
          if (!Array.isArray(tokens) || !Array.isArray(tags) || tokens.length !== tags.length) {
            throw new Error(`${where(i)}: "tokens" and "ner_tags" must be lists of equal length`);
          }
          // POS and chunk columns are not read by the task; 'X' keeps the 4-column layout
          return (
            tokens
              .map((t, j) => `${String(t)} X X ${typeof tags[j] === 'string' ? tags[j] : (NER_TAGS[Number(tags[j])] ?? 'O')}`)
              .join('\n') + '\n\n'
          );
        })
        .join('');
    default:
      throw new Error(`${task}: ${NO_HUB_SOURCE[task] ?? 'no parquet mapping'}`);
  }
}

/** Read every row of a parquet file (INT64 values come back as numbers). */
export async function readParquetRows(path: string): Promise<Row[]> {
  const buf = readFileSync(path);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  let rows: Row[];
  try {
    rows = (await parquetReadObjects({ file })) as Row[];
  } catch (e) {
    throw new Error(`${path}: not a readable parquet file (${(e as Error).message})`);
  }
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
}

/** A task's data from a local parquet file, in the paper's file format. */
export async function taskFileFromParquet(task: TaskName, path: string): Promise<string> {
  return rowsToTaskFile(task, await readParquetRows(path), path);
}

/** A task's data from its default hub source (downloaded into the HF cache once). */
export async function taskFileFromHub(
  task: TaskName,
  opts: ResolveModelOptions = {},
): Promise<{ content: string; source: string; differences: string }> {
  const src = HUB_SOURCES[task];
  if (!src)
    throw new Error(`${task} has no hub source: ${NO_HUB_SOURCE[task] ?? 'unknown task'}; use the paper's file (LMEDIT_DATA)`);
  const path = await resolveHubFile(src.repo, src.file, {
    ...opts,
    repoType: 'dataset',
    ...(src.revision ? { revision: src.revision } : {}),
  });
  return {
    content: await taskFileFromParquet(task, path),
    source: `hf://datasets/${src.repo}/${src.file}`,
    differences: src.differences,
  };
}
