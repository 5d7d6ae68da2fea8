/**
 * `lmedit eval metrics` as a user runs it (bin/lmedit.js in a child process): pre metrics of a
 * tiny ZsRE file as one JSON object, per-record JSONL, and flag errors that name the flag.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelDir, skipNoShared } from '../testing.js';

const bin = resolve(fileURLToPath(new URL('../../bin/lmedit.js', import.meta.url)));

function lmedit(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const ZSRE = [
  {
    subject: 'Tom',
    src: 'Tom had a big red',
    pred: 'ball',
    rephrase: 'Tom owned a big red',
    alt: 'car',
    answers: ['ball'],
    loc: 'nq question: once upon a time',
    loc_ans: 'there was a girl',
    cond: 'ball >> car || Tom had a big red',
    portability: { 'Recalled Relation': '(Tom, has, ball)', 'New Question': 'Tom drove his big red', 'New Answer': 'car' },
  },
  {
    subject: 'Lily',
    src: 'Lily liked to play with her',
    pred: 'doll',
    rephrase: 'Every day Lily played with her',
    alt: 'dog',
    answers: ['doll'],
    loc: 'nq question: the sun was shining and',
    loc_ans: 'the birds sang',
    cond: '',
  },
  {
    subject: 'Sue',
    src: 'Sue saw a big',
    pred: 'dog',
    rephrase: 'One day Sue saw a big',
    alt: 'tree',
    answers: ['dog'],
    loc: 'nq question: the cat sat on the',
    loc_ans: 'mat',
    cond: '',
  },
];

describe('lmedit eval metrics', { skip: skipNoShared }, () => {
  test('--limit 2 --json: pre metrics of two ZsRE records; --out writes one line per record', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmedit-metrics-'));
    try {
      const data = join(dir, 'zsre.json');
      writeFileSync(data, JSON.stringify(ZSRE));
      const out = join(dir, 'records.jsonl');
      const r = lmedit(
        'eval',
        'metrics',
        '--model',
        modelDir('stories260K'),
        '--data',
        data,
        '--limit',
        '2',
        '--json',
        '--out',
        out,
      );
      assert.equal(r.code, 0, r.err);
      const j = JSON.parse(r.out) as {
        evalOrder: string;
        numRequests: number;
        method: null;
        post: null;
        pre: { means: Record<string, number> };
      };
      assert.equal(j.evalOrder, 'pre-only');
      assert.equal(j.method, null);
      assert.equal(j.numRequests, 2);
      assert.equal(j.post, null);
      for (const k of ['rewrite_acc', 'rephrase_acc', 'portability_acc'])
        assert.ok(j.pre.means[k]! >= 0 && j.pre.means[k]! <= 1, `${k} = ${j.pre.means[k]}`);
      const lines = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { phase: string; index: number; locality_predictions: number[][] });
      assert.deepEqual(
        lines.map((l) => [l.phase, l.index]),
        [
          ['pre', 0],
          ['pre', 1],
        ],
      );
      assert.equal(lines[0]!.locality_predictions.length, 1);

      const bad = lmedit('eval', 'metrics', '--model', modelDir('stories260K'), '--data', data, '--limit', '0');
      assert.notEqual(bad.code, 0);
      assert.match(bad.err, /--limit must be a positive integer, got "0"/);
      const order = lmedit('eval', 'metrics', '--data', data, '--method', 'rome', '--order', 'later');
      assert.match(order.err, /--order must be one of post-each, post-all, single/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
