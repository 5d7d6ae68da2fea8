/**
 * FT-L / FT-M unit checks on tiny random models (no ../shared needed): Adam against PyTorch's
 * formulas, trained-parameter selection, the L∞ box, the skipped step and early stop, bit-exact
 * restore, batches of three with padding, the legacy last-index quirk, and hparams parsing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { EditRequest } from '../types.js';
import { executeFT, ParamsAdam, tokenizeRequests, trainedParamNames } from './ft-main.js';
import { FT_L_PRESETS, FT_M_PRESETS, parseFTHParams, type FTHParams } from './hparams.js';
import { ftL, ftM } from './index.js';
import { promptLastBatch, promptLastLoss, targetNewBatch, targetNewLoss } from './losses.js';
import { randomModel } from '../../models/testing.js';

const V = 50;

const CONFIGS: Record<string, Record<string, unknown>> = {
  llama: {
    model_type: 'llama',
    vocab_size: V,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
  },
  gpt2: { model_type: 'gpt2', vocab_size: V, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 64, layer_norm_epsilon: 1e-5 },
};

function tinyModel(kind: 'llama' | 'gpt2', seed = 1): CausalLM {
  return randomModel(CONFIGS[kind]!, { std: 0.3, seed });
}

/** One token per non-space character (ids 4..V−1); '<unk>' is id 3. Enough for the training loop. */
const charTokenizer: Tokenizer = {
  kind: 'hf',
  vocabSize: V,
  bosId: null,
  eosId: 0,
  padId: 0,
  encode: (text) => [...text].filter((c) => c !== ' ').map((c) => 4 + (c.codePointAt(0)! % (V - 4))),
  decode: (ids) => ids.map((i) => String.fromCodePoint(i)).join(''),
  decodeToken: (id) => String.fromCodePoint(id),
  idToToken: (id) => String.fromCodePoint(id),
  tokenToId: (t) => (t === '<unk>' ? 3 : null),
};

const tinyHp = (objective: 'prompt_last' | 'target_new', over: Partial<FTHParams> = {}): FTHParams => ({
  ...(objective === 'prompt_last' ? FT_L_PRESETS : FT_M_PRESETS)['tiny-llama']!,
  ...over,
});

const REQS: EditRequest[] = [
  { prompt: 'abc de', subject: 'abc', target_new: 'xy' },
  { prompt: 'fg hij klm', subject: 'fg', target_new: 'z' },
  { prompt: 'no', subject: 'no', target_new: 'pqr' },
];

const bytesOf = (t: T.Tensor): Uint8Array => new Uint8Array(T.snapshot(t).bytes);

describe('Adam over the trained parameters (shared Adam + torch weight_decay)', () => {
  test('matches torch.optim.Adam step by step (float32 arithmetic, L2 weight decay)', () => {
    const f = Math.fround;
    const p0 = [0.5, -1.25, 2, 0];
    const gs = [
      [0.1, -0.2, 1e-9, 0],
      [-0.05, -0.2, 3e-3, 0.5],
      [0.2, 0.01, -1, 0],
    ];
    const [lr, b1, b2, eps, wd] = [1e-2, 0.9, 0.999, 1e-8, 0.1];
    const p = T.keep(T.tensor(p0, [4]));
    const opt = new ParamsAdam([p], lr, wd);
    // PyTorch 1.13 _single_tensor_adam, one float32 rounding per tensor op
    const want = [...p0];
    const m = [0, 0, 0, 0];
    const v = [0, 0, 0, 0];
    gs.forEach((g, s) => {
      const step = s + 1;
      const bc1 = 1 - b1 ** step;
      const bc2s = Math.sqrt(1 - b2 ** step);
      for (let i = 0; i < 4; i++) {
        const gi = f(g[i]! + f(want[i]! * f(wd)));
        m[i] = f(f(m[i]! * f(b1)) + f(gi * f(1 - b1)));
        v[i] = f(f(v[i]! * f(b2)) + f(f(gi * f(1 - b2)) * gi));
        const denom = f(f(f(Math.sqrt(v[i]!)) / f(bc2s)) + f(eps));
        want[i] = f(want[i]! + f(f(m[i]! * f(-lr / bc1)) / denom));
      }
      opt.step([T.tensor(g, [4])]);
      const got = p.toArray();
      got.forEach((x, i) =>
        assert.ok(Math.abs(x - want[i]!) <= 2 ** -22 * Math.abs(want[i]!), `step ${step} p[${i}] ${x} vs ${want[i]}`),
      );
    });
    p.dispose();
  });

  test('a null gradient leaves the parameter and its step count alone', () => {
    const a = T.keep(T.tensor([1, 2], [2]));
    const b = T.keep(T.tensor([3], [1]));
    const opt = new ParamsAdam([a, b], 0.1, 0);
    opt.step([T.tensor([1, -1], [2]), null]);
    assert.deepEqual(b.toArray(), [3]);
    // Adam's first step is lr·sign(g) up to eps
    assert.ok(Math.abs(a.toArray()[0]! - 0.9) < 1e-6 && Math.abs(a.toArray()[1]! - 2.1) < 1e-6);
    a.dispose();
    b.dispose();
  });
});

