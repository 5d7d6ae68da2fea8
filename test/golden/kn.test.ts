/**
 * KN against the PyTorch golden (../shared/reference/kn/tiny-gpt2, kmeng01/rome's bundled
 * knowledge-neurons code) on the reference and the native backend: token ids exact; scores
 * max |diff| ≤ 1e-4 · max |ref| (README); the selected neurons exactly; threshold and the code's
 * before/after probabilities 1e-4 relative, greedy completions exact; every delta tensor
 * ≤ 1e-5 · max |ref| (an embedding sum: PyTorch's own fp32-vs-fp64 gap is 7.8e-8 of max);
 * pre/post last-position logits atol 1e-4 + rtol 1e-4 of max; restore() bit-exact.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { loadModel } from '../../src/models/load.js';
import type { CausalLM } from '../../src/models/types.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { executeKN, kn } from '../../src/edit/kn/index.js';
import { compare, goldenTensors, modelDir, readJson, skipNoShared } from './shared.js';

interface KNGolden {
  request: { case_id: number; prompt: string; subject: string; target_new: { str: string }; target_true: { str: string } };
  prompt: string;
  prompt_ids: number[];
  target_true_ids: number[];
  target_new_ids: number[];
  hparams: Record<string, unknown>;
  'neurons_[layer,index]': [number, number][];
  neurons_float64: [number, number][];
  threshold: number;
  before_after: Record<'before' | 'after', { gt_prob: number[]; argmax_completion: string; argmax_prob: number }>;
  tensors: Record<string, { shape: number[] }>;
}

const relClose = (got: number, want: number, rtol: number, what: string): void => {
  const rel = Math.abs(got - want) / Math.abs(want);
  assert.ok(rel <= rtol, `${what}: ${got} vs ${want} (rel ${rel.toExponential(2)})`);
};

function lastLogits(model: CausalLM, ids: number[]): number[] {
  return T.noGrad(() =>
    T.tidy(() => model.forward({ ids: T.tensor(ids, [1, ids.length], 'int32'), logits: 'last' }).logits!.toArray()),
  );
}

async function runCase(backend: T.BackendName): Promise<void> {
  const meta = readJson<KNGolden>('reference', 'kn', 'tiny-gpt2', 'golden.json');
  const g = goldenTensors('reference', 'kn', 'tiny-gpt2', 'golden.safetensors');
  const tokenizer = await loadTokenizer(modelDir('tiny-gpt2'));
  const tag = `kn/tiny-gpt2 [${backend}]`;
  T.withBackend(backend, () => {
    const model = loadModel(modelDir('tiny-gpt2'));
    const hp = kn.presets['tiny-gpt2']!;
    assert.deepEqual(kn.parseHParams(meta.hparams, 'kn/tiny-gpt2/golden.json'), hp, 'the preset is the golden configuration');

    // the reference encodes y and the target with plain encode: the strings carry their own space
    assert.deepEqual(tokenizer.encode(meta.prompt), meta.prompt_ids);
    assert.deepEqual(tokenizer.encode(meta.request.target_true.str), meta.target_true_ids);
    assert.deepEqual(tokenizer.encode(meta.request.target_new.str), meta.target_new_ids);

    const pre = compare(lastLogits(model, meta.prompt_ids), g.get('pre_logits_last')!.toArray());
    console.log(`${tag} pre_logits_last: max |diff| ${pre.maxAbs.toExponential(3)} (max |ref| ${pre.maxRef.toFixed(3)})`);
    assert.ok(pre.maxAbs <= 1e-4 + 1e-4 * pre.maxRef, `${tag} pre_logits_last`);

    const valueNames = [...model.params.keys()].filter((n) => n.endsWith('mlp.c_proj.weight'));
    const originals = new Map(valueNames.map((n) => [n, new Float32Array(model.param(n).toArray())]));
    const request = {
      prompt: meta.request.prompt,
      subject: meta.request.subject,
      target_new: meta.request.target_new.str,
      ground_truth: meta.request.target_true.str,
      case_id: meta.request.case_id,
    };
    const run = executeKN('KN', model, request, hp, { tokenizer });
    const res = run.result;
    try {
      assert.deepEqual(run.prompts, [meta.prompt], 'the template is filled with the subject');
      assert.deepEqual(run.truthIds, meta.target_true_ids);
      assert.deepEqual(run.targetIds, meta.target_new_ids);
      assert.deepEqual(run.perPrompt[0]!.scores.points, [{ ids: meta.prompt_ids, targets: meta.target_true_ids }]);

      const { scores, layers, width } = run.perPrompt[0]!.scores;
      assert.deepEqual([layers, width], meta.tensors['scores']!.shape);
      const sc = compare(scores, g.get('scores')!.toArray());
      console.log(`${tag} scores: max |diff| / max |ref| ${(sc.maxAbs / sc.maxRef).toExponential(3)}`);
      assert.ok(sc.maxAbs <= 1e-4 * sc.maxRef, `${tag} scores: ${(sc.maxAbs / sc.maxRef).toExponential(3)} of max`);

      assert.deepEqual(run.neurons, meta['neurons_[layer,index]'], `${tag} selected neurons`);
      assert.deepEqual(meta.neurons_float64, meta['neurons_[layer,index]']);
      const diag = res.requests[0]!;
      assert.equal(diag.case_id, meta.request.case_id);
      assert.equal(diag.scalars['neurons'], meta['neurons_[layer,index]'].length);
      relClose(diag.scalars['threshold']!, meta.threshold, 1e-4, `${tag} threshold`);

      // the code's probe: P(target_i) at the prompt extended by the i previous argmax tokens
      for (const [when, probe] of [
        ['before', run.before],
        ['after', run.after],
      ] as const) {
        const want = meta.before_after[when];
        assert.equal(probe.completion, want.argmax_completion, `${tag} ${when} greedy completion`);
        relClose(probe.targetProb, want.gt_prob[0]!, 1e-4, `${tag} ${when} target probability`);
        relClose(probe.argmaxProb, want.argmax_prob, 1e-4, `${tag} ${when} argmax probability`);
        relClose(diag.scalars[`target_prob_${when}`]!, want.gt_prob[0]!, 1e-4, `${tag} scalars.target_prob_${when}`);
      }

      const deltaNames = Object.keys(meta.tensors).filter((n) => n.startsWith('delta/'));
      assert.deepEqual([...res.deltas.keys()].map((n) => `delta/${n}`).sort(), deltaNames.sort());
      for (const name of deltaNames) {
        const d = compare(res.deltas.get(name.slice('delta/'.length))!.toArray(), g.get(name)!.toArray());
        console.log(`${tag} ${name}: max |diff| ${d.maxAbs.toExponential(3)} (max |ref| ${d.maxRef.toFixed(3)})`);
        assert.ok(d.maxAbs <= 1e-5 * d.maxRef, `${tag} ${name}: max |diff| ${d.maxAbs.toExponential(3)}`);
      }

      const post = compare(lastLogits(model, meta.prompt_ids), g.get('post_logits_last')!.toArray());
      console.log(`${tag} post_logits_last: max |diff| ${post.maxAbs.toExponential(3)} (max |ref| ${post.maxRef.toFixed(3)})`);
      assert.ok(post.maxAbs <= 1e-4 + 1e-4 * post.maxRef, `${tag} post_logits_last`);
    } finally {
      res.restore();
      for (const [n, orig] of originals)
        assert.deepEqual(new Float32Array(model.param(n).toArray()), orig, `${n} restored bit for bit`);
      res.dispose();
      model.dispose();
    }
  });
}

describe('kn golden: tiny-gpt2', { skip: skipNoShared }, () => {
  test('reference backend: ids, IG scores, neurons, threshold, probe, ΔW, pre/post logits, restore', () => runCase('reference'));
  test('native backend: the same', { skip: T.getBackend().name === 'native' ? false : 'native backend not in use' }, () =>
    runCase('native'),
  );
});
