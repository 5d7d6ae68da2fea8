/**
 * MEND end to end on the real stories260K model with ZsRE training records (../shared):
 *  - meta-training measurably improves edits of held-out records: the post-edit NLL of the
 *    new target on the held-out rephrases drops far below the untrained editor's (U = 0 and
 *    no normalisation: a plain gradient step with edit_lr), and no plain gradient-descent step
 *    with at most the trained editor's locality KL reaches its NLL;
 *  - `lmedit mend train` (holdout validation, checkpoints, --resume) and
 *    `lmedit edit --method mend --hparams DIR/mend.yaml`, run as a user would.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/tensor/index.js';
import { openModel, scoreContinuations } from '../src/models/index.js';
import {
  MEND_PRESETS,
  MendEditor,
  captureFor,
  editBatch,
  forwardBatch,
  locKl,
  mendTrainRecords,
  promptTargetBatch,
  trainMend,
  withEditedWeights,
} from '../src/edit/mend/index.js';
import { modelDir, sharedPath, skipNoShared } from './golden/shared.js';

const bin = resolve(fileURLToPath(new URL('../bin/lmedit.js', import.meta.url)));

function lmedit(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const ZSRE = () => sharedPath('data', 'zsre', 'zsre_mend_train-1k.json');

describe('MEND on stories260K with ZsRE records', { skip: skipNoShared }, () => {
  test('training improves held-out edits over the untrained editor and over plain gradient steps at equal locality', async () => {
    const { model, tokenizer } = await openModel(modelDir('stories260K'));
    const { records } = mendTrainRecords(JSON.parse(readFileSync(ZSRE(), 'utf8')), 'zsre');
    const train = records.slice(0, 600);
    const heldOut = records.slice(900, 930);
    const hp = { ...MEND_PRESETS['stories260K']!, max_iters: 200 };
    const { editor, summary } = trainMend({ model, tokenizer, hparams: hp, train });
    assert.equal(summary.iterations, 200);
    assert.equal(summary.optimizerSteps, 39);

    // U = 0 and no normalisation: G = ∂L/∂W exactly, so α·G is a plain gradient step
    const identity = MendEditor.create(model, { ...hp, norm: false });
    const penc = { addBos: false, dummyPrefix: 'unless_space' as const };
    /** mean post-edit NLL of the target on the rephrase, and mean locality KL, over the held-out records */
    const evaluate = (ed: MendEditor, lrScale: number): { nll: number; kl: number } => {
      let nll = 0;
      let kl = 0;
      for (const r of heldOut) {
        const edit = editBatch(tokenizer, [{ prompt: r.prompt, target: r.target }], false);
        const loc = promptTargetBatch(tokenizer, [{ prompt: r.loc, target: r.locAnswer }]);
        const cap = captureFor(model, ed, edit);
        const q = {
          prompt: tokenizer.encode(r.rephrase, penc),
          continuation: tokenizer.encode(` ${r.target}`, { addSpecialTokens: false, dummyPrefix: 'unless_space' }),
        };
        T.noGrad(() =>
          T.tidy(() => {
            const pre = T.logSoftmax(forwardBatch(model, loc), -1);
            withEditedWeights(model, ed.deltas(cap.factors, lrScale), () => {
              nll += -scoreContinuations(model, [q])[0]!.logprob / q.continuation.length;
              kl += locKl(pre, forwardBatch(model, loc), loc).item();
            });
          }),
        );
        cap.dispose();
        edit.dispose();
        loc.dispose();
      }
      return { nll: nll / heldOut.length, kl: kl / heldOut.length };
    };
    const trained = evaluate(editor, 1);
    const untrained = evaluate(identity, 1);
    // MEND adds α·G: descent needs α < 0
    const steps = [1, 3, 10, 30, 100].map((k) => ({ lr: -k * hp.edit_lr, ...evaluate(identity, -k) }));
    const report = `trained ${JSON.stringify(trained)}, untrained ${JSON.stringify(untrained)}, gradient steps ${JSON.stringify(steps)}`;
    assert.ok(trained.nll < untrained.nll - 2, report);
    assert.ok(trained.kl < 0.2, report);
    const comparable = steps.filter((s) => s.kl <= trained.kl);
    assert.ok(comparable.length > 0 && comparable.every((s) => s.nll > trained.nll + 0.3), report);
    editor.dispose();
    identity.dispose();
    model.dispose();
  });

  test('CLI: mend train with holdout and checkpoints, edit --method mend with the written YAML, --resume continues', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'lmedit-mend-cli-'));
    try {
      const out = join(tmp, 'run');
      const base = [
        'mend',
        'train',
        '--model',
        modelDir('stories260K'),
        '--data',
        ZSRE(),
        '--limit',
        '30',
        '--holdout',
        '5',
        '--out',
        out,
      ];
      const r1 = lmedit(...base, '--max-iters', '4', '--json');
      assert.equal(r1.code, 0, r1.err);
      const s1 = JSON.parse(r1.out.trim()) as { iterations: number; valStats: Record<string, number>; trainRecords: number };
      assert.equal(s1.iterations, 4);
      assert.equal(s1.trainRecords, 25);
      assert.ok(Number.isFinite(s1.valStats['loss/total_edit_val']));
      for (const f of ['editor.safetensors', 'editor.json', 'training-state.json', 'training-state-4.safetensors', 'mend.yaml'])
        assert.ok(existsSync(join(out, f)), f);
      // the last iteration is validated, and the YAML records the iterations this run was given
      assert.equal((JSON.parse(r1.out.trim()) as { iteration: number }).iteration, 3, 'validated at the last iteration');
      assert.match(readFileSync(join(out, 'mend.yaml'), 'utf8'), /^max_iters: 4$/m);

      const again = lmedit(...base, '--max-iters', '6');
      assert.notEqual(again.code, 0);
      assert.match(again.err, /already holds a MEND training run; pass --resume/);

      const r2 = lmedit(...base, '--max-iters', '6', '--resume');
      assert.equal(r2.code, 0, r2.err);
      assert.match(r2.err, /resuming .* at iteration 4/);
      const state = JSON.parse(readFileSync(join(out, 'training-state.json'), 'utf8')) as { iteration: number; tensors: string };
      assert.equal(state.iteration, 6);
      assert.equal(state.tensors, 'training-state-6.safetensors');
      assert.ok(!existsSync(join(out, 'training-state-4.safetensors')), 'older state files are removed');

      const e = lmedit(
        'edit',
        '--model',
        modelDir('stories260K'),
        '--method',
        'mend',
        '--hparams',
        join(out, 'mend.yaml'),
        '--request',
        '{"prompt": "Lily liked to play with her", "target_new": "cat"}',
        '--json',
      );
      assert.equal(e.code, 0, e.err);
      const j = JSON.parse(e.out.trim().split('\n')[0]!) as { before: { nll: number }; after: { nll: number; text: string } };
      assert.ok(Number.isFinite(j.after.nll) && j.after.nll !== j.before.nll);

      const noArchive = lmedit(
        'edit',
        '--model',
        modelDir('stories260K'),
        '--method',
        'mend',
        '--request',
        '{"prompt": "Lily liked to play with her", "target_new": "cat"}',
      );
      assert.notEqual(noArchive.code, 0);
      assert.match(noArchive.err, /MEND needs a trained editor/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
