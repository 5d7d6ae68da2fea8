/**
 * Cells and the edit plan: cells per variant × batch size with their checkpoints, the paper's
 * cyclic slice, chunking with each quirk, and the broken sequential edit() of the paper's code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cellFileName,
  editChunks,
  editOperations,
  editPlan,
  editSlice,
  editsNeeded,
  expandCells,
  legacySequentialPlan,
  legacySequentialSteps,
  studyEditsNeeded,
} from './cells.js';
import { parseStudy } from './spec.js';
import type { StudyQuirks } from './types.js';

const NO_QUIRKS: StudyQuirks = { legacy_sequential_bug: false, legacy_batch_chunking: false, drop_incomplete_chunk: false };

function study(mode: unknown, methods: unknown = ['memit', { method: 'memit', rect: 0.4 }], quirks: unknown = {}) {
  return parseStudy({ name: 's', model: 'm', methods, mode, data: { file: 'f' }, quirks }, 'test');
}

test('expandCells: variant × batch size; sequential checkpoints above 0, single at B', () => {
  const seq = study({ sequential: true, batch_sizes: [10, 30], checkpoints: [0, 10, 20] });
  const cells = expandCells(seq);
  assert.deepEqual(
    cells.map((c) => [c.id, c.batchSize, c.checkpoints]),
    [
      ['MEMIT/b10', 10, [10, 20]],
      ['MEMIT/b30', 30, [10, 20]],
      ['MEMIT+RECT-40%/b10', 10, [10, 20]],
      ['MEMIT+RECT-40%/b30', 30, [10, 20]],
    ],
  );
  assert.equal(cells[2]!.method, seq.methods[1]);
  assert.deepEqual(
    cells.map((c) => editsNeeded(seq, c)),
    [200, 600, 200, 600],
  );
  assert.equal(studyEditsNeeded(seq), 600);

  const single = study({ sequential: false, batch_sizes: [1, 100, 5] }, ['mend']);
  assert.deepEqual(
    expandCells(single).map((c) => [c.id, c.checkpoints, editsNeeded(single, c)]),
    [
      ['MEND/b1', [1], 1],
      ['MEND/b100', [100], 100],
      ['MEND/b5', [5], 5],
    ],
  );
  assert.equal(studyEditsNeeded(single), 100);
  assert.equal(cellFileName('ROME+RECT-40%/b1'), 'ROME+RECT-40%__b1');
});

test('editSlice: D[i] = records[i mod N], D[begin:end:step], cut to count', () => {
  const records = ['r0', 'r1', 'r2', 'r3', 'r4'];
  assert.deepEqual(editSlice(records, { file: 'f', begin: 3, step: 2 }, 4), ['r3', 'r0', 'r2', 'r4']);
  assert.deepEqual(editSlice(records, { file: 'f', begin: 0, step: 1 }, 12), [...records, ...records, 'r0', 'r1']);
  assert.deepEqual(editSlice(records, { file: 'f', begin: 7, end: 9, step: 1 }, 2), ['r2', 'r3']);
  assert.deepEqual(editSlice(records, { file: 'f', begin: 3, end: 100, step: 2 }, 3), ['r3', 'r0', 'r2']);
  assert.deepEqual(editSlice(records, { file: 'f', begin: 0, step: 1 }, 0), []);
  assert.throws(
    () => editSlice(records, { file: 'f.json', begin: 0, end: 6, step: 2 }, 4),
    /f\.json: the slice \[0:6:2\] holds 3 edit\(s\) but the study needs 4/,
  );
  assert.throws(() => editSlice([], { file: 'f.json', begin: 0, step: 1 }, 1), /f\.json: no records/);
  assert.throws(() => editSlice(records, { file: 'f', begin: 0, step: 1 }, -1), /count/);
});

test('editOperations / editChunks: chunks of B, each quirk', () => {
  const r = [0, 1, 2, 3, 4, 5, 6];
  assert.deepEqual(editChunks(r, 3, NO_QUIRKS), [[0, 1, 2], [3, 4, 5], [6]]);
  assert.deepEqual(editChunks(r, 3, { ...NO_QUIRKS, drop_incomplete_chunk: true }), [
    [0, 1, 2],
    [3, 4, 5],
  ]);
  assert.deepEqual(editChunks(r.slice(0, 6), 3, { ...NO_QUIRKS, drop_incomplete_chunk: true }), [
    [0, 1, 2],
    [3, 4, 5],
  ]);
  assert.deepEqual(
    editChunks(r, 3, { ...NO_QUIRKS, legacy_batch_chunking: true }),
    r.map((x) => [x]),
  );

  const ops = editOperations(r, 3, { ...NO_QUIRKS, legacy_batch_chunking: true, drop_incomplete_chunk: true });
  assert.deepEqual(ops, [
    { index: 0, requests: [0, 1, 2], calls: [[0], [1], [2]] },
    { index: 1, requests: [3, 4, 5], calls: [[3], [4], [5]] },
  ]);
  assert.deepEqual(editOperations(r.slice(0, 2), 1, NO_QUIRKS), [
    { index: 0, requests: [0], calls: [[0]] },
    { index: 1, requests: [1], calls: [[1]] },
  ]);
  assert.throws(() => editChunks(r, 0, NO_QUIRKS), /batch size must be a positive integer/);
});

test("legacySequentialPlan: the paper's edit() applies only chunk 0; KN applies it twice, then the rest", () => {
  const chunks = [['a'], ['b'], ['c']];
  assert.deepEqual(legacySequentialPlan('rome', chunks), [['a']]);
  assert.deepEqual(legacySequentialPlan('MEMIT', chunks), [['a']]);
  assert.deepEqual(legacySequentialPlan('kn', chunks), [['a'], ['a'], ['b'], ['c']]);
  assert.deepEqual(legacySequentialPlan('KN', chunks), [['a'], ['a'], ['b'], ['c']]);
  assert.deepEqual(legacySequentialPlan('rome', []), []);
  assert.deepEqual(legacySequentialSteps('rome', chunks), [[['a']], [], []]);
  assert.deepEqual(legacySequentialSteps('kn', chunks), [[['a'], ['a']], [['b']], [['c']]]);
});

test('editPlan: sequential operations, single batches, quirks applied per operation', () => {
  const reqs = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9'];
  const seq = study({ sequential: true, batch_sizes: [2], checkpoints: [0, 1, 3] }, ['memit']);
  const [cell] = expandCells(seq);
  const plan = editPlan(seq, cell!, reqs);
  assert.deepEqual(
    plan.map((o) => o.calls),
    [[['r0', 'r1']], [['r2', 'r3']], [['r4', 'r5']]],
  );
  assert.throws(() => editPlan(seq, cell!, reqs.slice(0, 5)), /cell MEMIT\/b2: needs 6 edit request\(s\), got 5/);

  const chunked = study({ sequential: true, batch_sizes: [2], checkpoints: [0, 1, 3] }, ['memit'], {
    legacy_batch_chunking: true,
  });
  assert.deepEqual(
    editPlan(chunked, expandCells(chunked)[0]!, reqs).map((o) => [o.requests, o.calls]),
    [
      [
        ['r0', 'r1'],
        [['r0'], ['r1']],
      ],
      [
        ['r2', 'r3'],
        [['r2'], ['r3']],
      ],
      [
        ['r4', 'r5'],
        [['r4'], ['r5']],
      ],
    ],
  );

  const single = study({ sequential: false, batch_sizes: [1, 4] }, ['memit'], { legacy_batch_chunking: true });
  const [b1, b4] = expandCells(single);
  assert.deepEqual(editPlan(single, b1!, reqs), [{ index: 0, requests: ['r0'], calls: [['r0']] }]);
  assert.deepEqual(editPlan(single, b4!, reqs), [
    { index: 0, requests: ['r0', 'r1', 'r2', 'r3'], calls: [['r0'], ['r1'], ['r2'], ['r3']] },
  ]);
  const plain = study({ sequential: false, batch_sizes: [3] }, ['memit']);
  assert.deepEqual(editPlan(plain, expandCells(plain)[0]!, reqs)[0]!.calls, [['r0', 'r1', 'r2']]);

  const rome = study({ sequential: true, checkpoints: [0, 1, 3] }, ['rome'], { legacy_sequential_bug: true });
  assert.deepEqual(
    editPlan(rome, expandCells(rome)[0]!, reqs).map((o) => [o.requests, o.calls]),
    [
      [['r0'], [['r0']]],
      [['r1'], []],
      [['r2'], []],
    ],
  );
  const kn = study({ sequential: true, checkpoints: [0, 1, 3] }, ['kn'], { legacy_sequential_bug: true });
  assert.deepEqual(
    editPlan(kn, expandCells(kn)[0]!, reqs).map((o) => o.calls),
    [[['r0'], ['r0']], [['r1']], [['r2']]],
  );
});

test('a method may carry its own batch sizes: ROME edits one fact at a time beside MEMIT batches', () => {
  const s = study({ sequential: true, batch_sizes: [1], checkpoints: [0, 2] }, [
    'rome',
    { method: 'memit', batch_sizes: [4, 8] },
  ]);
  assert.deepEqual(
    expandCells(s).map((c) => c.id),
    ['ROME/b1', 'MEMIT/b4', 'MEMIT/b8'],
  );
  assert.equal(studyEditsNeeded(s), 16);
  assert.throws(
    () => study({ sequential: true, checkpoints: [0, 2] }, [{ method: 'rome', batch_sizes: [2] }]),
    /methods\[0\]\.method.*one request at a time/,
  );
});
