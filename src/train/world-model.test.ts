/**
 * The model organism end to end at the tiny world size: generate, train, save, reload and
 * measure. The stated bar: ≥ 90% greedy recall of the facts in their trained templates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWorldModel, DEFAULT_WORLD_MODEL, measureWorldModel } from './world-model.js';
import { openModel } from '../models/index.js';
import { readWorld } from '../world/index.js';

test('a tiny world trains to ≥ 90% recall of its facts in seconds, and reloads as a Hugging Face directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lmedit-world-model-'));
  try {
    const out = join(dir, 'model');
    const spec = { ...DEFAULT_WORLD_MODEL, size: 'tiny' as const, hiddenSize: 64, numLayers: 2, epochs: 22, lr: 5e-3 };
    const report = await buildWorldModel(out, spec);
    assert.ok(report.recall.trained >= 0.9, `recall in trained templates ${report.recall.trained}`);
    t.diagnostic(
      `tiny world model: ${report.steps} steps in ${report.seconds.toFixed(1)} s, recall ${report.recall.trained} trained / ${report.recall.heldOut} held-out`,
    );
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'world.json', 'world-model.json'])
      assert.ok(existsSync(join(out, f)), f);
    const { model, tokenizer } = await openModel(out);
    const again = measureWorldModel(model, tokenizer, await readWorld(out));
    assert.equal(again.recall.trained, report.recall.trained, 'the saved model recalls what the trained one did');
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
