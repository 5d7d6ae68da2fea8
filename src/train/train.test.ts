/**
 * The pretraining loop: tiny models learn (loss falls, ten facts memorised by greedy recall),
 * AdamW against a hand computation, the schedule, clipping, batching layouts and seeded order,
 * flat memory over steps, bit-identical resume (in process, and after SIGKILL of a child
 * process), the saved Hugging Face directory, early stopping and corpus tokenisation.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../tensor/index.js';
import { loadSafetensors } from '../io/safetensors.js';
import { loadModel } from '../models/load.js';
import type { Tokenizer } from '../tokenizer/index.js';
import {
  AdamW,
  BatchPlan,
  clipCoefficient,
  globalNorm,
  greedyRecall,
  IGNORE_INDEX,
  initModel,
  latestCheckpoint,
  listCheckpoints,
  lrAt,
  smallModelConfig,
  tokenizeCorpus,
  train,
  type TrainProgress,
} from './index.js';
import { paramBytes, tinyRun, TINY_STEPS } from './tiny-run.case.js';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'lmedit-train-'));
}

function assertSameBytes(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, x] of a) assert.ok(Buffer.from(x).equals(Buffer.from(b.get(name)!)), `${what}: ${name} differs`);
}

/** Every tensor of a checkpoint file as bytes (parameters and both moments). */
function checkpointBytes(path: string): Map<string, Uint8Array> {
  const { tensors } = loadSafetensors(path, { dtype: 'keep' });
  const out = paramBytes(tensors);
  for (const t of tensors.values()) t.dispose();
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe('learning', () => {
  // ten facts: a two-token subject and a relation token -> a one-token object shared by several facts
  const facts = Array.from({ length: 10 }, (_, i) => ({
    prompt: [3 + i, 13 + (i % 5), 20 + (i % 3)],
    answer: [25 + ((i * 7) % 6)],
  }));
  const documents = facts.map((f) => [...f.prompt, ...f.answer]);

  test('a tiny GPT-2 memorises ten facts (greedy recall 100%), loss falls, memory stays flat', async () => {
    const config = smallModelConfig({
      arch: 'gpt2',
      vocabSize: 40,
      hiddenSize: 32,
      numLayers: 2,
      numHeads: 2,
      maxPositions: 16,
      bosTokenId: 1,
      eosTokenId: 2,
    });
    const progress: TrainProgress[] = [];
    const mem: ReturnType<typeof T.memoryStats>[] = [];
    const r = await train({
      config,
      documents,
      steps: 400,
      batchSize: 4,
      lr: 3e-3,
      seed: 1,
      progressEvery: 1,
      onProgress: (p) => {
        progress.push(p);
        mem.push(T.memoryStats());
      },
      evaluate: (m) => greedyRecall(m, facts, { bosId: 1 }).accuracy,
      evalEvery: 25,
      earlyStop: { target: 1 },
    });
    try {
      assert.equal(r.stopReason, 'target');
      assert.equal(r.best, 1);
      assert.ok(r.step < 400, `stopped at ${r.step}`);
      assert.equal(greedyRecall(r.model, facts, { bosId: 1 }).accuracy, 1);
      const first = progress.slice(0, 5).reduce((a, p) => a + p.loss, 0) / 5;
      const last = progress.slice(-5).reduce((a, p) => a + p.loss, 0) / 5;
      assert.ok(last < first / 3, `loss ${first} -> ${last}`);
      assert.ok(progress.every((p) => p.tokensPerSecond > 0 && p.eta >= 0 && p.steps === 400));
      // parameters only: every step's temporaries (forward, backward, gradients) were freed
      for (const m of mem.slice(1)) assert.deepEqual(m, mem[0]);
      assert.equal(mem[0]!.tensors, r.model.params.size);
    } finally {
      r.model.dispose();
    }
  });

  test('a tiny LLaMA learns too (loss falls)', async () => {
    const config = smallModelConfig({
      arch: 'llama',
      vocabSize: 40,
      hiddenSize: 32,
      numLayers: 2,
      numHeads: 2,
      maxPositions: 16,
      bosTokenId: 1,
      eosTokenId: 2,
    });
    const r = await train({ config, documents, steps: 120, batchSize: 4, lr: 3e-3, seed: 2, progressEvery: 10 });
    try {
      assert.equal(r.stopReason, 'completed');
      assert.ok(r.history.at(-1)!.loss < r.history[0]!.loss / 2, JSON.stringify(r.history));
    } finally {
      r.model.dispose();
    }
  });
});

describe('optimizer', () => {
  test('AdamW matches a hand-computed update (decay on matrices only)', () => {
    const w = T.keep(T.tensor([[0.5, -1, 2]]));
    const b = T.keep(T.tensor([0.25, -0.75]));
    const params = new Map([
      ['h.0.mlp.c_fc.weight', w],
      ['h.0.mlp.c_fc.bias', b],
    ]);
    const [b1, b2, eps, wd] = [0.9, 0.99, 1e-8, 0.1];
    const opt = new AdamW(params, { betas: [b1, b2], eps, weightDecay: wd });
    assert.deepEqual(
      opt.slots.map((s) => s.decay),
      [true, false],
    );
    const grads = [
      [Float32Array.from([0.1, -0.2, 0.3]), Float32Array.from([1, -2])],
      [Float32Array.from([-0.05, 0.4, 0.3]), Float32Array.from([0.5, 0.5])],
    ];
    const lrs = [0.01, 0.02];
    // by hand, in double
    const p = [
      [0.5, -1, 2],
      [0.25, -0.75],
    ];
    const m = p.map((x) => x.map(() => 0));
    const v = p.map((x) => x.map(() => 0));
    for (let t = 1; t <= 2; t++) {
      const lr = lrs[t - 1]!;
      for (let k = 0; k < 2; k++) {
        for (let i = 0; i < p[k]!.length; i++) {
          const g = grads[t - 1]![k]![i]!;
          if (k === 0) p[k]![i]! *= 1 - lr * wd;
          m[k]![i] = b1 * m[k]![i]! + (1 - b1) * g;
          v[k]![i] = b2 * v[k]![i]! + (1 - b2) * g * g;
          const mHat = m[k]![i]! / (1 - b1 ** t);
          const vHat = v[k]![i]! / (1 - b2 ** t);
          p[k]![i]! -= (lr * mHat) / (Math.sqrt(vHat) + eps);
        }
      }
      opt.step(grads[t - 1]!, lr);
    }
    assert.equal(opt.t, 2);
    const got = [w.toArray(), b.toArray()];
    for (let k = 0; k < 2; k++)
      for (let i = 0; i < p[k]!.length; i++) {
        assert.ok(
          Math.abs(got[k]![i]! - p[k]![i]!) < 2e-7 * Math.max(1, Math.abs(p[k]![i]!)),
          `param ${k}[${i}]: ${got[k]![i]} vs ${p[k]![i]}`,
        );
      }
    // the first step moves every element by about lr (Adam's sign-like first step)
    w.dispose();
    b.dispose();
  });

  test('default decay skips norms, biases, embeddings and the LM head', () => {
    const model = initModel(
      smallModelConfig({
        arch: 'llama',
        vocabSize: 16,
        hiddenSize: 8,
        numLayers: 1,
        numHeads: 2,
        maxPositions: 8,
        tieWordEmbeddings: false,
      }),
    );
    const opt = new AdamW(model.params);
    const decayed = opt.slots.filter((s) => s.decay).map((s) => s.name);
    assert.deepEqual(decayed.sort(), [
      'model.layers.0.mlp.down_proj.weight',
      'model.layers.0.mlp.gate_proj.weight',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.0.self_attn.k_proj.weight',
      'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.v_proj.weight',
    ]);
    model.dispose();
  });

  test('learning rate: linear warm-up, cosine to the floor', () => {
    const s = { lr: 1, minLr: 0.1, warmupSteps: 10, totalSteps: 111 };
    const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
    close(lrAt(0, s), 0.1);
    close(lrAt(4, s), 0.5);
    close(lrAt(9, s), 1);
    close(lrAt(10, s), 1);
    close(lrAt(35, s), 0.1 + 0.45 * (1 + Math.cos(Math.PI / 4)));
    close(lrAt(60, s), 0.55);
    close(lrAt(110, s), 0.1);
    close(lrAt(500, s), 0.1);
    close(lrAt(0, { lr: 0.5, minLr: 0, warmupSteps: 0, totalSteps: 1 }), 0.5);
  });

  test('gradient clipping: global norm and the clip_grad_norm_ coefficient, applied by AdamW', () => {
    const g = [Float32Array.from([3, 4]), Float32Array.from([12])];
    assert.equal(globalNorm(g), 13);
    assert.equal(clipCoefficient(13, 1), 1 / (13 + 1e-6));
    assert.equal(clipCoefficient(13, 20), 1);
    assert.equal(clipCoefficient(13, Infinity), 1);
    // AdamW's gradScale equals clipping the gradients first (up to the float32 rounding of g·c)
    const mk = (): Map<string, T.Tensor> => new Map([['x.weight', T.keep(T.tensor([[1, 2, 3]]))]]);
    const [pa, pb] = [mk(), mk()];
    const [oa, ob] = [new AdamW(pa, { eps: 1e-3 }), new AdamW(pb, { eps: 1e-3 })];
    const grad = Float32Array.from([0.3, -0.4, 1.2]);
    const c = clipCoefficient(globalNorm([grad]), 0.5);
    for (let k = 0; k < 3; k++) {
      oa.step([grad], 0.1, c);
      ob.step([grad.map((x) => x * c)], 0.1);
    }
    const [a, b] = [pa.get('x.weight')!.toArray(), pb.get('x.weight')!.toArray()];
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-6));
    // with eps comparable to the gradients, clipping changes the update
    const pc = mk();
    const oc = new AdamW(pc, { eps: 1e-3 });
    for (let k = 0; k < 3; k++) oc.step([grad], 0.1);
    assert.ok(Math.abs(pc.get('x.weight')!.toArray()[0]! - a[0]!) > 1e-5);
    for (const p of [pa, pb, pc]) p.get('x.weight')!.dispose();
  });
});

