/**
 * `lmedit doctor`: which backend is in use, its BLAS/LAPACK, threads, SIMD level and a
 * measured single-precision GEMM throughput, so users see at once whether they got the
 * fast path.
 */
import { getBackend, nativeLoadErrorMessage } from '../tensor/select.js';
import type { BackendInfo } from '../tensor/backend.js';

export interface DoctorReport extends BackendInfo {
  node: string;
  platform: string;
  /** Measured sgemm throughput on an n x n x n product. */
  gemm: { n: number; seconds: number; gflops: number };
  /** Why the native addon is not in use, when it is not. */
  nativeError: string | null;
}

/** Measure and describe the active backend. */
export function doctor(opts: { n?: number } = {}): DoctorReport {
  const be = getBackend();
  const info = be.info();
  const n = opts.n ?? (be.name === 'native' ? 1024 : 192);
  const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const c = new Float32Array(n * n);
  const run = (): void =>
    be.gemm({
      transA: false,
      transB: false,
      M: n,
      N: n,
      K: n,
      alpha: 1,
      beta: 0,
      batch: 1,
      a,
      aOffset: 0,
      lda: n,
      aBatchStride: 0,
      b,
      bDtype: 'float32',
      bOffset: 0,
      ldb: n,
      bBatchStride: 0,
      c,
      cOffset: 0,
      ldc: n,
      cBatchStride: 0,
    });
  run(); // warm-up: threads, page faults
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    run();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return {
    ...info,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    gemm: { n, seconds: best, gflops: (2 * n * n * n) / best / 1e9 },
    nativeError: be.name === 'native' ? null : nativeLoadErrorMessage(),
  };
}

export function formatDoctor(r: DoctorReport): string {
  const lines = [
    `backend   ${r.name}`,
    `blas      ${r.blas}`,
    `lapack    ${r.lapack}`,
    `threads   ${r.threads}`,
    `simd      ${r.simd}`,
    `node      ${r.node} (${r.platform})`,
    `sgemm     ${r.gemm.gflops.toFixed(1)} GFLOP/s (${r.gemm.n}x${r.gemm.n}x${r.gemm.n}, ${(r.gemm.seconds * 1000).toFixed(1)} ms)`,
  ];
  if (r.nativeError) lines.push(`native    not loaded: ${r.nativeError}`);
  return lines.join('\n');
}
