/**
 * results.jsonl: a partial last line (an interrupted write) is detected and cut off, a bad line
 * before the end is corruption, and appending a key that is there already is a no-op.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResultsFile, readResultLines } from './results.js';
import type { ResultLine } from './types.js';

const line = (cell: string, checkpoint: number, value: number): ResultLine => ({
  key: { cell, checkpoint, kind: 'task', name: 'sst2', mode: 'paper' },
  variant: cell,
  method: 'ROME',
  batch_size: 1,
  edits: checkpoint,
  value,
  values: { examples: 3 },
});

test('a partial last line is dropped on open; duplicates are not appended; lines keep their order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmedit-results-'));
  try {
    const path = join(dir, 'results.jsonl');
    const f = ResultsFile.open(path);
    assert.equal(f.append(line('a', 1, 0.5)), true);
    assert.equal(f.append(line('a', 2, 0.25)), true);
    assert.equal(f.append(line('a', 1, 0.9)), false, 'same key: the first value stands');
    const whole = readFileSync(path, 'utf8');
    // a write cut in the middle, and one cut just before its newline (valid JSON, no newline)
    for (const tail of [JSON.stringify(line('b', 1, 1)).slice(0, 30), JSON.stringify(line('b', 1, 1))]) {
      appendFileSync(path, tail);
      assert.equal(readResultLines(path).tail, tail);
      const g = ResultsFile.open(path);
      assert.equal(g.droppedTail, tail);
      assert.equal(readFileSync(path, 'utf8'), whole, 'cut back to the last whole line');
      assert.deepEqual(
        g.lines().map((l) => l.value),
        [0.5, 0.25],
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad line before the end is corruption, named by line number', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmedit-results-'));
  try {
    const path = join(dir, 'results.jsonl');
    writeFileSync(path, `${JSON.stringify(line('a', 1, 0.5))}\n{"not": "a result"}\n${JSON.stringify(line('a', 2, 0.5))}\n`);
    assert.throws(() => ResultsFile.open(path), /results\.jsonl:2: not a result line/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
