/**
 * The pure-TypeScript reference backend: the test oracle for the native backend and the fallback
 * when the addon cannot load. Simple loops, doubles throughout, one rounding per stored value.
 */
import type { Backend, BackendInfo } from '../../backend.js';
import { attention, attentionGrad } from './attention.js';
import { unary, unaryGrad, binary, where } from './elementwise.js';
import { gemm } from './gemm.js';
import { indexAdd, indexSelect, gather, scatterAdd } from './indexing.js';
import { alloc, copy, fill, release } from './layout.js';
import { cholesky, eigh, inverse, solve, solveSPD, svd } from './linalg.js';
import { argmax, reduce } from './reduce.js';
import { layerNorm, layerNormGrad, rmsNorm, rmsNormGrad, softmax, softmaxGrad } from './rows.js';
import { rope } from './rope.js';

export const referenceBackend: Backend = {
  name: 'reference',
  info(): BackendInfo {
    return { name: 'reference', blas: 'none (pure TypeScript)', lapack: 'built-in (TypeScript)', threads: 1, simd: 'n/a' };
  },
  alloc,
  release,
  copy,
  fill,
  gemm,
  unary,
  unaryGrad,
  binary,
  where,
  reduce,
  argmax,
  softmax,
  softmaxGrad,
  layerNorm,
  layerNormGrad,
  rmsNorm,
  rmsNormGrad,
  indexSelect,
  indexAdd,
  gather,
  scatterAdd,
  rope,
  attention,
  attentionGrad,
  cholesky,
  solveSPD,
  solve,
  inverse,
  eigh,
  svd,
};