describe('trained parameters', () => {
  test('substring match: GPT-2 trains c_proj weight and bias; a ".weight" template only the weight', () => {
    const gpt2 = tinyModel('gpt2');
    assert.deepEqual(trainedParamNames(gpt2, { layers: [1], rewrite_module_tmp: 'transformer.h.{}.mlp.c_proj' }).sort(), [
      'transformer.h.1.mlp.c_proj.bias',
      'transformer.h.1.mlp.c_proj.weight',
    ]);
    assert.deepEqual(trainedParamNames(gpt2, { layers: [0, 1], rewrite_module_tmp: 'transformer.h.{}.mlp.c_proj.weight' }), [
      'transformer.h.0.mlp.c_proj.weight',
      'transformer.h.1.mlp.c_proj.weight',
    ]);
    assert.throws(
      () => trainedParamNames(gpt2, { layers: [7], rewrite_module_tmp: 'transformer.h.{}.mlp.c_proj' }),
      /no parameter name contains "transformer\.h\.7\.mlp\.c_proj"/,
    );
    gpt2.dispose();
  });
});

describe('training loop', () => {
  test('the L∞ box holds every |Δ| within norm_constraint, and the box is reached', () => {
    const model = tinyModel('gpt2');
    const nc = 1e-3;
    const hp: FTHParams = { ...FT_M_PRESETS['tiny-gpt2']!, lr: 1e-2, num_steps: 4, norm_constraint: nc };
    const run = executeFT(model, charTokenizer, REQS, hp);
    assert.equal(run.deltas.size, 2);
    for (const [name, d] of run.deltas) {
      const w = model.param(name).toArray();
      const a = d.toArray();
      // W_orig ± nc is rounded to float32 once: allow one ulp of W
      // (the bound itself is float32: torch casts the Python scalar to the tensor dtype)
      a.forEach((x, i) =>
        assert.ok(Math.abs(x) <= Math.fround(nc) + 2 ** -23 * Math.abs(w[i]!) * 2, `${name}[${i}] |Δ| ${Math.abs(x)} > ${nc}`),
      );
      assert.ok(Math.max(...a.map(Math.abs)) > 0.99 * nc, `${name}: box never reached`);
      d.dispose();
    }
    model.dispose();
  });

  test('a batch whose loss is < 1e-2 takes no step; an epoch with mean loss < 1e-2 ends training', () => {
    const model = tinyModel('llama');
    const easy: EditRequest = { prompt: 'abc de', subject: 'abc', target_new: 'x' };
    const hard: EditRequest = { prompt: 'fg hij', subject: 'fg', target_new: 'q' };
    // make lm_head score the easy target with logit 40 at the easy prompt's last position
    const [tok] = tokenizeRequests(charTokenizer, [easy], { legacy_target_space: false });
    const ids = T.tensor(tok!.promptIds, [1, tok!.promptIds.length], 'int32');
    const h = T.noGrad(() => model.forward({ ids, logits: 'none' }).hidden!); // [1, T, D]
    const hLast = T.select(T.select(h, 0, 0), 0, tok!.promptIds.length - 1).toArray();
    const n2 = hLast.reduce((s, x) => s + x * x, 0);
    const head = model.param('lm_head.weight'); // [V, D]
    const t0 = tok!.targetIds[0]!;
    assert.equal(tok!.targetIds.length, 1);
    const row = T.tensor(
      hLast.map((x) => (40 * x) / n2),
      [1, hLast.length],
    );
    T.assign(T.narrowView(head, 0, t0, t0 + 1), row);

    const hp = tinyHp('prompt_last', { batch_size: 1, num_steps: 3 });
    // easy alone: loss < 1e-2 in epoch 0 → no step, and training stops after that epoch
    const onlyEasy = executeFT(model, charTokenizer, [easy], hp);
    assert.equal(onlyEasy.epochs, 1);
    assert.ok(onlyEasy.losses[0]![0]! < 1e-2);
    for (const d of onlyEasy.deltas.values()) assert.ok(d.toArray().every((x) => x === 0));
    // easy + hard in one epoch, batch size 1: the easy batch takes no Adam step, so Δ equals hard alone
    const both = executeFT(model, charTokenizer, [easy, hard], { ...hp, num_steps: 1 });
    const hardOnly = executeFT(model, charTokenizer, [hard], { ...hp, num_steps: 1 });
    assert.ok(both.losses[1]![0]! >= 1e-2);
    for (const [name, d] of both.deltas) {
      assert.deepEqual(bytesOf(d), bytesOf(hardOnly.deltas.get(name)!), `${name}: the easy batch stepped`);
      assert.ok(d.toArray().some((x) => x !== 0));
    }
    for (const r of [onlyEasy, both, hardOnly]) for (const d of r.deltas.values()) d.dispose();
    model.dispose();
  });

  test('apply writes W + Δ through the WeightEditor; restore() is bit-exact; apply: false leaves the model alone', () => {
    const model = tinyModel('gpt2');
    const names = ['transformer.h.0.mlp.c_proj.weight', 'transformer.h.0.mlp.c_proj.bias'];
    const before = names.map((n) => bytesOf(model.param(n)));
    const untouched = bytesOf(model.param('transformer.h.1.mlp.c_proj.weight'));
    const hp: FTHParams = { ...FT_M_PRESETS['tiny-gpt2']!, num_steps: 3 };
    const res = ftM.apply(model, [REQS[0]!], hp, { tokenizer: charTokenizer });
    assert.equal(res.applied, true);
    assert.deepEqual([...res.deltas.keys()].sort(), [...names].sort());
    names.forEach((n, i) => {
      assert.notDeepEqual(bytesOf(model.param(n)), before[i]);
      // the model holds exactly float32(W_orig + Δ)
      const want = T.add(T.tensor(new Float32Array(before[i]!.buffer), model.param(n).shape), res.deltas.get(n)!);
      assert.deepEqual(bytesOf(model.param(n)), bytesOf(want));
    });
    const d = res.requests[0]!;
    assert.ok(d.scalars['post_target_nll']! < d.scalars['pre_target_nll']!);
    res.restore();
    names.forEach((n, i) => assert.deepEqual(bytesOf(model.param(n)), before[i]));
    assert.deepEqual(bytesOf(model.param('transformer.h.1.mlp.c_proj.weight')), untouched);
    res.dispose();

    const dry = ftL.apply(
      model,
      [REQS[0]!],
      { ...FT_L_PRESETS['tiny-gpt2']!, num_steps: 2 },
      { tokenizer: charTokenizer, apply: false },
    );
    assert.equal(dry.applied, false);
    assert.ok([...dry.deltas.values()].some((t) => t.toArray().some((x) => x !== 0)));
    names.forEach((n, i) => assert.deepEqual(bytesOf(model.param(n)), before[i]));
    dry.dispose();
    model.dispose();
  });

  test('ctx.transformDelta (RECT hook) decides what is applied and reported', () => {
    const model = tinyModel('llama');
    const w = 'model.layers.0.mlp.down_proj.weight';
    const before = bytesOf(model.param(w));
    const res = ftM.apply(model, [REQS[1]!], tinyHp('target_new', { num_steps: 2 }), {
      tokenizer: charTokenizer,
      transformDelta: (_name, delta) => T.mul(delta, 0),
    });
    assert.ok(
      res.deltas
        .get(w)!
        .toArray()
        .every((x) => x === 0),
    );
    assert.deepEqual(bytesOf(model.param(w)), before);
    res.dispose();
    model.dispose();
  });
});

