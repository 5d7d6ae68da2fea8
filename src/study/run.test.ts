/**
 * The runner on tiny-gpt2 (../shared): a cell whose edit blows up is recorded as a failure with
 * its error while the next cell still runs, the model is left bit-for-bit unedited after every
 * cell, and a second run on the same directory finds nothing left to do.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { openModel } from '../models/index.js';
import { ftL } from '../edit/ft/index.js';
import { assertParamsUnchanged, snapshotParams } from '../edit/testing.js';
import { modelDir, sharedPath, skipNoShared } from '../testing.js';
import { runStudy } from './run.js';
import { readResultLines } from './results.js';
import { parseStudy } from './spec.js';
import { studyStatus } from './status.js';
import { writeOrCheckManifest, makeManifest } from './manifest.js';

describe('study runner (tiny-gpt2)', { skip: skipNoShared }, () => {
  test('a failing cell is recorded and the study goes on; the model ends unedited; a rerun does nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmedit-run-'));
    try {
      const { model, tokenizer, dir: mdir } = await openModel(modelDir('tiny-gpt2'));
      // an absurd learning rate makes the fine-tuned weights overflow: the edit must fail on NaN/Inf
      const bad = join(dir, 'ft-bad.yaml');
      writeFileSync(bad, stringify({ ...ftL.presets['tiny-gpt2']!, lr: 1e38, norm_constraint: false }));
      const spec = parseStudy(
        {
          name: 'failure-test',
          model: { path: mdir },
          methods: [
            { name: 'FT-L-exploding', method: 'ft-l', hparams: bad },
            { name: 'FT-L', method: 'ft-l', preset: 'tiny-gpt2' },
          ],
          mode: { sequential: true, batch_sizes: [1], checkpoints: [0, 1, 2] },
          data: { file: sharedPath('data', 'zsre', 'zsre_mend_eval_portability_gpt4.json') },
          tasks: { names: [] },
          metrics: { enabled: true, order: 'post-all' },
        },
        'test',
      );
      const out = join(dir, 'run');
      writeOrCheckManifest(out, await makeManifest(spec, mdir));
      const before = snapshotParams(model);
      const first = await runStudy(spec, { out, model, tokenizer });
      assertParamsUnchanged(model, before);
      assert.equal(first.failures.length, 1);
      assert.equal(first.failures[0]!.cell, 'FT-L-exploding/b1');
      assert.match(first.failures[0]!.error, /NaN|Inf|finite/);
      const status = studyStatus(out);
      const failed = status.cells.find((c) => c.cell === 'FT-L-exploding/b1')!;
      assert.equal(failed.failure?.checkpoint, 1);
      assert.deepEqual(status.cells.find((c) => c.cell === 'FT-L/b1')!.done, [1, 2], 'the next cell ran');
      const again = await runStudy(spec, { out, model, tokenizer });
      assert.equal(again.lines, first.lines, 'nothing left to do');
      assert.equal(again.failures.length, 1, 'the failure is reported again, not retried');
      model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("PRUNE (stories260K, where ROME's ΔW outgrows σ₁(W₀)) is measured on the restrained weights: a smaller change than the plain cell, the same edits, the model unedited after", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmedit-run-'));
    try {
      const { model, tokenizer, dir: mdir } = await openModel(modelDir('stories260K'));
      const spec = parseStudy(
        {
          name: 'prune-test',
          model: { path: mdir },
          methods: [{ method: 'rome' }, { method: 'rome', prune: 'linear' }],
          mode: { sequential: true, batch_sizes: [1], checkpoints: [0, 2, 3] },
          data: { file: sharedPath('data', 'zsre', 'zsre_mend_eval_portability_gpt4.json') },
          tasks: { names: [] },
          metrics: { enabled: false },
        },
        'test',
      );
      const out = join(dir, 'run');
      writeOrCheckManifest(out, await makeManifest(spec, mdir));
      const before = snapshotParams(model);
      const res = await runStudy(spec, { out, model, tokenizer });
      assertParamsUnchanged(model, before);
      assert.deepEqual(res.failures, []);
      const lines = readResultLines(join(out, 'results.jsonl')).lines;
      const fro = (cell: string, cp: number): number =>
        lines.find((l) => l.key.cell === cell && l.key.checkpoint === cp && l.key.name === 'frobenius')!.value!;
      for (const cp of [2, 3]) {
        const plain = fro('ROME/b1', cp);
        const pruned = fro('ROME+PRUNE-linear/b1', cp);
        assert.ok(pruned > 0 && pruned < plain, `checkpoint ${cp}: ‖ΔW'‖ ${pruned} < ‖ΔW‖ ${plain}`);
      }
      model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
