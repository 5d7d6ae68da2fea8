import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQueueUrl, redactUrl } from './connection.js';
import { decodeEntry, encodeEntry, jobId, safeRunFile } from './protocol.js';
import { formatQueue } from '../../cli/study.js';
import type { ResultLine } from '../types.js';

test('queue URLs: redis:// and rediss:// with host, port and db; passwords never shown', () => {
  assert.equal(parseQueueUrl('redis://127.0.0.1:6379/2').hostname, '127.0.0.1');
  assert.equal(parseQueueUrl('rediss://:s3cret@cache.internal:6380').protocol, 'rediss:');
  assert.equal(redactUrl('redis://:s3cret@10.0.0.5:6379/0'), 'redis://:***@10.0.0.5:6379/0');
  assert.equal(redactUrl('rediss://lmedit:s3cret@h:6380'), 'rediss://***:***@h:6380');
  assert.equal(redactUrl('redis://h:6379'), 'redis://h:6379');
  assert.throws(() => parseQueueUrl('http://h:6379'), /scheme must be redis:\/\/ or rediss:\/\//);
  assert.throws(
    () => parseQueueUrl('redis://:pw@h:6379/x'),
    (e: Error) => /database number/.test(e.message) && !e.message.includes('pw@'),
  );
  assert.throws(() => parseQueueUrl('localhost'), /not a URL/);
});

test('stream entries round-trip; job ids carry no colon; workers may only send run files under predictions/ and weights/', () => {
  const line: ResultLine = {
    key: { cell: 'ROME/b1', checkpoint: 2, kind: 'task', name: 'sst2', mode: 'paper' },
    variant: 'ROME',
    method: 'ROME',
    batch_size: 1,
    edits: 2,
    value: 0.1 + 0.2,
    values: { n: 3 },
  };
  const back = decodeEntry(encodeEntry({ type: 'line', unit: 'ROME/b1', line }));
  assert.deepEqual(back, { type: 'line', unit: 'ROME/b1', line });
  assert.equal(JSON.stringify(back.type === 'line' && back.line), JSON.stringify(line), 'the same bytes when written again');
  const data = Buffer.from([0, 1, 2, 255]);
  assert.deepEqual(decodeEntry(encodeEntry({ type: 'file', unit: 'u', path: 'weights/a/b.png', data })), {
    type: 'file',
    unit: 'u',
    path: 'weights/a/b.png',
    data,
  });
  assert.throws(() => decodeEntry(['type', 'other']), /unknown type/);
  assert.ok(!jobId('run-1a2b', 3).includes(':'));
  for (const ok of ['predictions/baseline/checkpoint-0.jsonl', 'weights/ROME__b1/heatmap-x.png']) assert.ok(safeRunFile(ok), ok);
  for (const bad of [
    'results.jsonl',
    'manifest.json',
    '../x',
    'predictions/../../x',
    '/etc/passwd',
    'weights/',
    'weights/a\\b',
    'predictions/./x',
  ])
    assert.ok(!safeRunFile(bad), bad);
});

test('status: queue counts and each open job (worker and ETA for the active ones)', () => {
  const text = formatQueue([
    { unit: 'baseline', job: 'r.0', state: 'completed', attempts: 0, progress: null, error: null },
    {
      unit: 'ROME/b1',
      job: 'r.1',
      state: 'active',
      attempts: 0,
      progress: { worker: 'node7:4242', done: 2, total: 5, eta: 90.4, current: 'ROME/b1 @ 2' },
      error: null,
    },
    { unit: 'MEMIT/b10', job: 'r.2', state: 'waiting', attempts: 0, progress: null, error: null },
    { unit: 'FT-L/b1', job: 'r.3', state: 'failed', attempts: 3, progress: null, error: 'NaN in ΔW' },
  ]);
  assert.match(text, /^queue: 1 waiting, 1 active, 1 done, 1 failed/);
  assert.match(text, /ROME\/b1 +active on node7:4242: 2\/5 checkpoints, about 90 s left/);
  assert.match(text, /FT-L\/b1 +failed after 3 attempt\(s\): NaN in ΔW/);
  assert.doesNotMatch(text, /baseline/, 'done jobs are counted, not listed');
  assert.match(formatQueue('cannot read the queue: x'), /^queue: cannot read the queue/);
});
