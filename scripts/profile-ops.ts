/**
 * Developer tool: time every backend call of a workload (GPT-2-medium-shaped forward,
 * forward+backward, or generation) and print where the time goes, to guide kernel work.
 * `node --import tsx scripts/profile-ops.ts forward|fb|gen`
 */
import * as T from '../src/tensor/index.js';
import type { Backend } from '../src/tensor/backend.js';
import { randomGpt2 } from '../bench/models.js';
import { generate } from '../src/models/generate.js';
import { rome } from '../src/edit/rome/index.js';
import { memit } from '../src/edit/memit/index.js';
import { loadTokenizer } from '../src/tokenizer/index.js';

const tokenizer = await loadTokenizer(new URL('../../shared/data/gpt2-tokenizer', import.meta.url).pathname);

const which = process.argv[2] ?? 'forward';
// `rome`: one ROME edit with 5 v steps, `memit`: a MEMIT batch of 10 (bench/edit.ts's shapes)
const be = T.getBackend() as unknown as Record<string, unknown>;
const stats = new Map<string, { n: number; s: number }>();
for (const key of Object.keys(be)) {
  const f = be[key];
  if (typeof f !== 'function' || key === 'info') continue;
  be[key] = (...args: unknown[]) => {
    const poolBefore = T.bufferPoolBytes();
    const t0 = process.hrtime.bigint();
    const r = (f as (...a: unknown[]) => unknown).apply(be, args);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    let k = key;
    if (key === 'unary' || key === 'reduce') k += `:${String(args[0])}`;
    if (key === 'binary') {
      const p = args[0] as { op: string; shape: number[]; aStrides: number[]; bStrides: number[] };
      k += `:${p.op} [${p.shape.join(',')}] a(${p.aStrides.join(',')}) b(${p.bStrides.join(',')})`;
    }
    if (key === 'copy') {
      const p = args[0] as { shape: number[]; srcStrides: number[]; accumulate: boolean };
      k += ` [${p.shape.join(',')}] src(${p.srcStrides.join(',')})${p.accumulate ? ' acc' : ''}`;
    }
    if (key === 'alloc') k += `:${Math.round(Number(args[1]) / 262144)}M${T.bufferPoolBytes() === poolBefore ? ' fresh' : ''}`;
    if (key === 'gemm') {
      const p = args[0] as { M: number; N: number; K: number; batch: number; transA: boolean; transB: boolean };
      k += `:${p.batch}b ${p.M}x${p.K}x${p.N}${p.transA ? ' tA' : ''}${p.transB ? ' tB' : ''}`;
    }
    const e = stats.get(k) ?? { n: 0, s: 0 };
    e.n++;
    e.s += dt;
    stats.set(k, e);
    return r;
  };
}
void (be as unknown as Backend);
const model = randomGpt2(24, 1024, 16);
const V = 50257;
const rng = new T.Rng(1);
const idsArr = Array.from({ length: 8 * 64 }, () => rng.nextInt(V));
const ids = T.tensor(idsArr, [8, 64], 'int32');
const params = [...model.params.values()];
const work = (): void => {
  if (which === 'forward') T.noGrad(() => T.tidy(() => void model.forward({ ids })));
  else if (which === 'fb')
    T.tidy(() => {
      T.valueAndGrad(() => {
        const { logits } = model.forward({ ids });
        const lg = T.reshape(T.narrow(logits!, 1, 0, 63), [-1, V]);
        const lb = T.reshape(T.contiguous(T.narrow(ids, 1, 1, 64)), [-1]);
        return T.crossEntropy(lg, lb);
      }, params);
    });
  else if (which === 'rome') {
    const hp = { ...rome.presets['gpt2-xl']!, layers: [8], v_loss_layer: 23, v_num_grad_steps: 5 };
    const r = rome.apply(
      model,
      [{ prompt: 'LeBron James is associated with', subject: 'LeBron James', target_new: 'ice hockey' }],
      hp,
      { tokenizer, seed: 0 },
    );
    console.log(JSON.stringify(r.timings));
    r.restore();
    r.dispose();
  } else if (which === 'memit') {
    const hp = { ...memit.presets['gpt2-xl']!, layers: [4, 5, 6, 7, 8], v_loss_layer: 23, v_num_grad_steps: 5 };
    const subjects = [
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
    const reqs = subjects.map((s) => ({ prompt: `${s} is associated with`, subject: s, target_new: 'ice hockey' }));
    const eye = T.keep(T.eye(model.config.intermediateSize, 'float32'));
    const r = memit.apply(model, reqs, hp, { tokenizer, seed: 0, stats: { secondMoment: () => eye } });
    console.log(JSON.stringify(r.timings));
    r.restore();
    r.dispose();
  } else {
    const prompts = Array.from({ length: 8 }, (_, b) => idsArr.slice(b * 64, b * 64 + 32));
    generate(model, prompts, { maxNewTokens: 32, eosTokenId: null });
  }
};
work();
stats.clear();
const t0 = Date.now();
const c0 = process.cpuUsage();
work();
const total = (Date.now() - t0) / 1000;
const cpu = process.cpuUsage(c0);
const rows = [...stats.entries()].sort((a, b) => b[1].s - a[1].s);
let inBackend = 0;
for (const [, v] of rows) inBackend += v.s;
console.log(
  `${which}: total ${total.toFixed(3)} s (cpu user ${(cpu.user / 1e6).toFixed(2)} s, sys ${(cpu.system / 1e6).toFixed(2)} s), in backend ${inBackend.toFixed(3)} s, outside ${(total - inBackend).toFixed(3)} s`,
);
for (const [k, v] of rows.slice(0, Number(process.argv[3] ?? 40)))
  console.log(`${v.s.toFixed(3).padStart(8)} s ${String(v.n).padStart(6)}×  ${k}`);
