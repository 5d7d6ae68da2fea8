// Kernel entry points called by the N-API glue (addon.cc). T is float or double. Sizes are
// element counts; the glue has checked that every array is large enough. Kernels throw
// KernelError for bad values found while working (e.g. an out-of-range id).
#pragma once

#include "common.h"
#include "gemm.h"

namespace lm {

// ---- elementwise.cc ----
// Op codes shared with src/tensor/backends/native/codes.ts.
enum UnaryOp : int {
  U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_ABS, U_SIGN, U_SIGMOID, U_RELU, U_SILU, U_GELU_TANH, U_GELU_ERF,
  U_SQUARE, U_RECIPROCAL, U_SIN, U_COS, U_POW, U_CLAMP, U_COUNT
};
enum BinaryOp : int { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_COUNT };
enum ReduceOp : int { R_SUM, R_MAX, R_MIN, R_COUNT };

template <typename T> void unary(int op, const T* x, T* out, i64 n, double p0, double p1);
template <typename T> void unary_grad(int op, const T* x, const T* gy, T* gx, i64 n, double p0, double p1);
template <typename T>
void binary(int op, const T* a, i64 aoff, const i64* astr, const T* b, i64 boff, const i64* bstr, T* out, int rank,
            const i64* shape);
template <typename T>
void where(const T* cond, i64 coff, const i64* cstr, const T* a, i64 aoff, const i64* astr, const T* b, i64 boff,
           const i64* bstr, T* out, int rank, const i64* shape);

// ---- copy.cc ----
void copy(const void* src, int sdt, i64 soff, const i64* sstr, void* dst, int ddt, i64 doff, const i64* dstr,
          int rank, const i64* shape, bool accumulate);

// ---- reduce.cc ----
template <typename T> void reduce(int op, const T* x, T* out, i64 outer, i64 size, i64 inner);
template <typename T> void argmax(const T* x, int32_t* out, i64 outer, i64 size, i64 inner);

// ---- softmax.cc ----
template <typename T> void softmax(const T* x, T* out, i64 rows, i64 cols, bool log);
template <typename T> void softmax_grad(const T* y, const T* gy, T* gx, i64 rows, i64 cols, bool log);

// ---- norm.cc ----
template <typename T>
void layer_norm(const T* x, const T* w, const T* b, T* out, T* mean, T* rstd, i64 rows, i64 cols, double eps);
template <typename T>
void layer_norm_grad(const T* x, const T* w, const T* mean, const T* rstd, const T* gy, T* gx, T* gw, T* gb, i64 rows,
                     i64 cols);
template <typename T> void rms_norm(const T* x, const T* w, T* out, T* rstd, i64 rows, i64 cols, double eps);
template <typename T>
void rms_norm_grad(const T* x, const T* w, const T* rstd, const T* gy, T* gx, T* gw, i64 rows, i64 cols);

// ---- index.cc ----
template <typename T>
void index_select(const void* table, int tdt, i64 rows, i64 cols, const int32_t* ids, i64 nids, T* out);
template <typename T> void index_add(const T* src, const int32_t* ids, i64 nids, T* g, i64 rows, i64 cols);
template <typename T> void gather(const T* x, const int32_t* idx, T* out, i64 rows, i64 cols, i64 k);
template <typename T> void scatter_add(const T* src, const int32_t* idx, T* g, i64 rows, i64 cols, i64 k);

// ---- rope.cc ----
struct RopeArgs {
  const void* x;
  void* out;
  i64 B, H, T, D, rotaryDim;
  const int32_t* positions;
  const void* cos;
  const void* sin;
  i64 P;  // rows of cos/sin
  bool interleaved, inverse;
};
template <typename T> void rope(const RopeArgs& a);

// ---- attention.cc ----
struct AttnArgs {
  const void *q, *k, *v;
  void* out;  // forward: written; backward: read
  void* lse;  // forward: written; backward: read
  const uint8_t* keyMask;  // [B, Tk] or null
  i64 B, H, KVH, Tq, Tk, D;
  i64 kvCap = 0;  // positions per (b, kv head) in k/v; forward reads the first Tk
  double scale;
  bool causal;
  const void* gout = nullptr;
  void *gq = nullptr, *gk = nullptr, *gv = nullptr;
};
template <typename T> void attention(const AttnArgs& a);
template <typename T> void attention_grad(const AttnArgs& a);

// ---- linalg.cc ----
template <typename T> void cholesky(const T* a, i64 n, T* out);
template <typename T> void solve_spd(const T* a, const T* b, i64 n, i64 nrhs, T* out);
template <typename T> void solve(const T* a, const T* b, i64 n, i64 nrhs, T* out);
template <typename T> void inverse(const T* a, i64 n, T* out);
template <typename T> void eigh(const T* a, i64 n, T* values, T* vectors);
template <typename T> void svd(const T* a, i64 m, i64 n, T* u, T* s, T* vt);

}  // namespace lm
