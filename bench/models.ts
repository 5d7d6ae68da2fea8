/**
 * Model benchmarks (issue: models): a GPT-2-medium-shaped model (random weights) on the
 * workloads of ../shared/bench/torch_gpt2.py, with that PyTorch script run side by side in
 * the same process tree, printing ratio = lmedit time / torch time. Also peak RSS of loading
 * and generating with a GPT-2-XL-shaped checkpoint written to a temporary safetensors file,
 * in float32 and bfloat16 storage (each in a fresh child process).
 *
 * `npm run bench -- models [--quick] [--no-torch] [--no-memory | --memory-only]`
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/tensor/index.js';
import { normalizeConfig } from '../src/models/config.js';
import { ARCHITECTURES } from '../src/models/registry.js';
import { generate } from '../src/models/generate.js';
import type { CausalLM } from '../src/models/types.js';
import { emit, timeIt, torchPython } from './core.js';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const shared = process.env['LMEDIT_SHARED'] ?? resolve(repo, '..', 'shared');

export function gpt2Config(layers: number, d: number, heads: number, vocab = 50257): Record<string, unknown> {
  return {
    model_type: 'gpt2',
    vocab_size: vocab,
    n_embd: d,
    n_layer: layers,
    n_head: heads,
    n_positions: 1024,
    layer_norm_epsilon: 1e-5,
  };
}

/** A GPT-2 with N(0, 0.02) matrices (like the torch anchor), built in memory. */
export function randomGpt2(layers: number, d: number, heads: number, seed = 0): CausalLM {
  const cfg = normalizeConfig(gpt2Config(layers, d, heads), 'bench config');
  const def = ARCHITECTURES.gpt2;
  const rng = new T.Rng(seed);
  const params = new Map<string, T.Tensor>();
  for (const name of def.paramNames(cfg)) {
    const shape = def.shapeOf(cfg, name);
    const t = shape.length > 1 ? rng.normal(shape, 0.02) : /\.weight$/.test(name) ? T.ones(shape) : T.zeros(shape);
    t.name = name;
    params.set(name, t);
  }
  return def.create(cfg, params);
}

function torchAnchor(only: string, runs: number): Map<string, number> {
  const script = join(shared, 'bench', 'torch_gpt2.py');
  const out = new Map<string, number>();
  if (!existsSync(script)) return out;
  const py = torchPython();
  if (!py) {
    emit({
      name: 'torch anchor unavailable',
      value: 0,
      unit: '-',
      reason: 'no python3 can import torch (apt-get install -y python3-torch)',
    });
    return out;
  }
  const r = spawnSync(py, [script, '--only', only, '--runs', String(runs), '--threads', String(T.getBackend().info().threads)], {
    encoding: 'utf8',
    timeout: 1_800_000,
  });
  if (r.status !== 0) {
    emit({
      name: 'torch anchor unavailable',
      value: 0,
      unit: '-',
      reason: (r.stderr || r.error?.message || '').split('\n').filter(Boolean).slice(-1)[0] ?? 'unknown',
    });
    return out;
  }
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const j = JSON.parse(line) as { name: string; value: number };
    out.set(j.name, j.value);
  }
  return out;
}

function ratioOf(name: string, ours: number, torch: Map<string, number>): Record<string, unknown> {
  const t = torch.get(name);
  return t ? { torch_s: t, ratio: ours / t, ratio_meaning: 'lmedit time / torch time' } : {};
}

export function runModels(args: string[]): void {
  const quick = args.includes('--quick');
  if (args.includes('--memory-only')) {
    memoryRuns(quick);
    return;
  }
  const runs = quick ? 1 : 3;
  const model = randomGpt2(24, 1024, 16);
  const V = 50257;
  const rng = new T.Rng(1);
  const idsArr = Array.from({ length: 8 * 64 }, () => rng.nextInt(V));
  const ids = T.tensor(idsArr, [8, 64], 'int32');
  const torch = args.includes('--no-torch') ? new Map<string, number>() : torchAnchor('forward,forward_backward,generate', runs);

  const fwd = timeIt(() => T.noGrad(() => T.tidy(() => void model.forward({ ids }))), runs);
  emit({ name: 'gpt2-medium forward 8x64', value: fwd, unit: 's', ...ratioOf('forward', fwd, torch), target: '<= 0.8' });

  const params = [...model.params.values()];
  const fb = timeIt(
    () =>
      T.tidy(() => {
        const { grads } = T.valueAndGrad(() => {
          const { logits } = model.forward({ ids });
          const lg = T.reshape(T.narrow(logits!, 1, 0, 63), [-1, V]);
          const lb = T.reshape(T.contiguous(T.narrow(ids, 1, 1, 64)), [-1]);
          return T.crossEntropy(lg, lb);
        }, params);
        void grads;
      }),
    runs,
  );
  emit({
    name: 'gpt2-medium forward+backward 8x64 (all parameter grads)',
    value: fb,
    unit: 's',
    ...ratioOf('forward_backward', fb, torch),
    target: '<= 0.8',
  });

  const prompts = Array.from({ length: 8 }, (_, b) => idsArr.slice(b * 64, b * 64 + 32));
  const gen = timeIt(() => void generate(model, prompts, { maxNewTokens: 32, eosTokenId: null }), runs);
  emit({
    name: 'gpt2-medium greedy generate 8x(32+32)',
    value: gen,
    unit: 's',
    ...ratioOf('generate', gen, torch),
    target: '<= 0.2',
  });
  ids.dispose();
  model.dispose();

  if (!args.includes('--no-memory')) memoryRuns(quick);
}

/** Peak RSS of loading + generating a GPT-2-XL-shaped model, each dtype in a fresh child process. */
function memoryRuns(quick: boolean): void {
  const dir = mkdtempSync(join(tmpdir(), 'lmedit-xl-'));
  const child = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'bench', 'memory-child.ts'), ...args], {
      encoding: 'utf8',
      cwd: repo,
      timeout: 3_600_000,
    });
  try {
    const w = child(['write', dir]);
    if (w.status !== 0) {
      emit({ name: 'gpt2-xl memory', value: 0, unit: 'GB', error: w.stderr.split('\n').filter(Boolean).slice(-3).join(' | ') });
      return;
    }
    for (const dtype of ['float32', 'bfloat16']) {
      const r = child(['run', dir, dtype, quick ? '1' : '0']);
      if (r.status !== 0)
        emit({
          name: `gpt2-xl memory ${dtype}`,
          value: 0,
          unit: 'GB',
          error: r.stderr.split('\n').filter(Boolean).slice(-3).join(' | '),
        });
      for (const line of r.stdout.split('\n')) if (line.trim().startsWith('{')) console.log(line);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
