/**
 * @module lmedit/tensor — tensors, reverse-mode autograd and the numerical kernels under them.
 *
 * @example
 * import * as T from 'lmedit/tensor';
 * const x = T.tensor([[1, 2], [3, 4]]);
 * const { value, grads } = T.valueAndGrad(() => T.sum(T.gelu(T.matmul(x, w))), [w]);
 */
import { registerAutogradOps } from './autograd.js';
import { add } from './ops/elementwise.js';
import { onesLike } from './ops/creation.js';
import { copyInto } from './ops/shape.js';

registerAutogradOps(add, onesLike, (dst, src) => copyInto(dst, src, true));

export type * from './backend.js';
export { Tensor, tidy, keep, liveBytes, memoryStats, shapeSize, contiguousStrides, type Shape, type GradNode } from './tensor.js';
export { backward, valueAndGrad, grad, noGrad, isGradEnabled, detach, zeroGrad, record } from './autograd.js';
export {
  getBackend,
  setBackend,
  withBackend,
  releaseBufferPool,
  bufferPoolBytes,
  withoutBufferReuse,
  type BackendName,
} from './select.js';
export { bytesPerElement, isFloatDtype, isComputeDtype, f16ToNumber, numberToF16, bf16ToNumber, numberToBf16 } from './dtype.js';
export * from './ops/creation.js';
export * from './ops/shape.js';
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/matmul.js';
export * from './ops/nn.js';
export * from './ops/indexing.js';
export * from './ops/loss.js';
export * from './ops/inplace.js';
export * from './ops/linalg.js';
export { owning } from './owning.js';
