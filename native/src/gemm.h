// Matrix products: C = alpha * op(A) @ op(B) + beta * C, row-major, B possibly a
// float16/bfloat16 weight. Used by the gemm kernel and internally by attention and linalg.
#pragma once

#include "common.h"

namespace lm {

struct GemmArgs {
  bool transA = false, transB = false;
  i64 M = 0, N = 0, K = 0;
  double alpha = 1, beta = 0;
  i64 batch = 1;
  const void* a = nullptr;  // compute dtype T
  i64 aOffset = 0, lda = 0, aBatchStride = 0;
  const void* b = nullptr;  // T, or uint16 bits when bDtype is F16/BF16
  int bDtype = F32;
  i64 bOffset = 0, ldb = 0, bBatchStride = 0;
  void* c = nullptr;  // T
  i64 cOffset = 0, ldc = 0, cBatchStride = 0;
};

/** The gemm kernel (T = float or double); all batch entries. */
template <typename T> void gemm(const GemmArgs& g);

/**
 * One matrix product with B in storage type W (T, f16_t or bf16_t). Picks BLAS, the few-row
 * GEMV kernels or the built-in blocked kernel. Never calls BLAS inside a parallel region.
 */
template <typename T, typename W>
void gemm_one(bool ta, bool tb, i64 M, i64 N, i64 K, T alpha, const T* A, i64 lda, const typename Storage<W>::raw* B,
              i64 ldb, T beta, T* C, i64 ldc);

/**
 * The built-in cache-blocked kernel (no BLAS). `parallel` = use the thread pool (it runs
 * serially anyway inside a parallel region). Accepts any leading dimensions (even 0).
 */
template <typename T, typename W>
void gemm_builtin(bool ta, bool tb, i64 M, i64 N, i64 K, T alpha, const T* A, i64 lda,
                  const typename Storage<W>::raw* B, i64 ldb, T beta, T* C, i64 ldc, bool parallel);

/** Rows at or below which the streaming GEMV kernels are used instead of a GEMM. */
constexpr i64 kFewRows = 8;

}  // namespace lm
