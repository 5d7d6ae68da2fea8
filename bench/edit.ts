/**
 * Editing benchmarks (issue: editing core): one ROME edit (20 v steps, 21 context templates,
 * layer 8) and one MEMIT batch of 10 requests on a GPT-2-medium-shaped model (random weights),
 * with ../shared/bench/torch_gpt2.py's `rome_v_opt` (plain PyTorch, full forward every step)
 * run side by side: ratio = lmedit ROME edit / torch v-optimisation (target <= 0.5). The
 * original implementation's whole ROME edit took 119 s on a 2-core machine (for orientation).
 *
 * `npm run bench -- edit [--quick] [--no-torch]`
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/tensor/index.js';
import { rome } from '../src/edit/rome/index.js';
import { memit } from '../src/edit/memit/index.js';
import { nullSpaceBasis } from '../src/edit/alphaedit/index.js';
import type { StatsProvider, EditRequest } from '../src/edit/types.js';
import type { Tokenizer } from '../src/tokenizer/index.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { emit, torchPython } from './core.js';
import { randomGpt2 } from './models.js';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const shared = process.env['LMEDIT_SHARED'] ?? resolve(repo, '..', 'shared');

function torchRome(runs: number): number | null {
  const script = join(shared, 'bench', 'torch_gpt2.py');
  if (!existsSync(script)) return null;
  const py = torchPython();
  if (!py) {
    emit({
      name: 'torch anchor unavailable',
      value: 0,
      unit: '-',
      reason: 'no python3 can import torch (apt-get install -y python3-torch)',
    });
    return null;
  }
  const r = spawnSync(
    py,
    [script, '--only', 'rome_v_opt', '--runs', String(runs), '--threads', String(T.getBackend().info().threads)],
    { encoding: 'utf8', timeout: 3_600_000 },
  );
  if (r.status !== 0) return null;
  const line = r.stdout.split('\n').find((l) => l.includes('rome_v_opt'));
  return line ? (JSON.parse(line) as { value: number }).value : null;
}

/** Identity statistics: MEMIT's timing does not depend on what C holds. */
function identityStats(): StatsProvider {
  const cache = new Map<string, T.Tensor>();
  return {
    secondMoment: (model, _layer, name) => {
      let c = cache.get(name);
      if (!c) {
        const dk = model.config.intermediateSize;
        c = T.keep(T.eye(dk, 'float32'));
        cache.set(name, c);
      }
      return c;
    },
  };
}

const SUBJECTS = [
  'LeBron James',
  'Danielle Darrieux',
  'The Eiffel Tower',
  'Toyota',
  'Lionel Messi',
  'Tom Hanks',
  'Mount Fuji',
  'Apple',
  'Paris',
  'Einstein',
];
const TARGETS = ['ice hockey', 'English', 'Rome', 'Sweden', 'goal keeper', 'Canada', 'Peru', 'Nokia', 'Italy', 'chemistry'];

export async function runEdit(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const tokDir = join(shared, 'data', 'gpt2-tokenizer');
  if (!existsSync(tokDir)) {
    emit({ name: 'edit bench skipped', value: 0, unit: '-', reason: `${tokDir} missing` });
    return;
  }
  alphaEditProjector(quick ? 1600 : 6400);
  if (args.includes('--projector-only')) return;
  const tokenizer: Tokenizer = await loadTokenizer(tokDir);
  const model = randomGpt2(24, 1024, 16);
  const reqs: EditRequest[] = SUBJECTS.map((s, i) => ({
    prompt: `${s} is associated with`,
    subject: s,
    target_new: TARGETS[i]!,
  }));
  const torch = args.includes('--no-torch') ? null : torchRome(quick ? 1 : 3);

  const romeHp = { ...rome.presets['gpt2-xl']!, layers: [8], v_loss_layer: 23, v_num_grad_steps: 20 };
  const t0 = Date.now();
  const r = rome.apply(model, [reqs[0]!], romeHp, { tokenizer, seed: 0 });
  const romeS = (Date.now() - t0) / 1000;
  emit({
    name: 'ROME edit, gpt2-medium shape, layer 8, 21 templates, 20 steps',
    value: romeS,
    unit: 's',
    timings: r.timings,
    ...(torch
      ? {
          torch_rome_v_opt_s: torch,
          ratio: romeS / torch,
          ratio_meaning: 'lmedit whole edit / torch v-optimisation only',
          target: '<= 0.5',
        }
      : {}),
    original_implementation_2core_s: 119,
  });
  r.restore();
  r.dispose();

  const memitHp = { ...memit.presets['gpt2-xl']!, layers: [4, 5, 6, 7, 8], v_loss_layer: 23, v_num_grad_steps: quick ? 5 : 20 };
  const t1 = Date.now();
  const m = memit.apply(model, reqs, memitHp, { tokenizer, seed: 0, stats: identityStats() });
  const memitS = (Date.now() - t1) / 1000;
  emit({
    name: `MEMIT batch of 10, gpt2-medium shape, layers 4-8, ${memitHp.v_num_grad_steps} steps`,
    value: memitS,
    unit: 's',
    timings: m.timings,
  });
  m.restore();
  m.dispose();
  model.dispose();
}

/**
 * AlphaEdit's projector at GPT-2-XL's d_k: the float64 eigendecomposition of a 6400 × 6400
 * second moment (a random SPD matrix with a spread spectrum) and the null-space basis. Target
 * (issue 15): ≤ 60 s on this machine.
 */
function alphaEditProjector(dk: number): void {
  const rng = new T.Rng(1);
  const m = dk + 100;
  const A = T.tensor(
    Float64Array.from({ length: dk * m }, () => rng.nextNormal()),
    [dk, m],
    'float64',
  );
  const C = T.keep(T.noGrad(() => T.div(T.matmul(A, T.transpose(A)), m)));
  A.dispose();
  const t0 = Date.now();
  const U = nullSpaceBasis(C, 0.5);
  const secs = (Date.now() - t0) / 1000;
  emit({
    name: `AlphaEdit projector: float64 eigh of C and the null-space basis, d_k ${dk}${dk === 6400 ? ' (GPT-2 XL)' : ''}`,
    value: secs,
    unit: 's',
    ...(dk === 6400 ? { ratio: secs / 60, target: '<= 60 s' } : {}),
    r: U.shape[1],
  });
  U.dispose();
  C.dispose();
}
