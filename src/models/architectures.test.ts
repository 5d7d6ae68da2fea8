/**
 * Architecture checks that need no golden (GPT-J has none): tiny random GPT-J / LLaMA /
 * GPT-2 configs built in memory, run in float64 on the reference backend.
 *  - gradients of the whole model w.r.t. an inserted vector and a weight vs finite differences;
 *  - hand-derived invariants: GPT-J's parallel block equals x + attn(ln(x)) + mlp(ln(x)),
 *    interleaved partial rotary equals the rotate_every_two formula written out, shifting all
 *    positions by a constant leaves rotary models' outputs unchanged (relative positions);
 *  - KV-cache decoding equals the full forward; a left-padded batch equals each row alone;
 *  - the module names agree: the forward hooks exactly the declared hook points, `model.arch`
 *    and the static GPT2_MODULES/... name hook points and parameters that exist.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../tensor/index.js';
import { gradcheck, maxAbsDiff } from '../tensor/testing.js';
import { Trace } from './hooks.js';
import type { CausalLM, ModuleNames } from './types.js';
import { randomModel } from './testing.js';
import { GPT2_MODULES } from './gpt2.js';
import { GPTJ_MODULES } from './gptj.js';
import { LLAMA_MODULES } from './llama.js';

T.setBackend('reference');

const CONFIGS: Record<string, Record<string, unknown>> = {
  gptj: {
    model_type: 'gptj',
    vocab_size: 37,
    n_embd: 24,
    n_layer: 2,
    n_head: 3,
    rotary_dim: 4,
    n_positions: 64,
    layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new',
  },
  llama: {
    model_type: 'llama',
    vocab_size: 41,
    hidden_size: 16,
    intermediate_size: 23,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
  },
  gpt2: { model_type: 'gpt2', vocab_size: 29, n_embd: 12, n_layer: 2, n_head: 2, n_positions: 32, layer_norm_epsilon: 1e-5 },
};

function tinyModel(kind: string, seed = 1): CausalLM {
  return randomModel(CONFIGS[kind]!, { std: 0.3, dtype: 'float64', seed });
}

const ids = (rows: number[][]): T.Tensor => T.tensor(rows.flat(), [rows.length, rows[0]!.length], 'int32');

describe('GPT-J (no golden): gradients and invariants', () => {
  const model = tinyModel('gptj');

  test('gradient w.r.t. a vector added to the MLP output and w.r.t. fc_out matches finite differences', () => {
    const x = ids([[3, 7, 1, 30, 2]]);
    const delta = T.zeros([24], 'float64');
    const w = model.param('transformer.h.0.mlp.fc_out.weight');
    const loss = (d: T.Tensor): T.Tensor => {
      const tr = new Trace({ edit: { 'transformer.h.0.mlp': (o) => T.add(o, d) } });
      const { logits } = model.forward({ ids: x, trace: tr, logits: 'last' });
      return T.reshape(T.logSoftmax(logits!), [-1]);
    };
    T.tidy(() => gradcheck((d) => loss(d), [delta], { atol: 1e-6, rtol: 1e-4 }));
    // a weight: substitute a leaf for the parameter so the tape reaches it
    const name = 'transformer.h.1.attn.q_proj.weight';
    const orig = model.params.get(name)!;
    try {
      T.tidy(() =>
        gradcheck(
          (wv) => {
            model.params.set(name, wv);
            return T.reshape(T.logSoftmax(model.forward({ ids: x, logits: 'last' }).logits!), [-1]);
          },
          [T.clone(orig)],
          { atol: 1e-6, rtol: 1e-4 },
        ),
      );
    } finally {
      model.params.set(name, orig);
    }
    void w;
  });

  test('parallel block: block output = x + attn(ln_1(x)) + mlp(ln_1(x))', () => {
    using tr = new Trace({
      retainInput: ['transformer.h.1'],
      retainOutput: ['transformer.h.1', 'transformer.h.1.attn', 'transformer.h.1.mlp'],
    });
    T.noGrad(() => model.forward({ ids: ids([[1, 2, 3, 4]]), trace: tr }));
    const sum = T.add(T.add(tr.input('transformer.h.1'), tr.output('transformer.h.1.attn')), tr.output('transformer.h.1.mlp'));
    assert.ok(maxAbsDiff(sum, tr.output('transformer.h.1')) < 1e-12);
  });

  test('interleaved partial rotary equals rotate_every_two written out', () => {
    const rng = new T.Rng(3);
    const q = rng.normal([1, 1, 3, 6], 1, 0, 'float64'); // rotary_dim 4 of head dim 6
    const inv = [1, 1 / 100];
    const P = 3;
    const cos = T.tensor(
      Array.from({ length: P * 2 }, (_, i) => Math.cos(Math.floor(i / 2) * inv[i % 2]!)),
      [P, 2],
      'float64',
    );
    const sin = T.tensor(
      Array.from({ length: P * 2 }, (_, i) => Math.sin(Math.floor(i / 2) * inv[i % 2]!)),
      [P, 2],
      'float64',
    );
    const pos = T.tensor([0, 1, 2], [1, 3], 'int32');
    const got = T.rope(q, pos, cos, sin, { layout: 'interleaved', rotaryDim: 4 }).toArray();
    const x = q.toArray();
    for (let t = 0; t < 3; t++) {
      for (let i = 0; i < 2; i++) {
        const a = t * inv[i]!;
        const x1 = x[t * 6 + 2 * i]!;
        const x2 = x[t * 6 + 2 * i + 1]!;
        assert.ok(Math.abs(got[t * 6 + 2 * i]! - (x1 * Math.cos(a) - x2 * Math.sin(a))) < 1e-12);
        assert.ok(Math.abs(got[t * 6 + 2 * i + 1]! - (x2 * Math.cos(a) + x1 * Math.sin(a))) < 1e-12);
      }
      for (const d of [4, 5]) assert.equal(got[t * 6 + d], x[t * 6 + d]); // not rotated
    }
  });
});

for (const kind of ['gptj', 'llama', 'gpt2']) {
  describe(`${kind}: cache, padding and position invariants`, () => {
    const model = tinyModel(kind, 11);
    const row = [3, 9, 4, 1, 7, 2];

    test('KV-cache decoding equals the full forward', () => {
      T.noGrad(() => {
        const full = model.forward({ ids: ids([row]) }).logits!;
        const first = model.forward({ ids: ids([row.slice(0, 4)]), useCache: true });
        let cache = first.cache!;
        for (let t = 4; t < row.length; t++) {
          const step = model.forward({ ids: ids([[row[t]!]]), cache });
          cache = step.cache!;
          const want = T.narrow(full, 1, t, t + 1);
          assert.ok(maxAbsDiff(step.logits!, T.contiguous(want)) < 1e-10, `position ${t}`);
        }
      });
    });

    test('a left-padded batch equals each row alone at real positions', () => {
      T.noGrad(() => {
        const short = [5, 6, 8];
        const pad = 0;
        const batch = model.forward({
          ids: ids([[pad, pad, pad, ...short], row]),
          attentionMask: T.tensor([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1], [2, 6], 'uint8'),
        }).logits!;
        const alone = model.forward({ ids: ids([short]) }).logits!;
        const got = T.contiguous(T.narrow(T.select(batch, 0, 0), 0, 3, 6));
        assert.ok(maxAbsDiff(got, T.select(alone, 0, 0)) < 1e-10);
        const alone2 = model.forward({ ids: ids([row]) }).logits!;
        assert.ok(maxAbsDiff(T.contiguous(T.select(batch, 0, 1)), T.select(alone2, 0, 0)) < 1e-10);
      });
    });

    if (kind !== 'gpt2') {
      test('shifting every position id by a constant leaves the output unchanged (rotary is relative)', () => {
        T.noGrad(() => {
          const a = model.forward({ ids: ids([row]) }).logits!;
          const b = model.forward({
            ids: ids([row]),
            positionIds: T.tensor(
              row.map((_, i) => i + 17),
              [1, row.length],
              'int32',
            ),
          }).logits!;
          // the angle tables are float32 like HF's, so positions 17.. round differently: ~1e-7
          const d = maxAbsDiff(a, b);
          assert.ok(d < 1e-5, `max diff ${d}`);
        });
      });
    }
  });
}

/** Records every module name the forward runs through the trace. */
class NameRecorder extends Trace {
  readonly ran = new Set<string>();
  override module(name: string, input: T.Tensor, fn: (x: T.Tensor) => T.Tensor): T.Tensor {
    this.ran.add(name);
    return super.module(name, input, fn);
  }
}

