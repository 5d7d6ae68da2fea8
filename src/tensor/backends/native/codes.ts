/**
 * The integer codes the addon takes for dtypes and ops. They are its ABI: they must match
 * native/src/common.h (dtypes) and native/src/kernels.h (ops) value for value.
 */
import type { BinaryOp, DType, ReduceOp, UnaryOp } from '../../backend.js';

export const DTYPE_CODE: Record<DType, number> = { float32: 0, float64: 1, float16: 2, bfloat16: 3, int32: 4, uint8: 5 };
export const UNARY_CODE: Record<UnaryOp, number> = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  rsqrt: 4,
  tanh: 5,
  abs: 6,
  sign: 7,
  sigmoid: 8,
  relu: 9,
  silu: 10,
  gelu_tanh: 11,
  gelu_erf: 12,
  square: 13,
  reciprocal: 14,
  sin: 15,
  cos: 16,
  pow: 17,
  clamp: 18,
};
export const BINARY_CODE: Record<BinaryOp, number> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  maximum: 5,
  minimum: 6,
  eq: 7,
  ne: 8,
  lt: 9,
  le: 10,
  gt: 11,
  ge: 12,
};
export const REDUCE_CODE: Record<ReduceOp, number> = { sum: 0, max: 1, min: 2 };
