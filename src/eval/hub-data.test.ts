/**
 * Task data from parquet: a small parquet file written by the test (hyparquet-writer), read back
 * with hyparquet, rewritten in the paper's format and parsed by the task itself.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { readParquetRows, rowsToTaskFile, taskFileFromParquet, taskFileFromHub } from './hub-data.js';
import { TASKS } from './tasks/index.js';

function writeParquet(dir: string, name: string, columnData: Parameters<typeof parquetWriteBuffer>[0]['columnData']): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.from(parquetWriteBuffer({ columnData })));
  return path;
}

describe('task data from parquet', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmedit-parquet-'));
  test.after(() => rmSync(dir, { recursive: true, force: true }));

  test('SST-2 (GLUE layout, INT64 labels) becomes the paper TSV and parses', async () => {
    const path = writeParquet(dir, 'sst2.parquet', [
      { name: 'sentence', data: ["it 's a charming journey . ", 'bleak and desperate '], type: 'STRING' },
      { name: 'label', data: [1n, 0n], type: 'INT64' },
      { name: 'idx', data: [0, 1], type: 'INT32' },
    ]);
    const rows = await readParquetRows(path);
    assert.deepEqual(rows[1], { sentence: 'bleak and desperate ', label: 0, idx: 1 });
    const content = await taskFileFromParquet('sst2', path);
    assert.equal(content, "sentence\tlabel\nit 's a charming journey . \t1\nbleak and desperate \t0\n");
    const ex = TASKS.sst2.parse(content, path, 'paper');
    assert.equal(ex.length, 2);
    assert.ok(TASKS.sst2.items(ex[1], 1)[0]!.prompt.includes('text: bleak and desperate  answer:'));
  });

  test('GSM8K and BoolQ (bool answers, no title) parse; RTE drops GLUE idx 2164', async () => {
    const g = writeParquet(dir, 'gsm8k.parquet', [
      { name: 'question', data: ['What is 2+3?'], type: 'STRING' },
      { name: 'answer', data: ['2+3=<<2+3=5>>5\n#### 5'], type: 'STRING' },
    ]);
    const gsm = TASKS.gsm8k.parse(await taskFileFromParquet('gsm8k', g), g, 'paper');
    assert.equal(
      TASKS.gsm8k.items(gsm[0], 0)[0]!.prompt,
      "Q: What is 2+3? A:Let's think step by step. 2+3=<<2+3=5>>5\n Therefore, the answer (arabic numerals) is:",
    );
    const b = writeParquet(dir, 'boolq.parquet', [
      { name: 'question', data: ['is the sky blue', 'is fire cold'], type: 'STRING' },
      { name: 'answer', data: [true, false], type: 'BOOLEAN' },
      { name: 'passage', data: ['The sky is blue.', 'Fire is hot.'], type: 'STRING' },
    ]);
    assert.equal(TASKS.boolq.parse(await taskFileFromParquet('boolq', b), b, 'clean').length, 2);
    const rows = [2163, 2164, 2165].map((idx) => ({ sentence1: `A ${idx}.`, sentence2: `B ${idx}.`, label: idx % 2, idx }));
    const tsv = rowsToTaskFile('rte', rows, 'rte.parquet');
    assert.equal(
      tsv,
      'index\tsentence1\tsentence2\tlabel\n0\tA 2163.\tB 2163.\tnot_entailment\n1\tA 2165.\tB 2165.\tnot_entailment\n',
    );
    assert.equal(TASKS.rte.parse(tsv, 'rte.parquet', 'paper').length, 2);
  });

  test('CoNLL-2003 (lists of tokens and tag ids) becomes blocks with IOB2 tags', async () => {
    const path = writeParquet(dir, 'conll.parquet', [
      {
        name: 'tokens',
        data: [
          ['EU', 'rejects', 'German', 'call'],
          ['Peter', 'Blackburn'],
        ],
      },
      {
        name: 'ner_tags',
        data: [
          [3, 0, 7, 0],
          [1, 2],
        ],
      },
    ]);
    const content = await taskFileFromParquet('conll2003', path);
    assert.equal(
      content,
      'EU X X B-ORG\nrejects X X O\nGerman X X B-MISC\ncall X X O\n\nPeter X X B-PER\nBlackburn X X I-PER\n\n',
    );
    const blocks = TASKS.conll2003.parse(content, path, 'paper');
    assert.equal(blocks.length, 2);
    assert.equal(
      TASKS.conll2003.items(blocks[1], 1)[0]!.prompt,
      'Please identify Person Entity from the given text. Text: Peter Blackburn Entity:',
    );
  });

  test('bad parquet and missing columns name the file and row; tasks without a hub copy say why', async () => {
    const bad = join(dir, 'bad.parquet');
    writeFileSync(bad, 'not parquet');
    await assert.rejects(readParquetRows(bad), /bad\.parquet: not a readable parquet file/);
    assert.throws(() => rowsToTaskFile('gsm8k', [{ question: 'q' }], 'x.parquet'), /x\.parquet row 0: no column "answer"/);
    await assert.rejects(taskFileFromHub('nq-open'), /nq-open has no hub source: .*generated background passage/);
  });
});
