/**
 * MEND's derivatives in float64 on the reference backend, against central finite differences
 * on fresh random inputs with odd sizes:
 *  - the IDMLP w.r.t. its input and every parameter (u, v, bias, mode scale/shift);
 *  - the captured δ: with the identity transform and no normalisation, Σ_t x_t δ_tᵀ equals
 *    ∂L/∂W (GPT-2 [in, out] and LLaMA [out, in] layouts), and padded rows drop out of a batch;
 *  - the whole meta-gradient: L_post(W + α·G(θ)) through the edited weights, G = Σ x̃ δ̃ᵀ,
 *    the IDMLP and α, to every network tensor and edit_lrs (x and δ are inputs, as in MEND).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { gradcheck, maxAbsDiff } from '../../tensor/testing.js';
import { captureFor, metaLoss, type MetaBatch } from './edit-step.js';
import { MendEditor } from './editor.js';
import { mendDefaults } from './hparams.js';
import { IDMLP } from './idmlp.js';
import { editBatch, forwardBatch, promptTargetBatch, targetNll } from './inputs.js';
import { charTokenizer, tinyModel } from './testing.js';

T.setBackend('reference');

/** Overwrite every editor parameter with random values (so no clamp sits at its kink). */
function randomize(editor: MendEditor, seed: number): void {
  const rng = new T.Rng(seed);
  for (const [name, p] of editor.namedParameters()) {
    const std = name === 'edit_lrs' ? 0.02 : name.endsWith('.u') ? 0.3 : name.endsWith('.v') ? 0.4 : 0.15;
    const base = name.includes('mode_scale') ? 1 : name === 'edit_lrs' ? -0.03 : 0;
    T.noGrad(() => T.tidy(() => T.assign(p, rng.normal(p.shape, std, base, 'float64'))));
  }
}

describe('IDMLP', () => {
  test('gradients w.r.t. the input and all parameters match finite differences (D 7, rank 3, 2 modes)', () => {
    const rng = new T.Rng(3);
    const net = IDMLP.create({ dim: 7, rank: 3, nHidden: 1, nModes: 2, init: 'id', rng, dtype: 'float64' });
    for (const [, p] of net.namedParameters())
      T.noGrad(() => T.tidy(() => T.assign(p, T.add(p, rng.normal(p.shape, 0.5, 0, 'float64')))));
    const h = T.keep(rng.normal([5, 7], 1, 0, 'float64'));
    const params = net.namedParameters().map(([, t]) => t);
    const r = T.tidy(() => gradcheck((x) => net.forward(x, 1), [h, ...params], { atol: 1e-7, rtol: 1e-6 }));
    assert.ok(r.maxAbsErr < 1e-7, `max error ${r.maxAbsErr}`);
    h.dispose();
    net.dispose();
  });

  test('with U = 0 the network is the identity, and mode 0 / 1 differ once scale and shift do', () => {
    const net = IDMLP.create({ dim: 5, rank: 2, nHidden: 2, nModes: 2, init: 'id', rng: new T.Rng(1), dtype: 'float64' });
    const h = T.keep(new T.Rng(2).normal([4, 5], 1, 0, 'float64'));
    T.tidy(() => assert.deepEqual(net.forward(h, 0).toArray(), h.toArray()));
    assert.equal(net.layers.length, 3);
    net.dispose();
    h.dispose();
  });
});

