/**
 * Model forward passes against the PyTorch goldens (../shared/reference/forward): logits,
 * embeddings, every block's output, final norm, the MLP key and output at layer_L, the HF
 * causal-LM loss, gradients w.r.t. a block output and a down-projection weight, and greedy
 * generation (single and left-padded batch). Tolerances from the goldens' README: activations
 * and logits atol 1e-4 + rtol 1e-4 of the tensor's max; loss 1e-5 relative; gradients 1e-4 of
 * the tensor's max; token ids exact. Only positions with attention_mask = 1 are compared.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { loadModel } from '../../src/models/load.js';
import { Trace } from '../../src/models/hooks.js';
import { generate } from '../../src/models/generate.js';
import { compare, goldenTensors, modelDir, readJson, skipNoShared } from './shared.js';

interface ForwardGolden {
  layer_L: number;
  grad_pos: number;
  loss: number;
  loss_per_row: number[];
  generation: {
    prompt_token_ids: number[][];
    new_token_ids_single: number[][];
    new_token_ids_batch_left_padded: number[][];
  };
}

const MODELS = ['tiny-gpt2', 'tiny-llama', 'stories260K'];

function within(
  name: string,
  got: T.Tensor | number[],
  want: T.Tensor,
  mask: (i: number) => boolean,
  tol: { atol?: number; rtol: number },
): void {
  const a = Array.isArray(got) ? got : got.toArray();
  const { maxAbs, maxRef } = compare(a, want.toArray(), mask);
  const limit = (tol.atol ?? 0) + tol.rtol * maxRef;
  assert.ok(
    maxAbs <= limit,
    `${name}: max |diff| ${maxAbs.toExponential(3)} > ${limit.toExponential(3)} (max |ref| ${maxRef.toFixed(3)})`,
  );
}

for (const name of MODELS) {
  describe(`forward golden: ${name}`, { skip: skipNoShared }, () => {
    const g = goldenTensors('reference', 'forward', name, 'golden.safetensors');
    const meta = readJson<ForwardGolden>('reference', 'forward', name, 'golden.json');
    const model = loadModel(modelDir(name));
    const ids = T.cast(g.get('input_ids')!, 'int32');
    const mask = T.cast(g.get('attention_mask')!, 'uint8');
    const positionIds = T.cast(g.get('position_ids')!, 'int32');
    const [B, L] = ids.shape as [number, number];
    const m = mask.toArray();
    const arch = model.arch;
    const layerL = meta.layer_L;
    const real = (width: number) => (i: number) => m[Math.floor(i / width)] === 1;
    const D = model.config.hiddenSize;

    test('logits, embeddings, block outputs, final norm, MLP key/output at layer_L', () => {
      const blocks = [...Array(model.config.numLayers).keys()].map((i) => arch.layerTemplate.replace('{}', String(i)));
      const tr = new Trace({
        retainInput: [blocks[0]!, arch.mlpOutTemplate.replace('{}', String(layerL))],
        retainOutput: [...blocks, arch.mlpTemplate.replace('{}', String(layerL))],
      });
      const out = T.noGrad(() => model.forward({ ids, attentionMask: mask, positionIds, trace: tr }));
      const V = model.config.vocabSize;
      within('logits', out.logits!, g.get('logits')!, real(V), { atol: 1e-4, rtol: 1e-4 });
      within('embed_out', tr.input(blocks[0]!), g.get('embed_out')!, real(D), { atol: 1e-5, rtol: 1e-5 });
      const blockOut = g.get('block_out')!;
      blocks.forEach((b, i) => {
        const want = T.select(blockOut, 0, i);
        within(`block_out[${i}]`, tr.output(b), T.contiguous(want), real(D), { atol: 1e-4, rtol: 1e-4 });
      });
      within('final_norm_out', out.hidden!, g.get('final_norm_out')!, real(D), { atol: 1e-4, rtol: 1e-4 });
      const F = model.config.intermediateSize;
      within('mlp_down_in', tr.input(arch.mlpOutTemplate.replace('{}', String(layerL))), g.get('mlp_down_in')!, real(F), {
        atol: 1e-4,
        rtol: 1e-4,
      });
      within('mlp_out', tr.output(arch.mlpTemplate.replace('{}', String(layerL))), g.get('mlp_out')!, real(D), {
        atol: 1e-4,
        rtol: 1e-4,
      });
      tr.dispose();
      out.logits?.dispose();
      out.hidden?.dispose();
    });

    test('HF causal-LM loss and its gradients w.r.t. a block output and the down-projection weight', () => {
      const labels = T.cast(g.get('labels')!, 'int32');
      const blockL = arch.layerTemplate.replace('{}', String(layerL));
      const wName = `${arch.mlpOutTemplate.replace('{}', String(layerL))}.weight`;
      const w = model.param(wName);
      const delta = T.zeros([B, L, D]);
      const shiftedLoss = (): T.Tensor => {
        const tr = new Trace({ edit: { [blockL]: (o) => T.add(o, delta) } });
        const { logits } = model.forward({ ids, attentionMask: mask, positionIds, trace: tr });
        const V = model.config.vocabSize;
        const lg = T.narrow(logits!, 1, 0, L - 1); // logits at t predict token t + 1
        const lb = T.narrow(labels, 1, 1, L);
        return T.crossEntropy(T.reshape(lg, [-1, V]), T.reshape(T.contiguous(lb), [-1]));
      };
      const { value, grads } = T.valueAndGrad(shiftedLoss, [delta, w]);
      const loss = value.item();
      assert.ok(Math.abs(loss - meta.loss) <= 1e-5 * Math.abs(meta.loss), `loss ${loss} vs golden ${meta.loss}`);
      within('grad_block_out', grads[0]!, g.get('grad_block_out')!, real(D), { rtol: 1e-4 });
      within('grad_down_weight', grads[1]!, g.get('grad_down_weight')!, () => true, { rtol: 1e-4 });
      [value, ...grads, delta].forEach((t) => t.dispose());
    });

    test('greedy generation: each prompt alone and as a left-padded batch', () => {
      const gen = meta.generation;
      gen.prompt_token_ids.forEach((p, i) => {
        const r = generate(model, [p], { maxNewTokens: 20, eosTokenId: null });
        assert.deepEqual(r.tokens[0], gen.new_token_ids_single[i], `prompt ${i} alone`);
      });
      const batch = generate(model, gen.prompt_token_ids, { maxNewTokens: 20, eosTokenId: null });
      assert.deepEqual(batch.tokens, gen.new_token_ids_batch_left_padded);
    });
  });
}

describe('stories260K: 200 greedy tokens from BOS (llama2.c golden, exact)', { skip: skipNoShared }, () => {
  test('greedy_token_ids', () => {
    const golden = readJson<{ greedy_token_ids: number[]; bos_id: number }>('data', 'stories260K', 'golden_greedy_200.json');
    const model = loadModel(modelDir('stories260K'));
    const r = generate(model, [[golden.bos_id]], { maxNewTokens: 200, eosTokenId: null });
    assert.deepEqual(r.tokens[0], golden.greedy_token_ids);
    model.dispose();
  });
});
