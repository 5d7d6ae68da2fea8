/**
 * End to end on the real pretrained stories260K model: a ROME edit and a MEMIT batch edit
 * change the chosen prompts' greedy continuations to the new targets, unrelated prompts keep
 * their greedy outputs, and restore() gives back the original bytes.
 *
 * Locality is measured as the paper's tools do, by teacher forcing: for 10 unrelated prompts the
 * pre-edit greedy continuation (6 tokens) is fed back and the edited model's argmax must agree
 * with it. A 260K-parameter, 5-layer model is far less robust than GPT-2 XL (one rank-one update
 * of a d=64 layer moves everything a little), so the bars are: the next token of every unrelated
 * prompt unchanged (ROME; 9 of 10 for a two-fact MEMIT batch) and >= 85% of all continuation
 * tokens unchanged. Measured: ROME 88% and 10/10, MEMIT 92% and 9/10. A wrong layout, sign or
 * norm in an update drops these far below the bars.
 * Hyperparameters: the paper's recipes scaled to this model (30 v steps, 21 easyedit templates;
 * MEMIT λ = 1000 because the keys of a d_k = 172 layer are small).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openModel, generate, scoreContinuations, type CausalLM } from '../../src/models/index.js';
import type { Tokenizer } from '../../src/tokenizer/index.js';
import { rome } from '../../src/edit/rome/index.js';
import { memit } from '../../src/edit/memit/index.js';
import { createStatsProvider } from '../../src/edit/stats/index.js';
import type { EditRequest } from '../../src/edit/types.js';
import { modelDir, sharedPath, skipNoShared } from './shared.js';
import { assertParamsUnchanged, snapshotParams } from '../../src/edit/testing.js';

const UNRELATED = [
  'Once upon a time',
  'The sun was shining and',
  'The cat sat on the',
  'Sue and Ben went to the',
  'One day, a little bird',
  'Mom said it was time for',
  'The dog barked at the',
  'She looked at the sky and',
  'He wanted to play with the',
  'They ate a big',
];

/** Teacher-forced agreement of the model's argmax with the reference continuations. */
function locality(model: CausalLM, tok: Tokenizer, reference: number[][]): { tokens: number; first: number } {
  const rs = scoreContinuations(
    model,
    UNRELATED.map((p, i) => ({ prompt: tok.encode(p), continuation: reference[i]! })),
  );
  let agree = 0;
  let total = 0;
  let first = 0;
  rs.forEach((r, i) => {
    r.greedyTokens.forEach((t, j) => {
      total++;
      if (t === reference[i]![j]) agree++;
    });
    if (r.greedyTokens[0] === reference[i]![0]) first++;
  });
  return { tokens: agree / total, first };
}

function greedy(model: CausalLM, tok: Tokenizer, prompt: string, n = 6): number[] {
  return generate(model, [tok.encode(prompt)], { maxNewTokens: n }).tokens[0]!;
}

describe('editing the real stories260K model', { skip: skipNoShared }, () => {
  test('ROME: "Tom had a big red" -> " car"; unrelated prompts unchanged; exact restore', async () => {
    const { model, tokenizer } = await openModel(modelDir('stories260K'));
    const req: EditRequest = { prompt: 'Tom had a big red', subject: 'Tom', target_new: 'car' };
    const before = tokenizer.decode(greedy(model, tokenizer, req.prompt));
    assert.ok(!before.startsWith(' car'), `precondition: model already says "${before}"`);
    const unrelated = UNRELATED.map((p) => greedy(model, tokenizer, p));
    const snaps = snapshotParams(model);
    const hp = {
      ...rome.presets['stories260K']!,
      layers: [1],
      v_num_grad_steps: 30,
      template_recipe: 'easyedit' as const,
      // the original code's norm bound and weight decay: a local edit (the preset trades some locality for efficacy)
      clamp_norm_factor: 4,
      v_weight_decay: 0.5,
    };
    const r = rome.apply(model, [req], hp, { tokenizer, seed: 0 });
    const after = tokenizer.decode(greedy(model, tokenizer, req.prompt));
    assert.ok(after.startsWith(' car'), `after ROME the continuation is "${after}"`);
    const loc = locality(model, tokenizer, unrelated);
    assert.equal(loc.first, UNRELATED.length, `next token changed for ${UNRELATED.length - loc.first} unrelated prompt(s)`);
    assert.ok(loc.tokens >= 0.85, `only ${(100 * loc.tokens).toFixed(0)}% of unrelated continuation tokens kept`);
    assert.deepEqual([...r.deltas.keys()], ['model.layers.1.mlp.down_proj.weight']);
    r.restore();
    assertParamsUnchanged(model, snaps, 'not restored bit for bit');
    assert.equal(tokenizer.decode(greedy(model, tokenizer, req.prompt)), before);
    r.dispose();
    model.dispose();
  });

  test('MEMIT batch of two: both continuations follow their targets; unrelated prompts unchanged', async () => {
    const { model, tokenizer } = await openModel(modelDir('stories260K'));
    const reqs: EditRequest[] = [
      { prompt: 'Lily liked to play with her', subject: 'Lily', target_new: 'dog' },
      { prompt: 'Tom had a big red', subject: 'Tom', target_new: 'car' },
    ];
    const unrelated = UNRELATED.map((p) => greedy(model, tokenizer, p));
    const snaps = snapshotParams(model);
    const stats = createStatsProvider({
      tokenizer,
      corpus: sharedPath('data', 'wikitext', 'wikitext-2-raw-test.raw'),
      cacheDir: false,
      progress: false,
    });
    const hp = {
      ...memit.presets['tiny-llama']!,
      layers: [0, 1, 2],
      v_loss_layer: 4,
      v_num_grad_steps: 30,
      mom2_update_weight: 1000,
      clamp_norm_factor: 4,
    };
    const r = memit.apply(model, reqs, hp, { tokenizer, seed: 0, stats });
    assert.equal(r.deltas.size, 3);
    for (const q of reqs) {
      const after = tokenizer.decode(greedy(model, tokenizer, q.prompt));
      assert.ok(after.startsWith(` ${q.target_new}`), `after MEMIT "${q.prompt}" continues "${after}"`);
    }
    const loc = locality(model, tokenizer, unrelated);
    assert.ok(loc.first >= UNRELATED.length - 1, `next token changed for ${UNRELATED.length - loc.first} unrelated prompt(s)`);
    assert.ok(loc.tokens >= 0.85, `only ${(100 * loc.tokens).toFixed(0)}% of unrelated continuation tokens kept`);
    r.restore();
    assertParamsUnchanged(model, snaps, 'not restored bit for bit');
    r.dispose();
    stats.dispose();
    model.dispose();
  });
});