const STATIC_NAMES: Record<string, ModuleNames> = { gptj: GPTJ_MODULES, llama: LLAMA_MODULES, gpt2: GPT2_MODULES };

describe('module names: one source of truth', () => {
  for (const kind of ['gptj', 'llama', 'gpt2']) {
    test(`${kind}: the forward hooks exactly the hook points; arch templates name real modules`, () => {
      const model = tinyModel(kind);
      const tr = new NameRecorder();
      T.noGrad(() => model.forward({ ids: ids([[1, 2, 3]]), trace: tr }));
      assert.deepEqual([...tr.ran].sort(), [...model.hookPoints].sort());
      const a = model.arch;
      for (let l = 0; l < a.numLayers; l++) {
        for (const tmp of [a.layerTemplate, a.mlpTemplate, a.mlpInTemplate, a.mlpOutTemplate, a.attnTemplate]) {
          assert.ok(model.hookPoints.has(tmp.replace('{}', String(l))), `${tmp} at layer ${l}`);
        }
        model.param(`${a.mlpOutTemplate.replace('{}', String(l))}.weight`);
      }
      for (const m of [a.embedding, a.finalNorm]) assert.ok(model.hookPoints.has(m), m);
      model.param(`${a.lmHead}.weight`);
      // the static names are model.arch without the sizes (the tiny configs tie like the usual checkpoints)
      const sizes = { numLayers: a.numLayers, hiddenSize: a.hiddenSize, intermediateSize: a.intermediateSize };
      assert.deepEqual(a, { ...sizes, ...STATIC_NAMES[kind] });
      model.dispose();
    });
  }

  test('`using` a Trace frees what it retained at the end of the scope', () => {
    const model = tinyModel('gpt2');
    let kept: T.Tensor;
    {
      using tr = new Trace({ retainOutput: ['transformer.h.0.mlp'] });
      T.noGrad(() => model.forward({ ids: ids([[1, 2]]), trace: tr }));
      kept = tr.output('transformer.h.0.mlp');
      assert.equal(kept.disposed, false);
    }
    assert.equal(kept.disposed, true);
    model.dispose();
  });
});