describe('batching', () => {
  const docs = [[5, 6, 7], [8], [9, 10, 11, 12, 13, 14], [15, 16], [17, 18, 19, 20]];
  const base = { batchSize: 2, seqLen: 8, bosId: 1, eosId: 2, padId: 0, seed: 4, padMultiple: 1 };

  test('pad: one framed document per row, right-padded, pads masked; every epoch covers every document', () => {
    const plan = new BatchPlan(docs, { ...base, packing: 'auto' });
    assert.equal(plan.packing, 'pad');
    assert.equal(plan.batchesPerEpoch, 3);
    for (const epoch of [0, 1]) {
      const seen: number[][] = [];
      for (let c = 0; c < 3; c++) {
        const b = plan.batchAt(epoch * 3 + c);
        assert.equal(b.rows, 2);
        for (let r = 0; r < b.rows; r++) {
          const ids = [...b.ids.subarray(r * b.cols, (r + 1) * b.cols)];
          const tg = [...b.targets.subarray(r * b.cols, (r + 1) * b.cols)];
          assert.equal(ids[0], 1, 'starts with BOS');
          const n = tg.indexOf(IGNORE_INDEX) === -1 ? b.cols : tg.indexOf(IGNORE_INDEX);
          assert.equal(tg[n - 1], 2, 'ends with EOS');
          assert.deepEqual(ids.slice(1, n), tg.slice(0, n - 1), 'targets are the next tokens');
          assert.ok(tg.slice(n).every((t) => t === IGNORE_INDEX) && ids.slice(n).every((t) => t === 0));
          seen.push(ids.slice(1, n));
        }
        assert.equal(b.tokens, b.targets.filter((t) => t !== IGNORE_INDEX).length);
      }
      // five documents in three batches of two: the last batch is completed with a repeat
      const keys = new Set(seen.map((s) => s.join(',')));
      assert.deepEqual([...keys].sort(), docs.map((d) => d.join(',')).sort());
    }
  });

  test('order is a function of (seed, step): same seed same order, epochs and seeds differ', () => {
    const order = (seed: number, from: number): string =>
      Array.from({ length: 3 }, (_, c) =>
        [...new BatchPlan(docs, { ...base, seed, packing: 'pad' }).batchAt(from + c).ids].join(' '),
      ).join('|');
    assert.equal(order(4, 0), order(4, 0));
    const epochs = new Set([0, 3, 6, 9, 12].map((s) => order(4, s)));
    assert.ok(epochs.size > 1, 'epochs reshuffled');
    assert.notEqual(order(4, 0) + order(4, 3), order(5, 0) + order(5, 3));
  });

  test('pack: framed documents concatenated and cut into overlapping windows; long documents force it under auto', () => {
    const long = [[...Array(20).keys()].map((i) => 3 + i), [30, 31]];
    const plan = new BatchPlan(long, { ...base, packing: 'auto', seqLen: 6, batchSize: 2 });
    assert.equal(plan.packing, 'pack');
    const stream = [...plan.epochBatches(0).flat()];
    // windows of seqLen + 1 tokens with one token of overlap
    for (let k = 0; k + 1 < stream.length; k++)
      if (stream[k]!.tokens.length === 7) assert.equal(stream[k]!.tokens.at(-1), stream[k + 1]!.tokens[0]);
    const b = plan.batchAt(0);
    assert.equal(b.cols, 6);
    assert.equal(plan.batchesPerEpoch, Math.ceil(Math.ceil((20 + 2 + 2 + 2 - 1) / 6) / 2));
    // pad mode splits a long document into windows instead
    const padded = new BatchPlan(long, { ...base, packing: 'pad', seqLen: 6, batchSize: 2 });
    assert.equal(padded.unitCount, 4 + 1);
  });

  test("lossStart: tokens before a document's loss start are context only, in pad and pack layouts", () => {
    const lossStart = [2, 0, 5, 1, 0];
    for (const packing of ['pad', 'pack'] as const) {
      const plain = new BatchPlan(docs, { ...base, packing, seqLen: packing === 'pack' ? 5 : 8 });
      const masked = new BatchPlan(docs, { ...base, packing, seqLen: packing === 'pack' ? 5 : 8, lossStart });
      let ignored = 0;
      for (let s = 0; s < plain.batchesPerEpoch; s++) {
        const [a, b] = [plain.batchAt(s), masked.batchAt(s)];
        assert.deepEqual(b.ids, a.ids, 'same inputs');
        b.targets.forEach((t, i) => {
          if (t !== a.targets[i]) {
            assert.equal(t, IGNORE_INDEX);
            ignored += 1;
          }
        });
        assert.equal(b.tokens, b.targets.filter((t) => t !== IGNORE_INDEX).length);
      }
      // every masked token is a target somewhere in the epoch (some rows or windows repeat to fill the last batch)
      assert.ok(ignored >= 2 + 5 + 1, `${packing}: ${ignored} targets ignored`);
    }
    // a document's masked targets: BOS predicts nothing up to the start, then the rest and EOS count
    const one = new BatchPlan([[5, 6, 7]], { ...base, batchSize: 1, packing: 'pad', lossStart: [2] }).batchAt(0);
    assert.deepEqual([...one.ids], [1, 5, 6, 7]);
    assert.deepEqual([...one.targets], [IGNORE_INDEX, IGNORE_INDEX, 7, 2]);
    assert.throws(() => new BatchPlan(docs, { ...base, packing: 'pad', lossStart: [0] }), /lossStart has 1 entries/);
    assert.throws(() => new BatchPlan(docs, { ...base, packing: 'pad', lossStart: [9, 0, 0, 0, 0] }), /outside/);
  });

  test('batch widths round up to padMultiple (at most seqLen)', () => {
    const plan = new BatchPlan(docs, { ...base, packing: 'pad', padMultiple: 4 });
    for (let s = 0; s < 6; s++) assert.ok([4, 8].includes(plan.batchAt(s).cols));
  });
});

