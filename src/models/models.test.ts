/**
 * Loading, saving, config validation (with a fuzz over mutated config.json files), sampling
 * options, stop conditions, scoring and the hook API, on the real stories260K model and the
 * tiny goldens' models when ../shared is present.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../tensor/index.js';
import { maxAbsDiff } from '../tensor/testing.js';
import { generate, loadModel, normalizeConfig, openModel, saveModel, scoreContinuations, Trace, type CausalLM } from './index.js';
import { saveSafetensors } from '../io/safetensors.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { initModel, smallModelConfig } from '../train/init.js';
import { generateWorld, writeTokenizer, writeWorld } from '../world/index.js';
import { modelDir, skipNoShared } from '../testing.js';
import { topKIndices } from './generate.js';

test('topKIndices equals a stable descending sort cut to k (ties by lower index)', () => {
  const rng = new T.Rng(Number(process.env['LMEDIT_TEST_SEED'] ?? Date.now() % 100000));
  for (const n of [1, 7, 513]) {
    for (const k of [1, 3, 5, n]) {
      if (k > n) continue;
      // few distinct values so ties are common
      const x = Float32Array.from({ length: n }, () => Math.floor(rng.next() * 9));
      const want = Array.from(x.keys())
        .sort((a, b) => x[b]! - x[a]! || a - b)
        .slice(0, k);
      assert.deepEqual(topKIndices(x, k), want, `n=${n} k=${k}`);
    }
  }
});

describe('config.json validation', () => {
  const base = {
    model_type: 'llama',
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 40,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
  };
  test('normalises LLaMA, Mistral, Qwen2 (qkv bias), GPT-2 and GPT-J configs', () => {
    assert.equal(normalizeConfig(base).numKvHeads, 4);
    assert.equal(normalizeConfig({ ...base, model_type: 'qwen2' }).attentionBias, true);
    const g = normalizeConfig({
      model_type: 'gpt2',
      vocab_size: 10,
      n_embd: 8,
      n_layer: 1,
      n_head: 2,
      n_positions: 16,
      layer_norm_epsilon: 1e-5,
    });
    assert.equal(g.intermediateSize, 32);
    assert.equal(g.tieWordEmbeddings, true);
    const j = normalizeConfig({
      model_type: 'gptj',
      vocab_size: 10,
      n_embd: 8,
      n_layer: 1,
      n_head: 2,
      n_positions: 16,
      layer_norm_epsilon: 1e-5,
      rotary_dim: 2,
    });
    assert.equal(j.rotaryDim, 2);
    const s = normalizeConfig({
      ...base,
      rope_scaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 8192,
      },
    });
    assert.equal(s.ropeScaling.type, 'llama3');
  });
  test('rejects unknown architectures and bad fields with the file name', () => {
    assert.throws(
      () => normalizeConfig({ ...base, model_type: 'bert' }, 'x/config.json'),
      /x\/config.json: model_type "bert" is not supported/,
    );
    assert.throws(() => normalizeConfig({ ...base, num_attention_heads: 3 }, 'c.json'), /not a multiple|divisible|positive/);
    assert.throws(() => normalizeConfig({ ...base, hidden_size: -4 }, 'c.json'), /"hidden_size" must be a positive integer/);
    assert.throws(
      () => normalizeConfig({ ...base, rope_scaling: { type: 'yarn', factor: 2 } }, 'c.json'),
      /rope_scaling type "yarn" is not supported/,
    );
    assert.throws(() => normalizeConfig([1, 2], 'c.json'), /expected a JSON object/);
  });
  test('fuzz: 3000 mutated configs give a ModelConfig or a named error, never anything else', () => {
    const rng = new T.Rng(99);
    const values: unknown[] = [null, -1, 0, 1.5, 1e12, 'x', [], {}, true, NaN, 3];
    const keys = [
      ...Object.keys(base),
      'num_key_value_heads',
      'head_dim',
      'rope_theta',
      'rope_scaling',
      'tie_word_embeddings',
      'hidden_act',
      'model_type',
    ];
    for (let i = 0; i < 3000; i++) {
      const cfg: Record<string, unknown> = { ...base };
      const n = 1 + rng.nextInt(3);
      for (let k = 0; k < n; k++) {
        const key = keys[rng.nextInt(keys.length)]!;
        if (rng.next() < 0.2) delete cfg[key];
        else cfg[key] = values[rng.nextInt(values.length)];
      }
      try {
        const c = normalizeConfig(cfg, 'fuzz.json');
        assert.ok(c.hiddenSize > 0 && Number.isInteger(c.numLayers));
      } catch (e) {
        assert.ok(e instanceof Error && e.message.startsWith('fuzz.json'), `unexpected error: ${String(e)}`);
      }
    }
  });
});

describe('stories260K: save, reload, hooks, sampling and scoring', { skip: skipNoShared }, () => {
  const dir = modelDir('stories260K');
  const model = loadModel(dir);
  const prompt = [1, 403, 407, 261, 378]; // BOS "Once upon a time"

  test('save -> reload gives bit-identical weights and logits; existing targets are not overwritten', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'lmedit-save-'));
    try {
      const out = join(tmp, 'copy');
      const w = model.param('model.layers.2.mlp.down_proj.weight');
      const snap = T.snapshot(w);
      T.addInPlace(w, T.full(w.shape, 0.01));
      saveModel(model, out, { sourceDir: dir });
      const again = loadModel(out);
      assert.deepEqual(again.param('model.layers.2.mlp.down_proj.weight').toArray(), w.toArray());
      const ids = T.tensor([prompt], undefined, 'int32');
      const a = T.noGrad(() => model.forward({ ids }).logits!);
      const b = T.noGrad(() => again.forward({ ids }).logits!);
      assert.equal(maxAbsDiff(a, b), 0);
      assert.throws(() => saveModel(model, out, { sourceDir: dir }), /exists/);
      T.restore(w, snap);
      assert.deepEqual(
        JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')),
        JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')),
      );
      again.dispose();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('a checkpoint missing a tensor or with a wrong shape is rejected naming the tensor', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'lmedit-bad-'));
    try {
      cpSync(dir, tmp, { recursive: true });
      const cfg = JSON.parse(readFileSync(join(tmp, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(tmp, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 100 }));
      assert.throws(
        () => loadModel(tmp),
        /tensor model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight has shape \[\d+, \d+\], config\.json implies/,
      );
      writeFileSync(join(tmp, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 6 }));
      assert.throws(() => loadModel(tmp), /missing \d+ tensor\(s\) a llama model needs: model\.layers\.5/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('Trace: retain keys, edit an output with gradients, stop early, unknown names', () => {
    const ids = T.tensor([prompt], undefined, 'int32');
    const key = 'model.layers.1.mlp.down_proj';
    using tr = new Trace({ retainInput: [key], stopAfter: 'model.layers.1' });
    const r = T.noGrad(() => model.forward({ ids, trace: tr }));
    assert.equal(r.stoppedAfter, 'model.layers.1');
    assert.equal(r.logits, null);
    assert.deepEqual(tr.input(key).shape, [1, 5, 172]);
    assert.throws(
      () => model.forward({ ids, trace: new Trace({ retainInput: ['model.layers.1.mlp.downproj'] }) }),
      /unknown module "model\.layers\.1\.mlp\.downproj"/,
    );
    // gradient of a target log-prob w.r.t. a vector added at the last token's MLP output
    const delta = T.zeros([64]);
    const [g] = T.grad(() => {
      const edit = new Trace({
        edit: {
          'model.layers.2.mlp': (out) => {
            const flat = T.reshape(out, [5, 64]);
            return T.reshape(T.addRows(flat, T.tensor([4], [1], 'int32'), T.reshape(delta, [1, 64])), [1, 5, 64]);
          },
        },
      });
      const { logits } = model.forward({ ids, trace: edit, logits: 'last' });
      return T.select(T.reshape(T.logSoftmax(logits!), [-1]), 0, 432);
    }, [delta]);
    assert.ok(T.norm(g!).item() > 0);
  });

  test('KV cache: appending in place, growing, and a cache continued twice (forked) all equal full forwards', () => {
    T.noGrad(() => {
      const ids = (row: number[]) => T.tensor(row, [1, row.length], 'int32');
      const free = (c: { layers: { k: T.Tensor; v: T.Tensor }[] }) => c.layers.forEach((l) => (l.k.dispose(), l.v.dispose()));
      const step = (tokens: number[], tok: number, cache?: Parameters<typeof model.forward>[0]['cache'], capacity?: number) => {
        const r = model.forward({
          ids: ids(cache ? [tok] : tokens),
          ...(cache ? { cache } : { useCache: true }),
          ...(capacity ? { cacheCapacity: capacity } : {}),
          logits: 'last',
        });
        r.hidden?.dispose();
        const want = T.tidy(() => {
          const full = model.forward({ ids: ids(cache ? [...tokens, tok] : tokens) }).logits!;
          return T.keep(T.narrow(full, 1, full.shape[1]! - 1, full.shape[1]!));
        });
        const diff = maxAbsDiff(r.logits!, want);
        r.logits!.dispose();
        want.dispose();
        return { cache: r.cache!, diff };
      };
      for (const capacity of [undefined, prompt.length, prompt.length + 8]) {
        const base = step(prompt, 0, undefined, capacity);
        // branch A appends in place; branch B continues the same base cache; then A goes on:
        // B must not have overwritten A's entry, nor A's later steps B's
        const a1 = step(prompt, 9, base.cache);
        const b1 = step(prompt, 30, base.cache);
        const a2 = step([...prompt, 9], 17, a1.cache);
        const b2 = step([...prompt, 30], 4, b1.cache);
        const a3 = step([...prompt, 9, 17], 5, a2.cache);
        for (const [name, r] of Object.entries({ base, a1, b1, a2, b2, a3 }))
          assert.ok(r.diff < 1e-4, `capacity ${capacity}, ${name}: max |Δlogit| ${r.diff}`);
        [base, a1, b1, a2, b2, a3].forEach((r) => free(r.cache));
      }
    });
  });

  test('sampling is reproducible with a seed; top-k 1 equals greedy; EOS and stop strings stop a row', () => {
    const a = generate(model, [prompt], { maxNewTokens: 12, doSample: true, temperature: 0.9, topP: 0.9, seed: 5 });
    const b = generate(model, [prompt], { maxNewTokens: 12, doSample: true, temperature: 0.9, topP: 0.9, seed: 5 });
    assert.deepEqual(a.tokens, b.tokens);
    const greedy = generate(model, [prompt], { maxNewTokens: 12 });
    const k1 = generate(model, [prompt], { maxNewTokens: 12, doSample: true, topK: 1, seed: 1 });
    assert.deepEqual(k1.tokens, greedy.tokens);
    const firstTok = greedy.tokens[0]![0]!;
    const stopped = generate(model, [prompt], { maxNewTokens: 12, eosTokenId: firstTok });
    assert.deepEqual(stopped.tokens[0], [firstTok]);
    assert.equal(stopped.finishReason[0], 'eos');
    const byString = generate(model, [prompt], {
      maxNewTokens: 30,
      stopStrings: ['X'],
      decode: (ids) => (ids.length >= 3 ? 'X' : ''),
    });
    assert.equal(byString.tokens[0]!.length, 3);
    assert.equal(byString.finishReason[0], 'stop_string');
  });

  test('scoring: greedy continuation matches, log-probs equal a manual forward', () => {
    const greedy = generate(model, [prompt], { maxNewTokens: 4 }).tokens[0]!;
    const [r] = scoreContinuations(model, [
      { prompt, continuation: greedy },
      { prompt: [1, 403], continuation: [407, 261] },
    ]);
    assert.equal(r!.greedyMatch, true);
    const ids = T.tensor([[...prompt, ...greedy]], undefined, 'int32');
    const lp = T.noGrad(() => T.logSoftmax(model.forward({ ids }).logits!));
    const manual = greedy.map((t, j) => lp.at(0, prompt.length - 1 + j, t));
    r!.tokenLogprobs.forEach((v, j) => assert.ok(Math.abs(v - manual[j]!) < 1e-5));
  });
});

describe('a saved model loads on its own, whatever its tokenizer kind', () => {
  // llama2.c tok512.bin beside the HF folder (stories260K, tiny-llama), HF tokenizer.json +
  // vocab/merges (tiny-gpt2), a world model's word-level tokenizer.json with its world.json
  const cases: { name: string; dir: () => Promise<string>; shared: boolean }[] = [
    { name: 'stories260K (llama2.c tokenizer in the parent folder)', dir: async () => modelDir('stories260K'), shared: true },
    { name: 'tiny-llama (llama2.c tokenizer beside the weights)', dir: async () => modelDir('tiny-llama'), shared: true },
    { name: 'tiny-gpt2 (tokenizer.json, vocab.json + merges.txt)', dir: async () => modelDir('tiny-gpt2'), shared: true },
    {
      name: 'a world model (word-level tokenizer.json, world.json)',
      shared: false,
      dir: async () => {
        const world = generateWorld({ seed: 3, size: 'tiny' });
        const out = mkdtempSync(join(tmpdir(), 'lmedit-world-src-'));
        await writeTokenizer(out, world);
        await writeWorld(out, world);
        const tok = await loadTokenizer(out);
        const m = randomLlamaDir(out, { vocabSize: tok.vocabSize, hiddenSize: 32, numLayers: 2, maxPositions: 32, seed: 1 });
        saveSafetensors(join(out, 'model.safetensors'), m.params, { format: 'pt' });
        m.dispose();
        return out;
      },
    },
  ];
  for (const c of cases) {
    test(c.name, { skip: c.shared ? skipNoShared : false }, async () => {
      const src = await c.dir();
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-save-tok-'));
      try {
        const opened = await openModel(src);
        const out = join(tmp, 'saved');
        saveModel(opened.model, out, { sourceDir: opened.dir, tokenizerSource: opened.tokenizerSource });
        const again = await openModel(out);
        assert.equal(again.tokenizerSource, out, 'the tokenizer comes from the saved folder itself');
        const text = 'the capital of';
        assert.deepEqual(again.tokenizer.encode(text), opened.tokenizer.encode(text));
        const ids = T.tensor([opened.tokenizer.encode(text)], undefined, 'int32');
        const a = T.noGrad(() => opened.model.forward({ ids }).logits!);
        const b = T.noGrad(() => again.model.forward({ ids }).logits!);
        assert.equal(maxAbsDiff(a, b), 0);
        if (existsSync(join(src, 'world.json'))) assert.ok(existsSync(join(out, 'world.json')), 'world.json travels');
        opened.model.dispose();
        again.model.dispose();
      } finally {
        rmSync(tmp, { recursive: true, force: true });
        if (!c.shared) rmSync(src, { recursive: true, force: true });
      }
    });
  }
});

test('saveModel removes the temporaries of killed saves and refuses a parent it cannot write', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'lmedit-save-stale-'));
  try {
    const src = join(tmp, 'src');
    mkdirSync(src);
    const model = randomLlamaDir(src, { vocabSize: 40, hiddenSize: 16, numLayers: 1, maxPositions: 16, seed: 2 });
    const stale = join(tmp, '.saved.tmp-999999999-1');
    mkdirSync(stale);
    writeFileSync(join(stale, 'model.safetensors'), 'half written');
    saveModel(model, join(tmp, 'saved'), { sourceDir: src });
    assert.ok(!existsSync(stale), 'the stale temporary of a dead process is removed');
    assert.ok(existsSync(join(tmp, 'saved', 'model.safetensors')));
    assert.deepEqual(
      readdirSync(tmp).filter((f) => f.startsWith('.')),
      [],
    );
    if (existsSync('/proc/self'))
      assert.throws(() => saveModel(model, '/proc/lmedit-x', { sourceDir: src }), /saveModel: cannot write in \/proc/);
    model.dispose();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

/** A random small LLaMA whose config.json is written into `dir` (weights are the caller's to save). */
function randomLlamaDir(
  dir: string,
  o: { vocabSize: number; hiddenSize: number; numLayers: number; maxPositions: number; seed: number },
): CausalLM {
  const config = smallModelConfig({ arch: 'llama', numHeads: 2, ...o });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return initModel(config, { seed: o.seed });
}
