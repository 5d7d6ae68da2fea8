/**
 * Benchmarks of the numerical core (issue: numerical core). Prints one JSON object per line:
 * {name, value, unit, ratio?, ...}. Run: `npm run bench -- core [--quick]`.
 *
 * - sgemm through lmedit's matmul vs direct cblas_sgemm (same process, same inputs);
 * - the M=1 decode path in GB/s of weight read (f32 and bf16, both weight layouts);
 * - one GPT-2-XL-shaped block (d=1600, 25 heads, MLP 6400) forward+backward at 16 and 256
 *   tokens, against libtorch 1.13's 0.14 s at 16 tokens measured on this machine class;
 * - Cholesky and SPD solve at n=6400 in float64.
 */
import { spawnSync } from 'node:child_process';
import * as T from '../src/tensor/index.js';
import { loadNativeBackend } from '../src/tensor/backends/native.js';

export interface BenchLine {
  name: string;
  value: number;
  unit: string;
  ratio?: number;
  [k: string]: unknown;
}

export function emit(line: BenchLine): void {
  console.log(JSON.stringify(line));
}

/** Median wall time of fn in seconds over `reps` runs after one warm-up. */
export function timeIt(fn: () => void, reps = 5): number {
  fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

interface DirectBlas {
  directSgemm(M: number, N: number, K: number, a: Float32Array, b: Float32Array, c: Float32Array): void;
}

function directBlas(): DirectBlas | null {
  const be = loadNativeBackend() as unknown as Partial<DirectBlas> | null;
  return be && typeof be.directSgemm === 'function' ? (be as DirectBlas) : null;
}

function benchGemm(quick: boolean): void {
  const rng = new T.Rng(1);
  const direct = directBlas();
  const K = 1600;
  const N = 6400;
  const w = rng.normal([K, N], 0.02);
  for (const M of [1600, 16, 1]) {
    const x = rng.normal([M, K]);
    const reps = quick ? 3 : M === 1600 ? 5 : 20;
    const tL = timeIt(() => T.tidy(() => void T.matmul(x, w)), reps);
    const flops = 2 * M * N * K;
    let ratio: number | undefined;
    let tD: number | undefined;
    if (direct) {
      const c = new Float32Array(M * N);
      tD = timeIt(() => direct.directSgemm(M, N, K, x.storage as Float32Array, w.storage as Float32Array, c), reps);
      ratio = tD / tL; // >= 0.95 means lmedit reaches 95% of direct cblas throughput
    }
    emit({
      name: `sgemm ${M}x${K} @ ${K}x${N}`,
      value: flops / tL / 1e9,
      unit: 'GFLOP/s',
      ...(ratio ? { ratio, ratio_meaning: 'throughput / direct cblas_sgemm', direct_gflops: flops / tD! / 1e9 } : {}),
    });
    if (M === 1)
      emit({ name: `sgemm M=1 weight read (Conv1D layout [in,out])`, value: (K * N * 4) / tL / 1e9, unit: 'GB/s', target: 20 });
    x.dispose();
  }
  // nn.Linear layout [out, in] and bf16 storage at M=1
  const x1 = rng.normal([1, K]);
  const wt = rng.normal([N, K], 0.02);
  const wtT = T.transpose(wt);
  const tT = timeIt(() => T.tidy(() => void T.matmul(x1, wtT)), quick ? 3 : 20);
  emit({ name: 'sgemm M=1 weight read (Linear layout [out,in])', value: (K * N * 4) / tT / 1e9, unit: 'GB/s', target: 20 });
  const wb = T.cast(w, 'bfloat16');
  const tB = timeIt(() => T.tidy(() => void T.matmul(x1, wb)), quick ? 3 : 20);
  emit({ name: 'bf16 gemv M=1 weight read ([in,out])', value: (K * N * 2) / tB / 1e9, unit: 'GB/s' });
  const x16 = rng.normal([16, K]);
  const tB16 = timeIt(() => T.tidy(() => void T.matmul(x16, wb)), quick ? 3 : 10);
  emit({ name: 'bf16 weight gemm 16x1600 @ 1600x6400', value: (2 * 16 * K * N) / tB16 / 1e9, unit: 'GFLOP/s' });
  [x1, wt, wtT, wb, x16, w].forEach((t) => t.dispose());
}

/** GPT-2 block parameters in HF Conv1D layout ([in, out]). */
function gpt2Block(rng: T.Rng, d: number): Record<string, T.Tensor> {
  const p = {
    ln1w: T.ones([d]),
    ln1b: T.zeros([d]),
    attnW: rng.normal([d, 3 * d], 0.02),
    attnB: T.zeros([3 * d]),
    projW: rng.normal([d, d], 0.02),
    projB: T.zeros([d]),
    ln2w: T.ones([d]),
    ln2b: T.zeros([d]),
    fcW: rng.normal([d, 4 * d], 0.02),
    fcB: T.zeros([4 * d]),
    fc2W: rng.normal([4 * d, d], 0.02),
    fc2B: T.zeros([d]),
  };
  return p;
}

function blockForward(p: Record<string, T.Tensor>, x: T.Tensor, H: number): T.Tensor {
  const [B, Tn, C] = x.shape as [number, number, number];
  const h = T.layerNorm(x, p['ln1w']!, p['ln1b']!);
  const qkv = T.linear(h, p['attnW']!, p['attnB']!, 'in_out'); // [B, T, 3C]
  const [q, k, v] = T.split(qkv, 3, 2).map((t) => T.permute(T.reshape(t, [B, Tn, H, C / H]), [0, 2, 1, 3])); // [B, H, T, hd]
  const a = T.attention(q!, k!, v!, { causal: true }); // [B, H, T, hd]
  const y = T.reshape(T.permute(a, [0, 2, 1, 3]), [B, Tn, C]);
  const x1 = T.add(x, T.linear(y, p['projW']!, p['projB']!, 'in_out'));
  const m = T.gelu(T.linear(T.layerNorm(x1, p['ln2w']!, p['ln2b']!), p['fcW']!, p['fcB']!, 'in_out'));
  return T.add(x1, T.linear(m, p['fc2W']!, p['fc2B']!, 'in_out'));
}

function benchBlock(quick: boolean): void {
  const rng = new T.Rng(2);
  const d = 1600;
  const H = 25;
  const p = gpt2Block(rng, d);
  const params = Object.values(p);
  for (const tokens of [16, 256]) {
    const x = rng.normal([1, tokens, d]);
    const target = rng.normal([1, tokens, d]);
    const run = (): void =>
      T.tidy(() => {
        const { grads } = T.valueAndGrad(() => T.sum(T.mul(blockForward(p, x, H), target)), [x, ...params]);
        void grads;
      });
    const t = timeIt(run, quick ? 2 : tokens === 16 ? 10 : 3);
    const fwd = timeIt(() => T.tidy(() => void T.noGrad(() => blockForward(p, x, H))), quick ? 2 : 5);
    emit({
      name: `gpt2-xl block fwd+bwd ${tokens} tokens (grads of input and all weights)`,
      value: t,
      unit: 's',
      ...(tokens === 16 ? { ratio: t / 0.14, ratio_meaning: 'time / libtorch 1.13 (0.14 s)', target: '<= 1' } : {}),
      forward_s: fwd,
    });
    x.dispose();
    target.dispose();
  }
  params.forEach((t) => t.dispose());
}

function benchLinalg(quick: boolean): void {
  const n = quick ? 2000 : 6400;
  const rng = new T.Rng(3);
  // SPD: X Xᵀ / m + I, formed with our own gemm
  const X = rng.normal([n, 256], 1, 0, 'float64');
  const A = T.tidy(() => T.add(T.div(T.matmul(X, T.transpose(X)), 256), T.eye(n, 'float64')));
  const b = rng.normal([n, 16], 1, 0, 'float64');
  const tc = timeIt(() => T.cholesky(A).dispose(), quick ? 1 : 2);
  emit({ name: `cholesky float64 n=${n}`, value: tc, unit: 's', gflops: n ** 3 / 3 / tc / 1e9 });
  const ts = timeIt(() => T.solveSPD(A, b).dispose(), quick ? 1 : 2);
  emit({ name: `solveSPD float64 n=${n}, 16 rhs`, value: ts, unit: 's' });
  [X, A, b].forEach((t) => t.dispose());
}

export function runCore(args: string[]): void {
  const quick = args.includes('--quick');
  const be = T.getBackend().info();
  emit({ name: 'backend', value: be.threads, unit: 'threads', backend: be.name, blas: be.blas, simd: be.simd });
  benchGemm(quick);
  benchBlock(quick);
  benchLinalg(quick);
}

/** A Python interpreter that can `import torch` (pyenv's python3 may lack Debian's python3-torch). */
export function torchPython(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return py;
  }
  return null;
}