describe('checkpoints and resume', () => {
  test('an aborted and resumed run is bit-identical to an uninterrupted one (parameters, moments, history, evaluations)', async () => {
    const dirA = tmp();
    const dirB = tmp();
    try {
      const evaluate = (m: Parameters<typeof greedyRecall>[0]): number =>
        greedyRecall(m, [{ prompt: [5, 6], answer: [7, 8] }], { bosId: 1 }).predicted[0]![0]!;
      const plain = await train(tinyRun({ evaluate, evalEvery: 5 }));
      const a = await train(tinyRun({ checkpointDir: dirA, evaluate, evalEvery: 5 }));
      assert.equal(a.stopReason, 'completed');
      // checkpointing does not perturb the run
      assertSameBytes(paramBytes(plain.model.params), paramBytes(a.model.params), 'with/without checkpoints');

      const ctl = new AbortController();
      const b1 = await train(
        tinyRun({
          checkpointDir: dirB,
          evaluate,
          evalEvery: 5,
          signal: ctl.signal,
          outDir: join(dirB, 'out'),
          onProgress: (p) => {
            if (p.step === 13) ctl.abort();
          },
        }),
      );
      assert.equal(b1.stopReason, 'aborted');
      assert.ok(!existsSync(join(dirB, 'out')), 'an aborted run writes no model');
      assert.equal(b1.step, 13);
      assert.equal(latestCheckpoint(dirB)!.step, 13, 'checkpointed where it stopped');
      b1.model.dispose();
      const b2 = await train(tinyRun({ checkpointDir: dirB, evaluate, evalEvery: 5 }));
      assert.equal(b2.resumedFrom, 13);
      assert.equal(b2.step, TINY_STEPS);
      assertSameBytes(paramBytes(a.model.params), paramBytes(b2.model.params), 'resumed parameters');
      assertSameBytes(
        checkpointBytes(latestCheckpoint(dirA)!.path),
        checkpointBytes(latestCheckpoint(dirB)!.path),
        'final checkpoint',
      );
      assert.deepEqual(b2.history, a.history);
      assert.deepEqual(b2.evals, a.evals);
      assert.equal(b2.tokensSeen, a.tokensSeen);
      assert.equal(listCheckpoints(dirB).length, 2, 'keeps two checkpoints');

      // a finished run resumes to nothing; a changed plan is refused
      const again = await train(tinyRun({ checkpointDir: dirB }));
      assert.equal(again.resumedFrom, TINY_STEPS);
      assert.equal(again.stopReason, 'completed');
      await assert.rejects(() => train(tinyRun({ checkpointDir: dirB, lr: 1e-2 })), /different schedule/);
      const starts = tinyRun().documents.map(() => 1);
      await assert.rejects(() => train(tinyRun({ checkpointDir: dirB, lossStart: starts })), /different documents/);
      // resume: false starts over, dropping the old checkpoints
      const fresh = await train(tinyRun({ checkpointDir: dirB, lr: 1e-2, steps: 6, resume: false }));
      assert.equal(fresh.resumedFrom, null);
      assert.deepEqual(
        listCheckpoints(dirB).map((c) => c.step),
        [4, 6],
      );
      fresh.model.dispose();
      for (const r of [plain, a, b2, again]) r.model.dispose();
    } finally {
      rmSync(dirA, { recursive: true, force: true });
      rmSync(dirB, { recursive: true, force: true });
    }
  });

  test('a child process killed with SIGKILL mid-run resumes to the uninterrupted result', async () => {
    const dir = tmp();
    try {
      const killedAt = await new Promise<number>((res, rej) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/train/child-train.case.ts'), dir], {
          cwd: repoRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        let last = 0;
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const steps = [...out.matchAll(/step (\d+)/g)].map((m) => Number(m[1]));
          last = steps.at(-1) ?? 0;
          if (last >= 17 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
        });
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('close', (code, signal) => {
          if (signal === 'SIGKILL') res(last);
          else rej(new Error(`child exited ${code} ${signal}: ${err}${out}`));
        });
      });
      assert.ok(killedAt >= 17 && killedAt < TINY_STEPS, `killed at ${killedAt}`);
      const latest = latestCheckpoint(dir)!;
      assert.ok(latest.step >= 15 && latest.step <= killedAt + 1, `latest checkpoint ${latest.step}`);
      const resumed = await train(tinyRun({ checkpointDir: dir }));
      assert.equal(resumed.resumedFrom, latest.step);
      assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')), 'interrupted temporaries removed');
      const plain = await train(tinyRun());
      assertSameBytes(paramBytes(plain.model.params), paramBytes(resumed.model.params), 'after SIGKILL');
      plain.model.dispose();
      resumed.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('output and control', () => {
  test('the trained model is saved as a Hugging Face directory that loads back', async () => {
    const dir = tmp();
    try {
      const out = join(dir, 'model');
      const r = await train(
        tinyRun({ steps: 6, outDir: out, outFiles: { 'tokenizer.json': '{"model":{}}', 'world.json': '[]' } }),
      );
      assert.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors', 'tokenizer.json', 'world.json']);
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), tinyRun().config);
      assert.ok(!readdirSync(dir).some((f) => f.startsWith('.')), 'no staging directory left');
      const loaded = loadModel(out);
      assertSameBytes(paramBytes(r.model.params), paramBytes(loaded.params), 'loaded');
      loaded.dispose();
      r.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('early stop: plateau after `patience` evaluations, target reached, time limit', async () => {
    const flat = await train(tinyRun({ evaluate: () => 0.5, evalEvery: 2, earlyStop: { patience: 2 } }));
    assert.equal(flat.stopReason, 'plateau');
    assert.equal(flat.step, 6);
    const rising = await train(
      tinyRun({ evaluate: (_m, step) => step / 10, evalEvery: 2, earlyStop: { target: 0.8, minDelta: 0.05 } }),
    );
    assert.equal(rising.stopReason, 'target');
    assert.equal(rising.step, 8);
    const falling = await train(
      tinyRun({ evaluate: (_m, step) => 10 - step, evalEvery: 4, earlyStop: { mode: 'min', target: -100 } }),
    );
    assert.equal(falling.stopReason, 'completed');
    assert.equal(falling.best, -20);
    const timed = await train(tinyRun({ timeLimitSeconds: 0 }));
    assert.equal(timed.stopReason, 'time');
    assert.equal(timed.step, 1);
    for (const r of [flat, rising, falling, timed]) r.model.dispose();
  });

  test('bad inputs are refused with clear errors', async () => {
    await assert.rejects(() => train(tinyRun({ documents: [[3, 99]] })), /token id 99 outside \[0, 48\)/);
    await assert.rejects(() => train(tinyRun({ seqLen: 64 })), /exceeds the model's 16 positions/);
    await assert.rejects(() => train(tinyRun({ steps: undefined })), /give steps or epochs/);
  });

  test('tokenizeCorpus: paragraphs, lines or one document, without special tokens', () => {
    const tok = {
      encode: (t: string, o?: { addSpecialTokens?: boolean }) => [
        ...(o?.addSpecialTokens === false ? [] : [1]),
        ...[...t].map((c) => c.charCodeAt(0)),
      ],
    } as unknown as Tokenizer;
    const text = 'ab\ncd\n\n \n\nef\r\n';
    assert.deepEqual(tokenizeCorpus(text, tok), [
      [97, 98, 10, 99, 100],
      [101, 102],
    ]);
    assert.deepEqual(tokenizeCorpus(text, tok, { split: 'line' }), [
      [97, 98],
      [99, 100],
      [101, 102],
    ]);
    assert.equal(tokenizeCorpus(text, tok, { split: 'none' }).length, 1);
  });
});
