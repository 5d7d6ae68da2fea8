/**
 * MEND unit checks on tiny random models (no ../shared needed): EasyEdit YAML parsing and
 * presets, Welford statistics against MEND's per-row update, checkpoint round trips and the
 * EasyEdit state_dict reader, editing through WeightEditor (RECT, bit-exact restore, batch
 * and sequential runs), the legacy batch labels, and the trainer's checkpoints (resume after
 * a crash gives bit-identical tensors), early stopping and refusals.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as T from '../../tensor/index.js';
import { maxAbsDiff } from '../../tensor/testing.js';
import { loadSafetensors, saveSafetensors } from '../../io/safetensors.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { makeDeltaTransform } from '../rect/index.js';
import { runEdits } from '../runner.js';
import type { EditRequest } from '../types.js';
import {
  clearEditorCache,
  EDIT_YAML,
  EDITOR_TENSORS,
  loadEditor,
  modelIdentity,
  readEditorDir,
  readStateDict,
  saveEditor,
  STATE_JSON,
} from './checkpoint.js';
import { captureFor } from './edit-step.js';
import { MendEditor } from './editor.js';
import { MEND_PRESETS, mendDefaults, parseMendHParams, type MendHParams } from './hparams.js';
import { mend } from './index.js';
import { editBatch, legacyPromptTargetBatch } from './inputs.js';
import { RunningStats } from './normalizer.js';
import { charTokenizer, testRecords, tinyModel } from './testing.js';
import { trainMend } from './trainer.js';

const root = mkdtempSync(join(tmpdir(), 'lmedit-mend-'));
after(() => {
  clearEditorCache();
  rmSync(root, { recursive: true, force: true });
});

// EasyEdit's hparams/MEND/gpt2-xl.yaml, field for field
const EASYEDIT_YAML = `archive: ./results/models/MEND/gpt2-xl
alg_name: "MEND"
device: 4
model_name: ./hugging_cache/gpt2-xl
model_class: GPT2LMHeadModel
tokenizer_class: GPT2Tokenizer
tokenizer_name: ./hugging_cache/gpt2-xl
model_parallel: false
inner_params:
- transformer.h.45.mlp.c_proj.weight
- transformer.h.45.mlp.c_fc.weight
- transformer.h.46.mlp.c_proj.weight
- transformer.h.46.mlp.c_fc.weight
- transformer.h.47.mlp.c_proj.weight
- transformer.h.47.mlp.c_fc.weight
alg: MEND
lr: 1e-6
edit_lr: 1e-4
lr_lr: 1e-4
lr_scale: 1.0
seed: 42
cedit: 0.1
cloc: 1.0
cbase: 1.0
dropout: 0.0
train_base: False
no_grad_layers: null
one_sided: False
n_hidden: 1
hidden_dim: null
init: id
norm: True
combine: True
x_only: False
delta_only: False
act: relu
rank: 1920
mlp_class: IDMLP
shared: True
batch_size: 1
model_save_pt: 5000
silent: False
max_iters: 100000
log_interval: 1000
eval_log_interval: 1000
final_eval: True
val_interval: 1000
early_stop_patience: 20000
early_stop_key: "loss/total_edit_val"
eval_only: True
half: False
debug: False
save: False
verbose: True
val_batch_size: 5
accumulate_bs: 10
val_steps: 500 # only for debug
opt: Adam
grad_clip: 100.
results_dir: ./results
`;

describe('hyperparameters', () => {
  test("EasyEdit's MEND YAML loads unchanged and equals the gpt2-xl preset (archive aside)", () => {
    const hp = parseMendHParams(parseYaml(EASYEDIT_YAML), 'gpt2-xl.yaml');
    assert.equal(hp.archive, './results/models/MEND/gpt2-xl');
    assert.equal(hp.lr, 1e-6);
    assert.equal(hp.rank, 1920);
    assert.deepEqual({ ...hp, archive: null }, { ...MEND_PRESETS['gpt2-xl']!, tokenizer_name: './hugging_cache/gpt2-xl' });
  });

  test('presets follow the EasyEdit MEND YAML files (README.md, Presets)', () => {
    assert.deepEqual(
      MEND_PRESETS['gpt-j-6b']!.inner_params,
      [25, 26, 27].flatMap((l) => ['fc_in', 'fc_out'].map((m) => `transformer.h.${l}.mlp.${m}.weight`)),
    );
    assert.deepEqual(
      MEND_PRESETS['llama-2-7b']!.inner_params,
      [29, 30, 31].flatMap((l) => ['gate_proj', 'up_proj', 'down_proj'].map((m) => `model.layers.${l}.mlp.${m}.weight`)),
    );
    assert.equal(MEND_PRESETS['llama-2-7b']!.early_stop_key, 'edit/acc_val');
    for (const p of Object.values(MEND_PRESETS)) {
      assert.equal(p.legacy_mend_labels, false);
      assert.equal(p.cedit, 0.1);
      assert.equal(p.cloc, 1);
    }
  });

  test('unknown fields, unsupported settings and wrong values are errors naming the file and key', () => {
    const raw = parseYaml(EASYEDIT_YAML) as Record<string, unknown>;
    assert.throws(() => parseMendHParams({ ...raw, rnak: 3 }, 'x.yaml'), /x\.yaml: unknown field\(s\) "rnak"/);
    assert.throws(() => parseMendHParams({ ...raw, train_base: true }, 'x.yaml'), /train_base/);
    assert.throws(() => parseMendHParams({ ...raw, one_sided: true }, 'x.yaml'), /combine cannot be used/);
    assert.throws(() => parseMendHParams({ ...raw, mlp_class: 'MLP' }, 'x.yaml'), /IDMLP/);
    assert.throws(() => parseMendHParams({ ...raw, alg_name: 'ROME' }, 'x.yaml'), /alg_name is "ROME"/);
    assert.throws(() => parseMendHParams({ ...raw, inner_params: [] }, 'x.yaml'), /inner_params/);
  });
});

describe('running statistics', () => {
  test("batched Welford equals MEND's update_counter fed one row at a time", () => {
    const D = 5;
    const rng = new T.Rng(4);
    const batches = [3, 1, 7].map((n) => rng.normal([n, D], 2, 1, 'float64').toArray());
    const st = new RunningStats(D);
    batches.forEach((b) => st.update(b, b.length / D));
    // reference: m ← m + (x − m)/k; s ← s + (x − m)(x − m_new), starting from the first row
    const rows = batches.flatMap((b) => Array.from({ length: b.length / D }, (_, r) => b.slice(r * D, (r + 1) * D)));
    let m = rows[0]!.slice();
    let s = new Array<number>(D).fill(0);
    rows.slice(1).forEach((x, i) => {
      const k = i + 2;
      const mNew = m.map((mj, j) => mj + (x[j]! - mj) / k);
      s = s.map((sj, j) => sj + (x[j]! - m[j]!) * (x[j]! - mNew[j]!));
      m = mNew;
    });
    assert.equal(st.count, rows.length);
    for (let j = 0; j < D; j++) {
      assert.ok(Math.abs(st.mean[j]! - m[j]!) < 1e-12);
      assert.ok(Math.abs(st.std()[j]! - Math.sqrt(s[j]! / (rows.length - 1))) < 1e-12);
    }
    assert.throws(() => new RunningStats(2).std(), /at least 2 samples/);
  });
});

/** A tiny trained editor written to `dir` (a few iterations: enough for statistics and nonzero U). */
function trainedEditorDir(
  kind: 'gpt2' | 'llama',
  dir: string,
  hpOver: Partial<MendHParams> = {},
): { hp: MendHParams; model: ReturnType<typeof tinyModel> } {
  const model = tinyModel(kind);
  const names =
    kind === 'gpt2'
      ? ['transformer.h.1.mlp.c_fc.weight', 'transformer.h.1.mlp.c_proj.weight']
      : ['model.layers.0.mlp.down_proj.weight', 'model.layers.1.mlp.down_proj.weight', 'model.layers.1.mlp.up_proj.weight'];
  const hp = mendDefaults(names, {
    rank: 4,
    lr: 1e-2,
    lr_lr: 1e-2,
    edit_lr: 1e-2,
    accumulate_bs: 2,
    max_iters: 6,
    log_interval: 100,
    ...hpOver,
  });
  const { editor } = trainMend({ model, tokenizer: charTokenizer, hparams: hp, train: testRecords(10), outDir: dir });
  editor.dispose();
  return { hp: { ...hp, archive: dir }, model };
}