describe('batches', () => {
  for (const objective of ['prompt_last', 'target_new'] as const) {
    test(`${objective}: a batch of 3 requests of different lengths (right padding) gives each request its unpadded loss`, () => {
      const model = tinyModel('llama');
      const toks = tokenizeRequests(charTokenizer, REQS, { legacy_target_space: false });
      const build = (xs: typeof toks) =>
        objective === 'prompt_last'
          ? promptLastBatch(xs, { pad: 0, unk: 3, legacyLastIndex: false })
          : targetNewBatch(
              xs.map((e) => ({ ids: e.jointIds, promptLength: e.promptIds.length })),
              { pad: 0 },
            );
      const loss = objective === 'prompt_last' ? promptLastLoss : targetNewLoss;
      const batch = build(toks);
      const together = T.noGrad(() => loss(model, batch)).toArray();
      batch.dispose();
      toks.forEach((e, i) => {
        const b1 = build([e]);
        const alone = T.noGrad(() => loss(model, b1)).item();
        b1.dispose();
        assert.ok(Math.abs(together[i]! - alone) <= 1e-5 * Math.abs(alone), `request ${i}: ${together[i]} vs ${alone}`);
      });
      const method = objective === 'prompt_last' ? ftL : ftM;
      const res = method.apply(model, REQS, tinyHp(objective, { batch_size: 3, num_steps: 3 }), { tokenizer: charTokenizer });
      assert.equal(res.requests.length, 3);
      res.requests.forEach((r, i) => {
        assert.equal(r.losses.length, 3);
        assert.ok(Math.abs(r.losses[0]! - together[i]!) <= 1e-5 * together[i]!);
      });
      for (const d of res.deltas.values()) assert.ok(d.toArray().every(Number.isFinite) && d.toArray().some((x) => x !== 0));
      res.restore();
      res.dispose();
      model.dispose();
    });
  }

  test('legacyLastIndex reads mask.sum − 1 of a left-padded batch: wrong for shorter rows, same for the longest', () => {
    const model = tinyModel('gpt2');
    const toks = tokenizeRequests(charTokenizer, REQS, { legacy_target_space: false });
    const fixed = promptLastBatch(toks, { pad: 0, unk: 3, legacyLastIndex: false });
    const legacy = promptLastBatch(toks, { pad: 0, unk: 3, legacyLastIndex: true });
    const a = T.noGrad(() => promptLastLoss(model, fixed)).toArray();
    const b = T.noGrad(() => promptLastLoss(model, legacy)).toArray();
    // request 1 is the longest prompt: left padding does not move it
    assert.ok(Math.abs(a[1]! - b[1]!) < 1e-5 * a[1]!);
    assert.ok(Math.abs(a[0]! - b[0]!) > 1e-3 && Math.abs(a[2]! - b[2]!) > 1e-3);
    fixed.dispose();
    legacy.dispose();
    model.dispose();
  });

  test('FT-L masks unk target tokens and divides by the tokens scored', () => {
    const batch = promptLastBatch(
      [
        { promptIds: [5, 6], targetIds: [7, 3, 8] },
        { promptIds: [9], targetIds: [3, 10] },
      ],
      { pad: 0, unk: 3, legacyLastIndex: false },
    );
    assert.deepEqual(batch.targetMask!.toArray(), [1, 0, 1, 0, 1, 0]);
    assert.deepEqual(batch.counts.toArray(), [2, 1]);
    assert.deepEqual(batch.readRows!.toArray(), [1, 2]);
    batch.dispose();
    assert.throws(
      () => promptLastBatch([{ promptIds: [5], targetIds: [3] }], { pad: 0, unk: 3, legacyLastIndex: false }),
      /no target token/,
    );
  });
});

