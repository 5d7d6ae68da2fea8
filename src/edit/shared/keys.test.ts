/**
 * Keys at the subject token: chunked reads agree with one batch and with unpadded single
 * prompts (right padding is invisible to causal attention); MEMIT's two-level template mean.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { loadModel } from '../../models/load.js';
import type { CausalLM } from '../../models/types.js';
import { loadTokenizer, type Tokenizer } from '../../tokenizer/index.js';
import { modelDir, skipNoShared } from '../../testing.js';
import { inContext, lookupRows, readAt, templateMean } from './keys.js';

test('templateMean: plain mean per request, or the mean of group means', () => {
  // two requests × three templates; groups [1, 2] weigh the first template ½
  const x = T.tensor([[1], [2], [4], [10], [20], [40]]);
  const close = (got: number[], want: number[]): void =>
    got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-5, `${got} vs ${want}`));
  close(templateMean(x, 2).toArray(), [7 / 3, 70 / 3]);
  close(templateMean(x, 2, [1, 2]).toArray(), [(1 + 3) / 2, (10 + 30) / 2]);
  assert.throws(() => templateMean(x, 4), /not 4 blocks/);
  assert.throws(() => templateMean(x, 2, [1, 1]), /do not add up/);
});

describe('readAt on tiny-llama', { skip: skipNoShared }, () => {
  let model: CausalLM;
  let tok: Tokenizer;
  test('chunked, batched and single-prompt reads agree', async () => {
    model ??= loadModel(modelDir('tiny-llama'));
    tok ??= await loadTokenizer(modelDir('tiny-llama'));
    const prompt = { pre: 'The mother tongue of ', subject: 'Danielle Darrieux', post: ' is' };
    const rows = lookupRows(
      tok,
      ['{}', 'The sky. {}', 'I am told. {}'].map((t) => inContext(t, prompt)),
      'subject_last',
      'original',
    );
    const spec = { inputs: ['model.layers.1.mlp.down_proj'], outputs: ['model.layers.2'], stopAfter: 'model.layers.2' };
    const all = readAt(model, rows, spec);
    const chunked = readAt(model, rows, { ...spec, batchSize: 2 });
    const single = rows.map((r) => readAt(model, [r], spec));
    for (const [kind, name] of [
      ['inputs', spec.inputs[0]!],
      ['outputs', spec.outputs[0]!],
    ] as const) {
      const a = all[kind].get(name)!.toArray();
      const b = chunked[kind].get(name)!.toArray();
      const c = single.flatMap((s) => s[kind].get(name)!.toArray());
      const m = Math.max(...a.map(Math.abs));
      // batched and single reads differ only in float32 summation order (BLAS kernel and thread
      // split): a few ulps per term of the longest reduction, over the blocks the value went through
      const K = Math.max(model.config.hiddenSize, model.config.intermediateSize);
      const tol = 3 * 4 * K * 2 ** -24 * m; // 3 blocks, 4 ulps a term
      const worst = Math.max(...a.map((x, i) => Math.max(Math.abs(x - b[i]!), Math.abs(x - c[i]!))));
      assert.ok(worst <= tol, `${kind} of ${name}: max |diff| ${worst} > ${tol}`);
      assert.equal(all[kind].get(name)!.shape[0], rows.length);
    }
    [all, chunked, ...single].forEach((r) => [...r.inputs.values(), ...r.outputs.values()].forEach((t) => t.dispose()));
  });
});
