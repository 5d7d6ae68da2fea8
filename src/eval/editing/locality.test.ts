/**
 * Locality: agreement with the unedited model's own predictions — 1.0 on the unedited model,
 * below 1 after a large random weight change, the spec's worked example, and batched
 * predictions equal to one-at-a-time ones.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { openModel } from '../../models/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { EditRequest, PromptAnswer } from '../../edit/types.js';
import { assertParamsUnchanged, snapshotParams } from '../../edit/testing.js';
import { modelDir, skipNoShared } from '../../testing.js';
import { localityAgreement, localityPredictions } from './locality.js';
import { computeMetrics, evaluatePre } from './evaluate.js';
import { pieceTokenizer, tinyGpt2 } from './testing.js';

const PROBES: PromptAnswer[] = [
  { prompt: 'nq question: who sang the song', ground_truth: 'the band from the north' },
  { prompt: 'nq question: when was it built', ground_truth: 'in the year one' },
  { prompt: 'the sun was shining and', ground_truth: 'the birds sang' },
];

/** Add N(0, scale) noise to every weight; returns the snapshots to restore. */
function perturb(model: CausalLM, scale: number): Map<string, T.Snapshot> {
  const snaps = snapshotParams(model);
  const rng = new T.Rng(7);
  for (const w of model.params.values())
    T.noGrad(() => T.tidy(() => T.addInPlace(w, T.cast(rng.normal([...w.shape], scale), w.dtype))));
  return snaps;
}

function checkLocality(model: CausalLM, tok: Tokenizer): void {
  const req: EditRequest = { prompt: 'the cat sat', subject: 'cat', target_new: 'down', locality: PROBES };
  const pre = evaluatePre(model, tok, [req], { batchSize: 2 });
  const recorded = pre.records[0]!.locality_predictions!;
  assert.deepEqual(recorded, localityPredictions(model, tok, PROBES, { batchSize: 1 }), 'batched = one at a time');
  assert.equal(recorded.length, PROBES.length);
  // the unedited model agrees with itself
  const same = computeMetrics(model, tok, [req], [0], {}, pre.records)[0]!;
  assert.equal(same.locality_acc, 1);
  assert.deepEqual(same.locality_accs, [1, 1, 1]);
  // a big random change moves the argmax
  const snaps = perturb(model, 0.5);
  const after = computeMetrics(model, tok, [req], [0], {}, pre.records)[0]!;
  assert.ok(after.locality_acc! < 1, `locality after a big random change: ${after.locality_acc}`);
  for (const [name, s] of snaps) T.restore(model.param(name), s);
  assertParamsUnchanged(model, snaps);
}

describe('locality', () => {
  test('agreement of post with pre predictions (the spec example: 2 of 3)', () => {
    assert.equal(localityAgreement([29, 234, 334], [29, 234, 333]), 2 / 3);
    assert.equal(localityAgreement([1, 2], [1, 2]), 1);
    assert.ok(Number.isNaN(localityAgreement([], [])));
    assert.throws(() => localityAgreement([1], [1, 2]), /1 pre vs 2 post/);
  });

  test('random GPT-2: 1.0 unedited, < 1 after a big random weight change', () => {
    const tok = pieceTokenizer([' ', ':', ...'abcdefghijklmnopqrstuvwxyz'], { bos: false });
    const model = tinyGpt2(tok.vocabSize, 11);
    checkLocality(model, tok);
    model.dispose();
  });

  test('stories260K: 1.0 unedited, < 1 after a big random weight change', { skip: skipNoShared }, async () => {
    const { model, tokenizer } = await openModel(modelDir('stories260K'));
    checkLocality(model, tokenizer);
    model.dispose();
  });
});