describe('captured x and δ', () => {
  for (const kind of ['gpt2', 'llama'] as const) {
    test(`${kind}: identity transform without normalisation gives Σ x δᵀ = ∂L/∂W in the stored layout`, () => {
      const model = tinyModel(kind, 'float64', 5);
      const names =
        kind === 'gpt2'
          ? ['transformer.h.1.mlp.c_fc.weight', 'transformer.h.1.mlp.c_proj.weight']
          : ['model.layers.1.mlp.up_proj.weight', 'model.layers.1.mlp.down_proj.weight'];
      const hp = mendDefaults(names, { norm: false, edit_lr: 1, rank: 3 });
      const editor = MendEditor.create(model, hp, 'float64');
      const batch = editBatch(charTokenizer, [{ prompt: 'abc de', target: 'fgh' }], false);
      const cap = captureFor(model, editor, batch);
      T.tidy(() => {
        const deltas = T.noGrad(() => editor.deltas(cap.factors, 1));
        // the true gradient: substitute leaves for the weights
        const leaves = names.map((n) => T.clone(model.param(n)));
        const saved = names.map((n) => model.param(n));
        names.forEach((n, i) => model.params.set(n, leaves[i]!));
        const grads = T.grad(() => targetNll(forwardBatch(model, batch), batch), leaves);
        names.forEach((n, i) => model.params.set(n, saved[i]!));
        names.forEach((n, i) => {
          const err = maxAbsDiff(deltas.get(n)!, grads[i]!);
          assert.ok(err < 1e-12, `${n}: |Σxδᵀ − ∂L/∂W| = ${err}`);
          assert.ok(Math.max(...grads[i]!.toArray().map(Math.abs)) > 1e-4, 'the gradient is not trivially zero');
        });
      });
      cap.dispose();
      batch.dispose();
      editor.dispose();
      model.dispose();
    });
  }

  test('a right-padded batch drops the padding rows: G_batch = Σ_i n_i G_i / Σ n_i', () => {
    const model = tinyModel('llama', 'float64', 6);
    const hp = mendDefaults(['model.layers.0.mlp.down_proj.weight'], { norm: false, edit_lr: 1, rank: 2 });
    const editor = MendEditor.create(model, hp, 'float64');
    const items = [
      { prompt: 'abcdefg hi', target: 'jk' },
      { prompt: 'lm', target: 'nopq' },
    ];
    const single = items.map((it) => {
      const b = editBatch(charTokenizer, [it], false);
      const cap = captureFor(model, editor, b);
      const g = T.keep(T.noGrad(() => T.tidy(() => editor.deltas(cap.factors, 1).get(hp.inner_params[0]!)!)));
      const rows = cap.factors.get('model.layers.0.mlp.down_proj')!.x.shape[0]!;
      cap.dispose();
      b.dispose();
      return { g, rows };
    });
    const b = editBatch(charTokenizer, items, false);
    const cap = captureFor(model, editor, b);
    assert.equal(
      cap.factors.get('model.layers.0.mlp.down_proj')!.x.shape[0],
      single[0]!.rows + single[1]!.rows,
      'padding rows are dropped',
    );
    T.tidy(() => {
      const gb = T.noGrad(() => editor.deltas(cap.factors, 1).get(hp.inner_params[0]!)!);
      const [n1, n2] = b.counts as [number, number];
      const want = T.div(T.add(T.mul(single[0]!.g, n1), T.mul(single[1]!.g, n2)), n1 + n2);
      assert.ok(maxAbsDiff(gb, want) < 1e-12);
    });
    single.forEach((s) => s.g.dispose());
    cap.dispose();
    b.dispose();
    editor.dispose();
    model.dispose();
  });
});

describe('meta-gradient', () => {
  for (const kind of ['llama', 'gpt2'] as const) {
    test(`${kind}: ∂(cedit·L_edit + cloc·L_loc)/∂θ through W + α·Σx̃δ̃ᵀ matches finite differences for every network tensor and edit_lrs`, () => {
      const model = tinyModel(kind, 'float64', 11);
      const names =
        kind === 'llama'
          ? ['model.layers.0.mlp.up_proj.weight', 'model.layers.1.mlp.up_proj.weight', 'model.layers.1.mlp.down_proj.weight']
          : ['transformer.h.1.mlp.c_fc.weight', 'transformer.h.1.mlp.c_proj.weight'];
      const hp = mendDefaults(names, { rank: 3, n_hidden: 1, cedit: 0.7, cloc: 1.3 });
      const editor = MendEditor.create(model, hp, 'float64');
      randomize(editor, 21);
      const batch: MetaBatch = {
        edit: editBatch(
          charTokenizer,
          [
            { prompt: 'abc de', target: 'fg' },
            { prompt: 'hijk', target: 'lmn' },
          ],
          false,
        ),
        rephrase: editBatch(
          charTokenizer,
          [
            { prompt: 'xab cd', target: 'fg' },
            { prompt: 'hik', target: 'lmn' },
          ],
          false,
        ),
        loc: promptTargetBatch(charTokenizer, [
          { prompt: 'qrs tu', target: 'vw' },
          { prompt: 'yz', target: 'abc' },
        ]),
      };
      const cap = captureFor(model, editor, batch.edit);
      editor.observe(cap.factors); // statistics from these rows, then frozen
      const preLocLogProbs = T.keep(T.noGrad(() => T.tidy(() => T.logSoftmax(forwardBatch(model, batch.loc), -1))));
      const params = editor.namedParameters().map(([, t]) => t);
      const r = T.tidy(() =>
        gradcheck(() => metaLoss(model, editor, cap, batch, preLocLogProbs, hp).total, params, { atol: 1e-8, rtol: 1e-5 }),
      );
      assert.ok(r.maxAbsErr < 1e-7, `max error ${r.maxAbsErr} at ${r.worst}`);
      // the objective really depends on the network (not only on α)
      const gU = T.tidy(() =>
        T.grad(() => metaLoss(model, editor, cap, batch, preLocLogProbs, hp).total, [params[0]!])[0]!.toArray(),
      );
      assert.ok(Math.max(...gU.map(Math.abs)) > 1e-6);
      preLocLogProbs.dispose();
      cap.dispose();
      Object.values(batch).forEach((b) => b.dispose());
      editor.dispose();
      model.dispose();
    });
  }
});