describe('hparams', () => {
  const yaml = {
    alg_name: 'FT',
    model_name: './hugging_cache/gpt2-xl',
    device: 4,
    layers: [0],
    num_steps: 25,
    batch_size: 3,
    max_length: 40,
    lr: '5e-4',
    weight_decay: 0,
    kl_factor: 0,
    norm_constraint: '5e-4',
    objective_optimization: 'prompt_last',
    rewrite_module_tmp: 'transformer.h.{}.mlp.c_proj',
    layer_module_tmp: 'transformer.h.{}',
    mlp_module_tmp: 'transformer.h.{}.mlp',
    attn_module_tmp: 'transformer.h.{}.attn',
    ln_f_module: 'transformer.ln_f',
    lm_head_module: 'transformer.wte',
    model_parallel: false,
  };

  test('the EasyEdit gpt2-xl YAML parses to the gpt2-xl preset', () => {
    assert.deepEqual(ftL.parseHParams(yaml, 'gpt2-xl.yaml'), ftL.presets['gpt2-xl']);
  });

  test('objective mismatch, bad values and unknown fields are errors', () => {
    assert.throws(() => ftM.parseHParams(yaml, 'gpt2-xl.yaml'), /objective_optimization is "prompt_last" but this is FT-M/);
    assert.throws(
      () => ftL.parseHParams({ ...yaml, objective_optimization: 'other' }, 'x.yaml'),
      /field "objective_optimization": expected one of "prompt_last", "target_new", got "other" \(prompt_last = FT-L/,
    );
    assert.throws(() => ftL.parseHParams({ ...yaml, layers: [] }, 'x.yaml'), /"layers" is empty/);
    assert.throws(() => ftL.parseHParams({ ...yaml, nrom_constraint: 1 }, 'x.yaml'), /unknown field\(s\) "nrom_constraint"/);
    assert.throws(() => ftL.parseHParams({ ...yaml, alg_name: 'ROME' }, 'x.yaml'), /alg_name is "ROME"/);
  });

  test("kmeng01 JSON files without objective_optimization take the method's objective; norm_constraint false", () => {
    const drop = new Set([
      'objective_optimization',
      'alg_name',
      'model_name',
      'device',
      'max_length',
      'model_parallel',
      'batch_size',
    ]);
    const json = Object.fromEntries(Object.entries(yaml).filter(([k]) => !drop.has(k)));
    const hp = parseFTHParams({ ...json, layers: [1], norm_constraint: false }, 'gpt2-xl_unconstr.json', 'prompt_last');
    assert.deepEqual(hp, FT_L_PRESETS['gpt2-xl/original-unconstrained']);
  });
});
