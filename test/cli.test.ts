/**
 * The command line, run as a user would (`bin/lmedit.js` in a child process): doctor, generate,
 * inspect, forward (its dump equals an in-process forward), edit with --save-delta and
 * --context-templates (the delta equals a direct ROME run), and clear errors for bad input.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/tensor/index.js';
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors.js';
import { openModel, leftPad } from '../src/models/index.js';
import { rome } from '../src/edit/rome/index.js';
import { modelDir, skipNoShared } from './golden/shared.js';

const bin = resolve(fileURLToPath(new URL('../bin/lmedit.js', import.meta.url)));

function lmedit(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('lmedit CLI', () => {
  test('doctor --json describes the backend and a measured GFLOP/s', () => {
    const r = lmedit('doctor', '--json', '--n', '128');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as { name: string; gemm: { gflops: number }; threads: number };
    assert.ok(['native', 'reference'].includes(j.name));
    assert.ok(j.gemm.gflops > 0 && j.threads >= 1);
  });

  test('unknown method and malformed requests are clear errors', () => {
    const a = lmedit('edit', '--model', modelDir('stories260K'), '--method', 'nope', '--request', '{}');
    assert.notEqual(a.code, 0);
    assert.match(a.err, /unknown method "nope"/);
  });

  test('train --world --stop-at-recall stops at the first evaluation that reaches it; a bad share is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmedit-train-stop-'));
    try {
      const out = join(dir, 'model');
      const common = ['train', '--world', '--size', 'tiny', '--hidden', '32', '--layers', '1', '--epochs', '30', '--quiet'];
      // 30 epochs of the tiny world are ~780 steps; recall is evaluated every 500
      const r = lmedit(...common, '--stop-at-recall', '0.001', '--out', out);
      assert.equal(r.code, 0, r.err);
      const report = JSON.parse(r.out) as { steps: number; stopReason: string; spec: { stopAtRecall: number } };
      assert.equal(report.stopReason, 'target');
      assert.equal(report.steps, 500);
      assert.equal(report.spec.stopAtRecall, 0.001);
      const saved = JSON.parse(readFileSync(join(out, 'world-model.json'), 'utf8')) as { stopReason: string };
      assert.equal(saved.stopReason, 'target');
      const bad = lmedit(...common, '--stop-at-recall', '1.5', '--out', join(dir, 'bad'));
      assert.notEqual(bad.code, 0);
      assert.match(bad.err, /--stop-at-recall must be in \(0, 1\], got "1.5"/);
      assert.ok(!existsSync(join(dir, 'bad')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('on stories260K', { skip: skipNoShared }, () => {
    const dir = modelDir('stories260K');

    test('generate --json gives the greedy continuation', () => {
      const r = lmedit('generate', '--model', dir, '--prompt', 'Once upon a time', '--max-new-tokens', '8', '--json');
      assert.equal(r.code, 0, r.err);
      const j = JSON.parse(r.out.trim().split('\n')[0]!) as { completion: string; tokens: number[] };
      assert.equal(j.tokens.length, 8);
      assert.match(j.completion, /^, there was a little girl/);
    });

    test('inspect lists architecture and hook points', () => {
      const r = lmedit('inspect', '--model', dir);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /parameters\s+260,032/);
      assert.match(r.out, /model\.layers\.\{\}\.mlp\.down_proj/);
    });

    test('forward --hidden --keys dumps what an in-process forward computes', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-cli-'));
      try {
        const rows = [
          [1, 403, 407, 261],
          [1, 291, 280],
        ];
        writeFileSync(join(tmp, 'ids.json'), JSON.stringify(rows));
        const out = join(tmp, 'out.safetensors');
        const r = lmedit('forward', '--model', dir, '--input', join(tmp, 'ids.json'), '--save', out, '--hidden', '--keys', '2');
        assert.equal(r.code, 0, r.err);
        const dump = loadSafetensors(out).tensors;
        assert.deepEqual(dump.get('logits')!.shape, [2, 4, 512]);
        assert.deepEqual(dump.get('hidden.4')!.shape, [2, 4, 64]);
        assert.deepEqual(dump.get('mlp_keys.2')!.shape, [2, 4, 172]);
        const { model } = await openModel(dir);
        const { ids, mask } = leftPad(rows, model.config.padTokenId ?? model.config.eosTokenId ?? 0);
        const logits = T.noGrad(() => model.forward({ ids, attentionMask: mask }).logits!);
        assert.deepEqual(dump.get('logits')!.toArray(), logits.toArray());
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('edit --method rome --save-delta equals a direct ROME run with the same templates', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-cli-'));
      try {
        const templates = ['{}', 'The sky. {}', 'I am told. {}'];
        writeFileSync(join(tmp, 't.json'), JSON.stringify(templates));
        const req = { prompt: 'Tom had a big red', subject: 'Tom', target_new: 'car' };
        const deltaFile = join(tmp, 'delta.safetensors');
        const r = lmedit(
          'edit',
          '--model',
          dir,
          '--method',
          'rome',
          '--request',
          JSON.stringify(req),
          '--context-templates',
          join(tmp, 't.json'),
          '--save-delta',
          deltaFile,
          '--json',
        );
        assert.equal(r.code, 0, r.err);
        const line = JSON.parse(r.out.trim().split('\n')[0]!) as {
          before: { nll: number };
          after: { nll: number };
          weight_change: { manhattan: number };
        };
        assert.ok(line.after.nll < line.before.nll, 'the edit lowers the target NLL');
        const saved = loadSafetensors(deltaFile).tensors.get('model.layers.2.mlp.down_proj.weight')!;
        const { model, tokenizer } = await openModel(dir);
        const direct = rome.apply(model, [req], rome.presets['stories260K']!, { tokenizer, contextTemplates: templates });
        const d = direct.deltas.get('model.layers.2.mlp.down_proj.weight')!;
        const a = saved.toArray();
        const b = d.toArray();
        let max = 0;
        for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
        assert.ok(max < 1e-6, `saved ΔW differs from a direct run by ${max}`);
        assert.ok(Math.abs(line.weight_change.manhattan - b.reduce((s, x) => s + Math.abs(x), 0)) < 1e-3);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('edit with no method or request (the README main job) makes the demo ROME edit and shows it', () => {
      const r = lmedit('edit', '--model', dir);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /editing the demo request/);
      assert.match(r.out, /before: Tom had a big red ball/);
      assert.match(r.out, /after: {2}Tom had a big red car/);
    });

    test('--save and --save-delta describe the same model; independent edits cannot be saved as one; targets are not overwritten', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-cli-save-'));
      try {
        const reqs = [
          { prompt: 'Tom had a big red', subject: 'Tom', target_new: 'car' },
          { prompt: 'Lily liked her blue', subject: 'Lily', target_new: 'hat' },
          { prompt: 'The dog ran to the', subject: 'dog', target_new: 'park' },
        ];
        const base = ['edit', '--model', dir, '--request', JSON.stringify(reqs)];
        const refused = lmedit(...base, '--save', join(tmp, 'no'));
        assert.notEqual(refused.code, 0);
        assert.match(refused.err, /--save: 3 independent edits \(no --sequential\) leave no single edited model/);
        assert.equal(existsSync(join(tmp, 'no')), false);

        const perEdit = join(tmp, 'each.safetensors');
        assert.equal(lmedit(...base, '--save-delta', perEdit).code, 0);
        const names = [...loadSafetensors(perEdit).tensors.keys()].sort();
        assert.deepEqual(
          names,
          [0, 1, 2].map((i) => `edit${i}/model.layers.2.mlp.down_proj.weight`),
        );

        const out = join(tmp, 'seq');
        const delta = join(tmp, 'seq.safetensors');
        const seq = lmedit(...base, '--sequential', '--save', out, '--save-delta', delta);
        assert.equal(seq.code, 0, seq.err);
        const p = 'model.layers.2.mlp.down_proj.weight';
        const { model: original } = await openModel(dir);
        const { model: saved } = await openModel(out);
        const total = loadSafetensors(delta).tensors.get(p)!.toArray();
        const w0 = original.param(p).toArray();
        const w1 = saved.param(p).toArray();
        let max = 0;
        let norm = 0;
        for (let i = 0; i < w0.length; i++) {
          max = Math.max(max, Math.abs(w1[i]! - w0[i]! - total[i]!));
          norm += total[i]! ** 2;
        }
        assert.ok(norm > 0 && max < 1e-5, `saved − original differs from the delta file by ${max}`);
        original.dispose();
        saved.dispose();

        const again = lmedit(...base, '--sequential', '--save-delta', delta);
        assert.notEqual(again.code, 0);
        assert.match(again.err, /--save-delta .* it exists; pass --overwrite to replace it/);
        assert.equal(lmedit(...base, '--sequential', '--save-delta', delta, '--overwrite').code, 0);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('--rect with no value keeps 40 %; --rect-mode alone turns the regulariser on; pca-lowrank; --dtype', () => {
      const req = JSON.stringify({ prompt: 'Tom had a big red', subject: 'Tom', target_new: 'car' });
      const run = (...extra: string[]) => lmedit('edit', '--model', dir, '--request', req, '--gen-tokens', '2', ...extra);
      const plain = run('--rect');
      assert.equal(plain.code, 0, plain.err);
      assert.match(plain.err, /, rect keep 0\.4,/);
      const random = run('--rect-mode', 'random');
      assert.equal(random.code, 0, random.err);
      assert.match(random.err, /--rect-mode random without --rect: keeping 0\.4/);
      assert.match(random.err, /, random keep 0\.4,/);
      const low = run('--rect', '0.25', '--rect-mode', 'pca-lowrank');
      assert.equal(low.code, 0, low.err);
      assert.match(low.err, /, pca-lowrank keep 0\.25,/);
      assert.match(run('--rect', '2').err, /--rect must be a fraction in \(0, 1\], got 2/);
      assert.match(run('--rect', 'abc').err, /--rect must be a number, got "abc"/);
      assert.match(run('--rect-mode', 'lowrank').err, /--rect-mode must be one of rect, random, pca, pca-lowrank/);
      const bf = run('--dtype', 'bfloat16');
      assert.equal(bf.code, 0, bf.err);
      assert.match(run('--dtype', 'fp8').err, /--dtype must be one of/);
    });

    test('bad numbers are refused where they enter, naming the flag', () => {
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-cli-num-'));
      try {
        const cases: [string[], RegExp][] = [
          [['edit', '--limit', '-5'], /--limit must be a positive integer, got "-5"/],
          [['edit', '--limit', '1.5'], /--limit must be a positive integer/],
          [['edit', '--offset', '-1'], /--offset must be a non-negative integer/],
          [['edit', '--batch-size', '1.5'], /--batch-size must be a positive integer/],
          [['edit', '--seed', 'abc'], /--seed must be a non-negative integer/],
          [['stats', '--tokens', '0'], /--tokens must be a positive integer/],
          [['stats', '--layers', 'abc'], /--layers: "abc" is not a layer of this model \(0\.\.4\)/],
          [['generate', '--max-new-tokens', '1000000000'], /--max-new-tokens must be a non-negative integer up to 1000000/],
          [['generate', '--max-new-tokens', '600'], /exceeds the model's context of 512 positions/],
          [['generate', '--sample', '--top-p', '2'], /--top-p must be a probability mass in \(0, 1\]/],
          [['generate', '--top-k', '-1'], /--top-k must be a non-negative integer/],
        ];
        writeFileSync(join(tmp, 'ids.json'), JSON.stringify([[1, 2 ** 32]]));
        cases.push([
          ['forward', '--input', join(tmp, 'ids.json'), '--save', join(tmp, 'x.safetensors')],
          /token ids in 0\.\.511/,
        ]);
        for (const [args, want] of cases) {
          const r = lmedit(args[0]!, '--model', dir, ...args.slice(1));
          assert.notEqual(r.code, 0, args.join(' '));
          assert.match(r.err, want, args.join(' '));
          assert.doesNotMatch(r.err, /\n\s+at /, `${args.join(' ')}: no stack trace`);
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('request fields: types named, {"str": …} accepted, one "{}" per template, no empty prompt, no lone surrogates; context templates checked', () => {
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-cli-req-'));
      try {
        const edit = (req: unknown, ...extra: string[]) =>
          lmedit('edit', '--model', dir, '--request', JSON.stringify(req), '--gen-tokens', '2', ...extra);
        const base = { prompt: 'Tom had a big red', subject: 'Tom', target_new: 'car' };
        const bad: [unknown, RegExp][] = [
          [{ ...base, target_new: 5 }, /--request\[0\]: field "target_new" must be a string, got 5/],
          [{ ...base, prompt: '{} had a {} red' }, /the prompt has 2 "\{\}" placeholders/],
          [{ ...base, prompt: '' }, /--request\[0\]: empty prompt/],
          [{ ...base, subject: '\ud800' }, /field "subject" holds a lone UTF-16 surrogate/],
        ];
        for (const [req, want] of bad) {
          const r = edit(req);
          assert.notEqual(r.code, 0, JSON.stringify(req));
          assert.match(r.err, want);
          assert.doesNotMatch(r.err, /\n\s+at /);
        }
        const str = edit({ ...base, target_new: { str: 'car' } });
        assert.equal(str.code, 0, str.err);
        assert.match(str.out, /-> "car"/);
        for (const [content, want] of [
          ['{"a": 1}', /expected a non-empty JSON list of templates/],
          ['["x", "{} y"]', /entry \[0\] must be a string with one "\{\}", got "x"/],
        ] as const) {
          writeFileSync(join(tmp, 't.json'), content);
          const r = edit(base, '--context-templates', join(tmp, 't.json'));
          assert.notEqual(r.code, 0);
          assert.match(r.err, want);
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('hparams are checked against the model and their ranges (an exported preset, edited)', () => {
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-cli-hp-'));
      try {
        const file = join(tmp, 'rome.yaml');
        const exp = lmedit('hparams', 'export', 'stories260K', '--method', 'rome', '--out', file);
        assert.equal(exp.code, 0, exp.err);
        const text = readFileSync(file, 'utf8');
        for (const [from, to, want] of [
          [/^v_loss_layer: \d+$/m, 'v_loss_layer: 40', /ROME: v_loss_layer is 40, but this model's blocks are 0\.\.4/],
          [/^layers:\n( {2}- \d+\n)+/m, 'layers:\n  - 7\n', /ROME: layer 7 is outside the model's layers \[0, 5\)/],
          [/^mom2_n_samples: \d+$/m, 'mom2_n_samples: -5', /mom2_n_samples must be a positive integer, got -5/],
        ] as const) {
          assert.match(text, from);
          writeFileSync(file, text.replace(from, to));
          const r = lmedit('edit', '--model', dir, '--hparams', file, '--gen-tokens', '2');
          assert.notEqual(r.code, 0);
          assert.match(r.err, want);
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('model files: a config promising absent layers, NaN weights and an over-long prompt are clear errors', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-cli-model-'));
      try {
        const copy = (sub: string) => {
          const d = join(tmp, sub);
          cpSync(dir, d, { recursive: true });
          cpSync(join(dir, '..', 'tok512.bin'), join(d, 'tok512.bin'));
          return d;
        };
        const big = copy('big');
        const cfg = JSON.parse(readFileSync(join(big, 'config.json'), 'utf8')) as Record<string, unknown>;
        writeFileSync(join(big, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 1e9 }));
        const r1 = lmedit('generate', '--model', big, '--max-new-tokens', '2');
        assert.notEqual(r1.code, 0);
        assert.match(r1.err, /config\.json: 1000000000 layers, but the checkpoint holds only \d+ tensors/);

        const nan = copy('nan');
        const { tensors } = loadSafetensors(join(nan, 'model.safetensors'));
        const name = 'model.layers.1.mlp.up_proj.weight';
        tensors.set(name, T.full(tensors.get(name)!.shape, Number.NaN));
        saveSafetensors(join(nan, 'model.safetensors'), tensors, { format: 'pt' });
        const r2 = lmedit('generate', '--model', nan, '--max-new-tokens', '2');
        assert.notEqual(r2.code, 0);
        assert.match(r2.err, /tensor model\.layers\.1\.mlp\.up_proj\.weight holds NaN or infinite values/);

        const long = JSON.stringify({ prompt: `${'Tom ran. '.repeat(300)}Tom had a big red`, subject: 'Tom', target_new: 'car' });
        const r3 = lmedit('edit', '--model', dir, '--request', long);
        assert.notEqual(r3.code, 0);
        assert.match(r3.err, /prompt and target are \d+ tokens, more than the model's context of 512 positions/);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('--prune restrains the total ΔW of sequential edits (saved model and delta agree); it needs --sequential', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-prune-'));
      try {
        const data = join(tmp, 'reqs.json');
        writeFileSync(
          data,
          JSON.stringify([
            { prompt: 'Tom had a big red', subject: 'Tom', target_new: 'car' },
            { prompt: 'Lily went to the', subject: 'Lily', target_new: 'park' },
            { prompt: 'The cat sat on the', subject: 'The cat', target_new: 'mat' },
          ]),
        );
        const delta = join(tmp, 'delta.safetensors');
        const saved = join(tmp, 'saved');
        const r = lmedit(
          'edit',
          '--model',
          dir,
          '--method',
          'rome',
          '--data',
          data,
          '--sequential',
          '--prune',
          '--save-delta',
          delta,
          '--save',
          saved,
        );
        assert.equal(r.code, 0, r.err);
        const m = /PRUNE (\S+): σ̄ = σ₁\(W₀\) ([\d.]+); σ₁\(ΔW\) ([\d.]+) → ([\d.]+); (\d+) singular value/.exec(r.err);
        assert.ok(m, r.err);
        const [sbar, before, after] = [Number(m[2]), Number(m[3]), Number(m[4])];
        assert.ok(before > sbar && after < before, `σ₁ ${before} → ${after} against σ̄ ${sbar}`);
        const d = loadSafetensors(delta).tensors.get(m[1]!)!;
        const w0 = (await openModel(dir)).model.param(m[1]!);
        const w1 = (await openModel(saved)).model.param(m[1]!);
        const diff = T.sub(w1, w0);
        const err = Math.max(...T.sub(diff, d).toArray().map(Math.abs));
        assert.ok(err < 1e-4, `saved − original = the restrained ΔW (max |Δ| ${err})`);
        assert.ok(
          Math.abs(T.svd(T.cast(d, 'float64')).s.toArray()[0]! - after) < 1e-3 * after,
          'the delta file holds σ₁ = F(σ₁)',
        );
        const single = lmedit('edit', '--model', dir, '--method', 'rome', '--data', data, '--prune', 'log2');
        assert.notEqual(single.code, 0);
        assert.match(single.err, /--prune restrains the total ΔW of sequential edits: add --sequential/);
        const bad = lmedit('edit', '--model', dir, '--method', 'rome', '--data', data, '--sequential', '--prune', 'log3');
        assert.match(bad.err, /--prune must be one of log, log2, log1.5, log1.2, linear/);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('--data world needs a world model (edit and eval metrics say so)', () => {
      for (const cmd of [['edit'], ['eval', 'metrics']]) {
        const r = lmedit(...cmd, '--model', dir, '--method', 'rome', '--data', 'world', '--limit', '1');
        assert.notEqual(r.code, 0);
        assert.match(r.err, /--data world: this model has no world/);
      }
    });

    test('a subject missing from the prompt is rejected before anything runs', () => {
      const r = lmedit(
        'edit',
        '--model',
        dir,
        '--method',
        'rome',
        '--request',
        JSON.stringify({ prompt: 'Tom had a big red', subject: 'Lily', target_new: 'car' }),
      );
      assert.notEqual(r.code, 0);
      assert.match(r.err, /subject "Lily" does not occur in the prompt/);
    });
  });
});