const request = (prompt: string, target: string, case_id?: number): EditRequest => ({
  prompt,
  subject: prompt.split(' ')[0]!,
  target_new: target,
  ...(case_id !== undefined ? { case_id } : {}),
});

function bytesOf(model: ReturnType<typeof tinyModel>, names: string[]): Uint8Array[] {
  return names.map((n) => new Uint8Array(T.snapshot(model.param(n)).bytes));
}

describe('editing with a trained editor', () => {
  const dir = join(root, 'editor-llama');
  const { hp, model } = trainedEditorDir('llama', dir);

  test('a checkpoint reads back into the same ΔW', () => {
    const saved = readEditorDir(dir, model, hp).editor;
    const again = join(root, 'copy');
    saveEditor(again, saved, hp, modelIdentity(model), null);
    const copy = readEditorDir(again, model, hp).editor;
    const b = editBatch(charTokenizer, [{ prompt: 'abc de', target: 'xy' }], false);
    const cap = captureFor(model, saved, b);
    T.tidy(() => {
      const d1 = T.noGrad(() => saved.deltas(cap.factors, 1));
      const d2 = T.noGrad(() => copy.deltas(cap.factors, 1));
      for (const [n, d] of d1) assert.deepEqual(d.toArray(), d2.get(n)!.toArray());
      assert.ok(Math.max(...d1.get(hp.inner_params[0]!)!.toArray().map(Math.abs)) > 0);
    });
    const json = JSON.parse(readFileSync(join(dir, 'editor.json'), 'utf8')) as {
      format: string;
      model: { arch: string };
      inner_params: { net: string; mode: number }[];
      training: { iterations: number };
    };
    assert.equal(json.format, 'lmedit-mend');
    assert.equal(json.model.arch, 'llama');
    // down_proj (13 -> 8) twice shares one network with modes 0 and 1; up_proj (8 -> 13) has its own
    assert.deepEqual(
      json.inner_params.map((p) => [p.net, p.mode]),
      [
        ['(13, 8)', 0],
        ['(13, 8)', 1],
        ['(8, 13)', 0],
      ],
    );
    assert.equal(json.training.iterations, 6);
    cap.dispose();
    b.dispose();
    saved.dispose();
    copy.dispose();
  });

  test('EasyEdit state_dict export (gtn./mend. keys, edit_lrs, model.* skipped) gives the same ΔW; pickles are refused', () => {
    const ours = loadSafetensors(join(dir, EDITOR_TENSORS), { dtype: 'keep' }).tensors;
    const exported = new Map<string, T.Tensor>();
    for (const [k, t] of ours)
      exported.set(
        k.startsWith('mend.') ? `gtn.${k.slice(5)}` : k,
        k.endsWith('.k') || k.includes('_mean') || k.includes('_std') || k.includes('_s') ? T.cast(t, 'float32') : t,
      );
    exported.set('model.model.embed_tokens.weight', T.zeros([2, 2]));
    const file = join(root, 'easyedit-export.safetensors');
    saveSafetensors(file, exported);
    const a = readEditorDir(dir, model, hp).editor;
    const b = readStateDict(file, model, { ...hp, archive: file });
    const batch = editBatch(charTokenizer, [{ prompt: 'kl mno', target: 'pq' }], false);
    const cap = captureFor(model, a, batch);
    T.tidy(() => {
      const da = T.noGrad(() => a.deltas(cap.factors, 1));
      const db = T.noGrad(() => b.deltas(cap.factors, 1));
      for (const [n, d] of da) assert.ok(maxAbsDiff(d, db.get(n)!) < 1e-6, n);
    });
    cap.dispose();
    batch.dispose();
    a.dispose();
    b.dispose();
    const pt = join(root, 'mend.pt');
    writeFileSync(pt, 'not really a pickle');
    assert.throws(() => loadEditor(pt, model, hp), /pickle.*save_file\(\{k: v\.contiguous\(\) for k, v in ckpt\["model"\]/s);
    assert.throws(() => loadEditor(null, model, { ...hp, archive: null }), /needs a trained editor/);
    assert.throws(
      () => loadEditor(dir, model, { ...hp, inner_params: [...hp.inner_params].reverse() }),
      /same names in the same order/,
    );
    const gpt2 = tinyModel('gpt2');
    assert.throws(
      () => loadEditor(file, gpt2, { ...hp, archive: file }),
      /no parameter|not found|unknown parameter|model.layers/i,
    );
    gpt2.dispose();
  });

  test('mend.apply: ΔW through WeightEditor (RECT keeps 40 %, restore is bit-exact), diagnostics per request', () => {
    const before = bytesOf(model, hp.inner_params);
    const rect = makeDeltaTransform({ mode: 'rect', keep: 0.4 });
    const res = mend.apply(model, [request('abc de', 'xyz', 3), request('fgh', 'ij', 4)], hp, {
      tokenizer: charTokenizer,
      transformDelta: rect,
    });
    assert.equal(res.method, 'MEND');
    assert.deepEqual([...res.deltas.keys()], hp.inner_params);
    for (const [name, d] of res.deltas) {
      const nz = d.toArray().filter((x) => x !== 0).length;
      assert.equal(nz, d.size - Math.floor(d.size * 0.6), `${name}: RECT keeps N − ⌊0.6 N⌋ entries`);
    }
    assert.equal(res.requests.length, 2);
    assert.equal(res.requests[0]!.case_id, 3);
    assert.ok(Number.isFinite(res.requests[1]!.scalars['post_target_nll']!));
    assert.notDeepEqual(bytesOf(model, hp.inner_params), before);
    res.restore();
    assert.deepEqual(bytesOf(model, hp.inner_params), before);
    res.dispose();
    // apply: false computes the deltas and leaves the model untouched
    const dry = mend.apply(model, [request('abc de', 'xyz')], hp, { tokenizer: charTokenizer, apply: false });
    assert.deepEqual(bytesOf(model, hp.inner_params), before);
    dry.dispose();
  });

  test('sequential editing accumulates; a batch is one stacked edit', () => {
    const before = bytesOf(model, hp.inner_params);
    const reqs = [request('abc de', 'xyz'), request('fgh', 'ij'), request('klm no', 'p')];
    const seq = runEdits(model, mend, reqs, hp, { tokenizer: charTokenizer }, { sequential: true });
    assert.equal(seq.edits, 3);
    // the model holds W + ΔW1 + ΔW2 + ΔW3
    const name = hp.inner_params[0]!;
    T.tidy(() => {
      const total = seq.results.map((r) => r.deltas.get(name)!).reduce((a, d) => T.add(a, d));
      const now = T.sub(model.param(name), total);
      const orig = T.tensor(new Float32Array(before[0]!.buffer.slice(0)), model.param(name).shape);
      assert.ok(maxAbsDiff(now, orig) < 1e-5);
    });
    for (const r of [...seq.results].reverse()) r.restore();
    assert.deepEqual(bytesOf(model, hp.inner_params), before);
    seq.results.forEach((r) => r.dispose());
    const batch = runEdits(model, mend, reqs, hp, { tokenizer: charTokenizer }, { batchSize: 3 });
    assert.equal(batch.edits, 1);
    assert.equal(batch.results[0]!.requests.length, 3);
    assert.deepEqual(bytesOf(model, hp.inner_params), before, 'single editing restores after the edit');
    batch.results.forEach((r) => r.dispose());
  });

  test('GPT-2 (Conv1D [in, out]) edits through the same path', () => {
    const gdir = join(root, 'editor-gpt2');
    const g = trainedEditorDir('gpt2', gdir);
    const res = mend.apply(g.model, [request('abc de', 'xyz')], g.hp, { tokenizer: charTokenizer });
    assert.deepEqual(res.deltas.get('transformer.h.1.mlp.c_fc.weight')!.shape, [6, 11]);
    assert.deepEqual(res.deltas.get('transformer.h.1.mlp.c_proj.weight')!.shape, [11, 6]);
    const yaml = parseYaml(readFileSync(join(gdir, EDIT_YAML), 'utf8')) as Record<string, unknown>;
    assert.equal(parseMendHParams(yaml, EDIT_YAML).archive, gdir);
    res.restore();
    res.dispose();
    g.model.dispose();
  });
});

describe('legacy batch labels (quirk 15)', () => {
  test('left padding, default positions, targets with BOS and unmasked pads aligned to the last K shifted logits', () => {
    const withBos: Tokenizer = {
      ...charTokenizer,
      bosId: 1,
      encode: (t, o) => [...(o?.addSpecialTokens === false ? [] : [1]), ...charTokenizer.encode(t)],
    };
    const b = legacyPromptTargetBatch(withBos, [
      { prompt: 'abcd', target: 'xy' },
      { prompt: 'ef', target: 'z' },
    ]);
    // sentences: [BOS a b c d x y] (7) and [BOS e f z] (4); targets [BOS x y] (3), [BOS z] (2) -> K = 3
    assert.deepEqual(b.ids.shape, [2, 7]);
    const L = 7;
    const labels = b.labels.toArray();
    const row = (r: number) => labels.slice(r * (L - 1), (r + 1) * (L - 1));
    const enc = (s: string) => charTokenizer.encode(s);
    assert.deepEqual(row(0), [-100, -100, -100, 1, ...enc('xy')]);
    assert.deepEqual(row(1), [-100, -100, -100, 0, 1, ...enc('z')], 'the pad (0) and BOS are scored');
    assert.deepEqual(b.positionIds!.toArray().slice(0, 7), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(b.attentionMask!.toArray().slice(7), [0, 0, 0, 1, 1, 1, 1]);
    b.dispose();
    const clean = editBatch(withBos, [{ prompt: 'ef', target: 'z' }], false);
    // default: prompt ids ++ target ids (no BOS in the target), only the target scored
    assert.deepEqual(clean.labels.toArray(), [-100, -100, ...enc('z')]);
    clean.dispose();
  });
});

describe('training', () => {
  const names = ['model.layers.1.mlp.down_proj.weight', 'model.layers.1.mlp.up_proj.weight'];
  const hp = mendDefaults(names, {
    rank: 3,
    lr: 1e-2,
    lr_lr: 1e-2,
    edit_lr: 1e-2,
    accumulate_bs: 3,
    max_iters: 12,
    model_save_pt: 4,
    val_interval: 5,
    val_batch_size: 2,
    log_interval: 100,
  });
  const train = testRecords(9);
  const val = testRecords(4, 99);

  test('a run killed after a checkpoint resumes to bit-identical tensors (optimizer, accumulated grads, statistics, data order)', () => {
    const model = tinyModel('llama', 'float32', 3);
    const a = join(root, 'run-a');
    const b = join(root, 'run-b');
    trainMend({ model, tokenizer: charTokenizer, hparams: hp, train, val, outDir: a }).editor.dispose();
    assert.throws(
      () =>
        trainMend({
          model,
          tokenizer: charTokenizer,
          hparams: hp,
          train,
          val,
          outDir: b,
          onIteration: (i) => {
            if (i === 9) throw new Error('killed');
          },
        }),
      /killed/,
    );
    const killed = JSON.parse(readFileSync(join(b, STATE_JSON), 'utf8')) as { iteration: number };
    assert.equal(killed.iteration, 8, 'the last checkpoint was after iteration 7');
    assert.throws(() => trainMend({ model, tokenizer: charTokenizer, hparams: hp, train, val, outDir: b }), /--resume/);
    assert.throws(
      () => trainMend({ model, tokenizer: charTokenizer, hparams: hp, train: testRecords(9, 8), val, outDir: b, resume: true }),
      /other data/,
    );
    const seen: number[] = [];
    const res = trainMend({
      model,
      tokenizer: charTokenizer,
      hparams: hp,
      train,
      val,
      outDir: b,
      resume: true,
      progress: (p) => seen.push(p.iteration),
    });
    assert.deepEqual(seen, [9, 10, 11, 12]);
    assert.equal(res.summary.iterations, 12);
    res.editor.dispose();
    const stateA = JSON.parse(readFileSync(join(a, STATE_JSON), 'utf8')) as { tensors: string; optimizerSteps: number };
    const stateB = JSON.parse(readFileSync(join(b, STATE_JSON), 'utf8')) as { tensors: string; optimizerSteps: number };
    assert.equal(stateB.optimizerSteps, stateA.optimizerSteps);
    for (const [fa, fb] of [
      [join(a, stateA.tensors), join(b, stateB.tensors)],
      [join(a, EDITOR_TENSORS), join(b, EDITOR_TENSORS)],
    ] as const) {
      const ta = loadSafetensors(fa, { dtype: 'keep' }).tensors;
      const tb = loadSafetensors(fb, { dtype: 'keep' }).tensors;
      assert.deepEqual([...tb.keys()].sort(), [...ta.keys()].sort());
      for (const [k, t] of ta) assert.deepEqual(tb.get(k)!.toArray(), t.toArray(), `${fb}: ${k}`);
    }
    model.dispose();
  });

  test('early stopping on a validation key that cannot improve, and the edit learning rates move', () => {
    const model = tinyModel('llama', 'float32', 4);
    const res = trainMend({
      model,
      tokenizer: charTokenizer,
      hparams: { ...hp, max_iters: 50, val_interval: 1, early_stop_key: 'acc/pre_val', early_stop_patience: 3 },
      train,
      val,
    });
    assert.equal(res.summary.stoppedBy, 'early_stop');
    assert.deepEqual(
      res.validations.map((v) => v.iteration),
      [0, 1, 2, 3],
    );
    assert.equal(res.summary.iteration, 0, 'the returned editor is the best one (iteration 0)');
    res.editor.dispose();
    const moved = trainMend({ model, tokenizer: charTokenizer, hparams: { ...hp, max_iters: 7 }, train });
    assert.ok(
      moved.editor.editLrs.toArray().every((x) => Math.abs(x - 1e-2) > 1e-4),
      'two Adam steps moved every α',
    );
    moved.editor.dispose();
    assert.throws(() => MendEditor.create(model, mendDefaults(['model.layers.1.mlp.gate.weight'])), /gate\.weight/);
    model.dispose();
  });
});
