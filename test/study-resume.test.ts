/**
 * A study survives SIGKILL at any moment: a run killed again and again (at edit, evaluation and
 * write points, some in the middle of writing a line) and resumed each time ends with exactly
 * the results.jsonl of an uninterrupted run — same lines, same order, nothing duplicated or
 * lost — and two uninterrupted runs with the same seeds write identical files.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelDir, sharedPath, skipNoShared } from './golden/shared.js';
import * as T from '../src/tensor/index.js';
import { readResultLines } from '../src/study/results.js';
import { keyString } from '../src/study/types.js';

const bin = resolve(fileURLToPath(new URL('../bin/lmedit.js', import.meta.url)));

function studyRun(
  file: string,
  out: string,
  env: Record<string, string> = {},
): { code: number | null; signal: string | null; err: string } {
  const r = spawnSync(process.execPath, [bin, 'study', 'run', file, '--out', out, '--quiet'], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, signal: r.signal, err: r.stderr };
}

describe('study kill and resume (stories260K)', { skip: skipNoShared }, () => {
  test('≥ 20 SIGKILLs at random points, resumed each time: the same results.jsonl as an uninterrupted run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmedit-study-'));
    try {
      const file = join(dir, 'study.yaml');
      writeFileSync(
        file,
        [
          'name: kill-test',
          `model: { path: ${JSON.stringify(modelDir('stories260K'))} }`,
          'methods:',
          '  - { method: rome }',
          '  - { method: rome, rect: { keep: 0.4, mode: rect } }',
          'mode: { sequential: true, batch_sizes: [1], checkpoints: [0, 1, 2] }',
          `data: { file: ${JSON.stringify(sharedPath('data', 'zsre', 'zsre_mend_eval_portability_gpt4.json'))} }`,
          'tasks: { names: [sst2, rte], limit: 2, scorer: both, batch_size: 4 }',
          'metrics: { enabled: true, order: post-each }',
          '',
        ].join('\n'),
      );
      const ref = join(dir, 'ref');
      const first = studyRun(file, ref);
      assert.equal(first.code, 0, first.err);
      const want = readFileSync(join(ref, 'results.jsonl'), 'utf8');
      const lines = readResultLines(join(ref, 'results.jsonl')).lines;
      assert.ok(lines.length > 40, `a real run: ${lines.length} lines`);
      assert.equal(new Set(lines.map((l) => keyString(l.key))).size, lines.length, 'no duplicate keys');

      const again = join(dir, 'again');
      assert.equal(studyRun(file, again).code, 0);
      assert.equal(readFileSync(join(again, 'results.jsonl'), 'utf8'), want, 'same seeds, identical numbers');

      const killed = join(dir, 'killed');
      const rng = new T.Rng(Number(process.env['LMEDIT_TEST_SEED'] ?? 11)); // replayable kill points
      const random = (): number => rng.next();
      const killLog = join(dir, 'kills.log');
      let kills = 0;
      let halfLines = 0;
      for (let attempt = 0; kills < 20 && attempt < 100; attempt++) {
        const at = 1 + Math.floor(random() * 8);
        const half = random() < 0.5;
        const r = studyRun(file, killed, {
          LMEDIT_TEST_KILL_AT: String(at),
          LMEDIT_TEST_KILL_HALF: half ? '1' : '0',
          LMEDIT_TEST_KILL_LOG: killLog,
        });
        if (r.signal === 'SIGKILL') {
          kills++;
          if (readResultLines(join(killed, 'results.jsonl')).tail !== null) halfLines++;
          continue;
        }
        // the run finished before the kill point came: start it over in a fresh directory
        assert.equal(r.code, 0, r.err);
        rmSync(killed, { recursive: true, force: true });
      }
      const last = studyRun(file, killed);
      assert.equal(last.code, 0, last.err);
      assert.ok(kills >= 20, `${kills} kills`);
      assert.ok(halfLines >= 1, 'at least one kill left a half-written line');
      const kinds = new Set(readFileSync(killLog, 'utf8').trim().split('\n'));
      assert.deepEqual([...kinds].sort(), ['edit', 'eval', 'write'], 'kills during edits, evaluation and writes');
      assert.equal(readFileSync(join(killed, 'results.jsonl'), 'utf8'), want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
