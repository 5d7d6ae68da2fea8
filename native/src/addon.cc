// N-API glue of the lmedit native backend: argument decoding, typed-array views, cheap bounds
// checks (the TypeScript side validates first, with friendlier messages; these checks make
// sure a bad call can never read or write out of bounds) and error mapping: every exception
// becomes a JS Error whose message starts with the kernel's name.
//
// Calling convention (see src/tensor/backends/native/addon.ts and meta.ts): arrays are typed arrays, dtypes are
// the codes of common.h, and kernels with many integer parameters receive them packed in a
// Float64Array `meta` (exact for integers up to 2^53).
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "blas.h"
#include "common.h"
#include "kernels.h"
#include "nd.h"
#include "threadpool.h"

namespace lm {
namespace {

constexpr int kAbiVersion = 3;

struct Arr {
  void* data = nullptr;
  i64 len = 0;
  napi_typedarray_type type = napi_int8_array;
  bool null = false;
};

const char* ta_name(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint8_array: return "Uint8Array";
    default: return "an unsupported typed array";
  }
}

napi_typedarray_type ta_for_dtype(int dt) {
  switch (dt) {
    case F32: return napi_float32_array;
    case F64: return napi_float64_array;
    case F16:
    case BF16: return napi_uint16_array;
    case I32: return napi_int32_array;
    case U8: return napi_uint8_array;
  }
  fail("unknown dtype code " + std::to_string(dt));
}

Arr arr(const Napi::CallbackInfo& info, size_t i, const char* name, bool nullable = false) {
  Arr a;
  if (i >= info.Length()) fail(std::string("missing argument ") + name);
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) {
    a.null = true;
    return a;
  }
  if (!v.IsTypedArray()) fail(std::string(name) + " must be a typed array");
  size_t length = 0;
  void* data = nullptr;
  napi_value ab;
  size_t byte_offset = 0;
  napi_status st = napi_get_typedarray_info(info.Env(), v, &a.type, &length, &data, &ab, &byte_offset);
  if (st != napi_ok) fail(std::string("cannot read typed array ") + name);
  a.data = data;
  a.len = i64(length);
  if (a.len > 0 && !a.data) fail(std::string(name) + " is detached");
  return a;
}

i64 geti(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) fail(std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d == std::floor(d)) || std::fabs(d) > 9007199254740992.0)
    fail(std::string(name) + " must be an integer, got " + std::to_string(d));
  return i64(d);
}
i64 gets(const Napi::CallbackInfo& info, size_t i, const char* name) {  // size: integer >= 0
  i64 v = geti(info, i, name);
  if (v < 0) fail(std::string(name) + " must be >= 0, got " + std::to_string(v));
  return v;
}
double getd(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) fail(std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}
bool getb(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() && info[i].ToBoolean().Value(); }

/** Integer entries of a Float64Array meta argument. */
struct Meta {
  const double* p = nullptr;
  i64 n = 0;
  i64 i(i64 k) const {
    if (k >= n) fail("meta is too short");
    const double d = p[k];
    if (!(d == std::floor(d)) || std::fabs(d) > 9007199254740992.0) fail("meta entry is not an integer");
    return i64(d);
  }
  double d(i64 k) const {
    if (k >= n) fail("meta is too short");
    return p[k];
  }
};
Meta meta(const Napi::CallbackInfo& info, size_t i) {
  Arr a = arr(info, i, "meta");
  if (a.type != napi_float64_array) fail("meta must be a Float64Array");
  return Meta{static_cast<const double*>(a.data), a.len};
}

void need_type(const Arr& a, napi_typedarray_type t, const char* name) {
  if (a.type != t) fail(std::string(name) + " must be a " + ta_name(t) + ", got " + ta_name(a.type));
}
/** The compute dtype of a float array (F32 or F64). */
int fdt(const Arr& a, const char* name) {
  if (a.type == napi_float32_array) return F32;
  if (a.type == napi_float64_array) return F64;
  fail(std::string(name) + " must be a Float32Array or Float64Array, got " + ta_name(a.type));
}
void same_dt(const Arr& a, int dt, const char* name) {
  if (a.null) return;
  if (fdt(a, name) != dt) fail(std::string(name) + " must have the same dtype as the other float arrays");
}
void need_len(const Arr& a, i64 n, const char* name) {
  if (a.null) return;
  if (a.len < n) fail(std::string(name) + " has " + std::to_string(a.len) + " elements, needs " + std::to_string(n));
}
i64 mul(i64 a, i64 b) {
  if (a != 0 && b > INT64_MAX / a) fail("size overflow");
  return a * b;
}
/** Checks that every element offset + i . strides over shape lies in [0, len). */
void need_extent(i64 len, i64 off, int rank, const i64* shape, const i64* strides, const char* name) {
  i64 total = 1;
  for (int d = 0; d < rank; d++) {
    if (shape[d] < 0) fail(std::string("negative size in shape"));
    total = mul(total, shape[d]);
  }
  if (total == 0) return;
  i64 lo = off, hi = off;
  for (int d = 0; d < rank; d++) {
    const i64 span = (shape[d] - 1) * strides[d];
    if (span < 0) lo += span;
    else hi += span;
  }
  if (lo < 0 || hi >= len)
    fail(std::string(name) + " is accessed at [" + std::to_string(lo) + ", " + std::to_string(hi) +
         "] but has " + std::to_string(len) + " elements");
}
/** Max element index + 1 touched by `batch` matrices of rows x cols with leading dim ld. */
void need_matrix(const Arr& a, i64 off, i64 batch, i64 bstride, i64 rows, i64 cols, i64 ld, const char* name) {
  if (off < 0 || bstride < 0 || ld < 0) fail(std::string(name) + ": offsets, strides and leading dims must be >= 0");
  if (batch == 0 || rows == 0 || cols == 0) return;
  const i64 need = off + (batch - 1) * bstride + (rows - 1) * ld + cols;
  need_len(a, need, name);
}

#define LM_KERNEL(jsname, ...)                                                             \
  Napi::Value k_##jsname(const Napi::CallbackInfo& info) {                                 \
    try {                                                                                  \
      __VA_ARGS__                                                                          \
    } catch (const Napi::Error&) {                                                         \
      throw;                                                                               \
    } catch (const std::bad_alloc&) {                                                      \
      throw Napi::Error::New(info.Env(), std::string(#jsname) + ": out of memory");        \
    } catch (const std::exception& e) {                                                    \
      throw Napi::Error::New(info.Env(), std::string(#jsname) + ": " + e.what());          \
    }                                                                                      \
    return info.Env().Undefined();                                                         \
  }

#define LM_DISPATCH(dt, CALL) \
  do {                        \
    if ((dt) == F32) {        \
      using T = float;        \
      CALL;                   \
    } else {                  \
      using T = double;       \
      CALL;                   \
    }                         \
  } while (0)

template <typename T> T* P(const Arr& a) { return a.null ? nullptr : static_cast<T*>(a.data); }

// ---- info / memory ----

LM_KERNEL(info, {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("abi", kAbiVersion);
  o.Set("blas", blas_description());
  o.Set("lapack", lapack_description());
  o.Set("threads", num_threads());
  o.Set("simd", simd_level());
  std::string rt = "unknown";
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) rt = "avx512f";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) rt = "avx2+fma";
  else if (__builtin_cpu_supports("avx")) rt = "avx";
  else rt = "sse2";
#elif defined(__aarch64__)
  rt = "neon";
#endif
  o.Set("simdRuntime", rt);
#if defined(LMEDIT_HAVE_CBLAS)
  o.Set("hasBlas", true);
#else
  o.Set("hasBlas", false);
#endif
#if defined(LMEDIT_HAVE_LAPACK)
  o.Set("hasLapack", true);
#else
  o.Set("hasLapack", false);
#endif
  return o;
})

/** Zero-fills a whole typed array with all threads (recycled buffers must read as fresh zeros). */
LM_KERNEL(zero, {
  Arr a = arr(info, 0, "buf");
  size_t elem = 1;
  switch (a.type) {
    case napi_float64_array: elem = 8; break;
    case napi_float32_array:
    case napi_int32_array:
    case napi_uint32_array: elem = 4; break;
    case napi_uint16_array:
    case napi_int16_array: elem = 2; break;
    default: elem = 1;
  }
  char* base = static_cast<char*>(a.data);
  const i64 bytes = a.len * i64(elem);
  if (bytes == 0) return info.Env().Undefined();
  parallel_for(bytes, i64(1) << 20, [&](i64 b, i64 e) { std::memset(base + b, 0, size_t(e - b)); });
})

/** Detaches an ArrayBuffer so V8 frees its backing store now. Returns true when detached. */
LM_KERNEL(detach, {
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) fail("expects an ArrayBuffer");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.IsDetached()) return Napi::Boolean::New(info.Env(), false);
  napi_status st = napi_detach_arraybuffer(info.Env(), ab);
  if (st != napi_ok) {
    // not detachable (e.g. WebAssembly memory): leave it alone
    const napi_extended_error_info* ei = nullptr;
    napi_get_last_error_info(info.Env(), &ei);
    bool pending = false;
    napi_is_exception_pending(info.Env(), &pending);
    if (pending) {
      napi_value ex;
      napi_get_and_clear_last_exception(info.Env(), &ex);
    }
    return Napi::Boolean::New(info.Env(), false);
  }
  return Napi::Boolean::New(info.Env(), true);
})

// ---- layout ----

LM_KERNEL(copy, {
  Arr src = arr(info, 0, "src");
  const int sdt = int(geti(info, 1, "srcDtype"));
  Arr dst = arr(info, 2, "dst");
  const int ddt = int(geti(info, 3, "dstDtype"));
  const bool acc = getb(info, 4);
  Meta m = meta(info, 5);
  need_type(src, ta_for_dtype(sdt), "src");
  need_type(dst, ta_for_dtype(ddt), "dst");
  const i64 rank = m.i(0);
  if (rank < 0 || rank > kMaxRank) fail("rank " + std::to_string(rank) + " is not supported (at most 8)");
  const i64 soff = m.i(1), doff = m.i(2);
  i64 shape[kMaxRank], ss[kMaxRank], ds[kMaxRank];
  for (i64 d = 0; d < rank; d++) {
    shape[d] = m.i(3 + d);
    ss[d] = m.i(3 + rank + d);
    ds[d] = m.i(3 + 2 * rank + d);
  }
  need_extent(src.len, soff, int(rank), shape, ss, "src");
  need_extent(dst.len, doff, int(rank), shape, ds, "dst");
  copy(src.data, sdt, soff, ss, dst.data, ddt, doff, ds, int(rank), shape, acc);
})

// ---- gemm ----

LM_KERNEL(gemm, {
  Arr a = arr(info, 0, "a"), b = arr(info, 1, "b");
  const int bdt = int(geti(info, 2, "bDtype"));
  Arr c = arr(info, 3, "c");
  Meta m = meta(info, 4);
  const int dt = fdt(a, "a");
  same_dt(c, dt, "c");
  need_type(b, ta_for_dtype(bdt), "b");
  GemmArgs g;
  g.transA = m.i(0) != 0;
  g.transB = m.i(1) != 0;
  g.M = m.i(2), g.N = m.i(3), g.K = m.i(4);
  g.alpha = m.d(5), g.beta = m.d(6);
  g.batch = m.i(7);
  g.aOffset = m.i(8), g.lda = m.i(9), g.aBatchStride = m.i(10);
  g.bOffset = m.i(11), g.ldb = m.i(12), g.bBatchStride = m.i(13);
  g.cOffset = m.i(14), g.ldc = m.i(15), g.cBatchStride = m.i(16);
  if (g.M < 0 || g.N < 0 || g.K < 0 || g.batch < 0) fail("M, N, K and batch must be >= 0");
  need_matrix(a, g.aOffset, g.batch, g.aBatchStride, g.transA ? g.K : g.M, g.transA ? g.M : g.K, g.lda, "a");
  need_matrix(b, g.bOffset, g.batch, g.bBatchStride, g.transB ? g.N : g.K, g.transB ? g.K : g.N, g.ldb, "b");
  need_matrix(c, g.cOffset, g.batch, g.cBatchStride, g.M, g.N, g.ldc, "c");
  g.a = a.data, g.b = b.data, g.c = c.data, g.bDtype = bdt;
  LM_DISPATCH(dt, gemm<T>(g));
})

/**
 * Benchmark hook: C = A @ B (row-major [M,K] @ [K,N], float32) straight through cblas_sgemm
 * (the built-in kernel without BLAS), bypassing lmedit's dispatch.
 */
LM_KERNEL(directSgemm, {
  const i64 M = gets(info, 0, "M"), N = gets(info, 1, "N"), K = gets(info, 2, "K");
  Arr a = arr(info, 3, "a"), b = arr(info, 4, "b"), c = arr(info, 5, "c");
  need_type(a, napi_float32_array, "a");
  need_type(b, napi_float32_array, "b");
  need_type(c, napi_float32_array, "c");
  need_len(a, mul(M, K), "a");
  need_len(b, mul(K, N), "b");
  need_len(c, mul(M, N), "c");
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) fail("sizes too large");
  if (M == 0 || N == 0) return info.Env().Undefined();
#if defined(LMEDIT_HAVE_CBLAS)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.0f, P<float>(a),
              int(std::max<i64>(K, 1)), P<float>(b), int(std::max<i64>(N, 1)), 0.0f, P<float>(c), int(N));
#else
  gemm_builtin<float, float>(false, false, M, N, K, 1.0f, P<float>(a), K, P<float>(b), N, 0.0f, P<float>(c), N, true);
#endif
})

// ---- elementwise ----

LM_KERNEL(unary, {
  const int op = int(geti(info, 0, "op"));
  Arr x = arr(info, 1, "x"), out = arr(info, 2, "out");
  const i64 n = gets(info, 3, "n");
  const double p0 = getd(info, 4, "p0"), p1 = getd(info, 5, "p1");
  const int dt = fdt(x, "x");
  same_dt(out, dt, "out");
  need_len(x, n, "x");
  need_len(out, n, "out");
  if (op < 0 || op >= U_COUNT) fail("unknown op code " + std::to_string(op));
  LM_DISPATCH(dt, unary<T>(op, P<T>(x), P<T>(out), n, p0, p1));
})

LM_KERNEL(unaryGrad, {
  const int op = int(geti(info, 0, "op"));
  Arr x = arr(info, 1, "x"), gy = arr(info, 2, "gy"), gx = arr(info, 3, "gx");
  const i64 n = gets(info, 4, "n");
  const double p0 = getd(info, 5, "p0"), p1 = getd(info, 6, "p1");
  const int dt = fdt(x, "x");
  same_dt(gy, dt, "gy");
  same_dt(gx, dt, "gx");
  need_len(x, n, "x");
  need_len(gy, n, "gy");
  need_len(gx, n, "gx");
  if (op < 0 || op >= U_COUNT) fail("unknown op code " + std::to_string(op));
  LM_DISPATCH(dt, unary_grad<T>(op, P<T>(x), P<T>(gy), P<T>(gx), n, p0, p1));
})

LM_KERNEL(binary, {
  const int op = int(geti(info, 0, "op"));
  Arr a = arr(info, 1, "a"), b = arr(info, 2, "b"), out = arr(info, 3, "out");
  Meta m = meta(info, 4);
  const int dt = fdt(a, "a");
  same_dt(b, dt, "b");
  same_dt(out, dt, "out");
  if (op < 0 || op >= B_COUNT) fail("unknown op code " + std::to_string(op));
  const i64 rank = m.i(0);
  if (rank < 0 || rank > kMaxRank) fail("rank " + std::to_string(rank) + " is not supported (at most 8)");
  const i64 aoff = m.i(1), boff = m.i(2);
  i64 shape[kMaxRank], as[kMaxRank], bs[kMaxRank], os[kMaxRank];
  i64 total = 1;
  for (i64 d = 0; d < rank; d++) {
    shape[d] = m.i(3 + d);
    as[d] = m.i(3 + rank + d);
    bs[d] = m.i(3 + 2 * rank + d);
  }
  for (i64 d = rank - 1; d >= 0; d--) {
    os[d] = total;
    if (shape[d] < 0) fail("negative size in shape");
    total = mul(total, shape[d]);
  }
  need_extent(a.len, aoff, int(rank), shape, as, "a");
  need_extent(b.len, boff, int(rank), shape, bs, "b");
  need_extent(out.len, 0, int(rank), shape, os, "out");
  LM_DISPATCH(dt, binary<T>(op, P<T>(a), aoff, as, P<T>(b), boff, bs, P<T>(out), int(rank), shape));
})

LM_KERNEL(where, {
  Arr cnd = arr(info, 0, "cond"), a = arr(info, 1, "a"), b = arr(info, 2, "b"), out = arr(info, 3, "out");
  Meta m = meta(info, 4);
  const int dt = fdt(a, "a");
  same_dt(cnd, dt, "cond");
  same_dt(b, dt, "b");
  same_dt(out, dt, "out");
  const i64 rank = m.i(0);
  if (rank < 0 || rank > kMaxRank) fail("rank " + std::to_string(rank) + " is not supported (at most 8)");
  const i64 coff = m.i(1), aoff = m.i(2), boff = m.i(3);
  i64 shape[kMaxRank], cs[kMaxRank], as[kMaxRank], bs[kMaxRank], os[kMaxRank];
  i64 total = 1;
  for (i64 d = 0; d < rank; d++) {
    shape[d] = m.i(4 + d);
    cs[d] = m.i(4 + rank + d);
    as[d] = m.i(4 + 2 * rank + d);
    bs[d] = m.i(4 + 3 * rank + d);
  }
  for (i64 d = rank - 1; d >= 0; d--) {
    os[d] = total;
    if (shape[d] < 0) fail("negative size in shape");
    total = mul(total, shape[d]);
  }
  need_extent(cnd.len, coff, int(rank), shape, cs, "cond");
  need_extent(a.len, aoff, int(rank), shape, as, "a");
  need_extent(b.len, boff, int(rank), shape, bs, "b");
  need_extent(out.len, 0, int(rank), shape, os, "out");
  LM_DISPATCH(dt, where<T>(P<T>(cnd), coff, cs, P<T>(a), aoff, as, P<T>(b), boff, bs, P<T>(out), int(rank), shape));
})

// ---- reductions ----

LM_KERNEL(reduce, {
  const int op = int(geti(info, 0, "op"));
  Arr x = arr(info, 1, "x"), out = arr(info, 2, "out");
  const i64 outer = gets(info, 3, "outer"), size = gets(info, 4, "size"), inner = gets(info, 5, "inner");
  const int dt = fdt(x, "x");
  same_dt(out, dt, "out");
  need_len(x, mul(mul(outer, size), inner), "x");
  need_len(out, mul(outer, inner), "out");
  LM_DISPATCH(dt, reduce<T>(op, P<T>(x), P<T>(out), outer, size, inner));
})

LM_KERNEL(argmax, {
  Arr x = arr(info, 0, "x"), out = arr(info, 1, "out");
  const i64 outer = gets(info, 2, "outer"), size = gets(info, 3, "size"), inner = gets(info, 4, "inner");
  const int dt = fdt(x, "x");
  need_type(out, napi_int32_array, "out");
  need_len(x, mul(mul(outer, size), inner), "x");
  need_len(out, mul(outer, inner), "out");
  LM_DISPATCH(dt, argmax<T>(P<T>(x), P<int32_t>(out), outer, size, inner));
})

// ---- fused rows ----

LM_KERNEL(softmax, {
  Arr x = arr(info, 0, "x"), out = arr(info, 1, "out");
  const i64 rows = gets(info, 2, "rows"), cols = gets(info, 3, "cols");
  const bool lg = getb(info, 4);
  const int dt = fdt(x, "x");
  same_dt(out, dt, "out");
  need_len(x, mul(rows, cols), "x");
  need_len(out, mul(rows, cols), "out");
  LM_DISPATCH(dt, softmax<T>(P<T>(x), P<T>(out), rows, cols, lg));
})

LM_KERNEL(softmaxGrad, {
  Arr y = arr(info, 0, "y"), gy = arr(info, 1, "gy"), gx = arr(info, 2, "gx");
  const i64 rows = gets(info, 3, "rows"), cols = gets(info, 4, "cols");
  const bool lg = getb(info, 5);
  const int dt = fdt(y, "y");
  same_dt(gy, dt, "gy");
  same_dt(gx, dt, "gx");
  const i64 n = mul(rows, cols);
  need_len(y, n, "y");
  need_len(gy, n, "gy");
  need_len(gx, n, "gx");
  LM_DISPATCH(dt, softmax_grad<T>(P<T>(y), P<T>(gy), P<T>(gx), rows, cols, lg));
})

LM_KERNEL(layerNorm, {
  Arr x = arr(info, 0, "x"), w = arr(info, 1, "w", true), b = arr(info, 2, "b", true), out = arr(info, 3, "out"),
      mean = arr(info, 4, "mean"), rstd = arr(info, 5, "rstd");
  const i64 rows = gets(info, 6, "rows"), cols = gets(info, 7, "cols");
  const double eps = getd(info, 8, "eps");
  const int dt = fdt(x, "x");
  for (auto* p : {&w, &b, &out, &mean, &rstd}) same_dt(*p, dt, "array");
  const i64 n = mul(rows, cols);
  need_len(x, n, "x");
  need_len(out, n, "out");
  need_len(w, cols, "w");
  need_len(b, cols, "b");
  need_len(mean, rows, "mean");
  need_len(rstd, rows, "rstd");
  LM_DISPATCH(dt, layer_norm<T>(P<T>(x), P<T>(w), P<T>(b), P<T>(out), P<T>(mean), P<T>(rstd), rows, cols, eps));
})

LM_KERNEL(layerNormGrad, {
  Arr x = arr(info, 0, "x"), w = arr(info, 1, "w", true), mean = arr(info, 2, "mean"), rstd = arr(info, 3, "rstd"),
      gy = arr(info, 4, "gy"), gx = arr(info, 5, "gx"), gw = arr(info, 6, "gw", true), gb = arr(info, 7, "gb", true);
  const i64 rows = gets(info, 8, "rows"), cols = gets(info, 9, "cols");
  const int dt = fdt(x, "x");
  for (auto* p : {&w, &mean, &rstd, &gy, &gx, &gw, &gb}) same_dt(*p, dt, "array");
  const i64 n = mul(rows, cols);
  need_len(x, n, "x");
  need_len(gy, n, "gy");
  need_len(gx, n, "gx");
  need_len(w, cols, "w");
  need_len(gw, cols, "gw");
  need_len(gb, cols, "gb");
  need_len(mean, rows, "mean");
  need_len(rstd, rows, "rstd");
  LM_DISPATCH(dt, layer_norm_grad<T>(P<T>(x), P<T>(w), P<T>(mean), P<T>(rstd), P<T>(gy), P<T>(gx), P<T>(gw),
                                     P<T>(gb), rows, cols));
})

LM_KERNEL(rmsNorm, {
  Arr x = arr(info, 0, "x"), w = arr(info, 1, "w", true), out = arr(info, 2, "out"), rstd = arr(info, 3, "rstd");
  const i64 rows = gets(info, 4, "rows"), cols = gets(info, 5, "cols");
  const double eps = getd(info, 6, "eps");
  const int dt = fdt(x, "x");
  for (auto* p : {&w, &out, &rstd}) same_dt(*p, dt, "array");
  const i64 n = mul(rows, cols);
  need_len(x, n, "x");
  need_len(out, n, "out");
  need_len(w, cols, "w");
  need_len(rstd, rows, "rstd");
  LM_DISPATCH(dt, rms_norm<T>(P<T>(x), P<T>(w), P<T>(out), P<T>(rstd), rows, cols, eps));
})

LM_KERNEL(rmsNormGrad, {
  Arr x = arr(info, 0, "x"), w = arr(info, 1, "w", true), rstd = arr(info, 2, "rstd"), gy = arr(info, 3, "gy"),
      gx = arr(info, 4, "gx"), gw = arr(info, 5, "gw", true);
  const i64 rows = gets(info, 6, "rows"), cols = gets(info, 7, "cols");
  const int dt = fdt(x, "x");
  for (auto* p : {&w, &rstd, &gy, &gx, &gw}) same_dt(*p, dt, "array");
  const i64 n = mul(rows, cols);
  need_len(x, n, "x");
  need_len(gy, n, "gy");
  need_len(gx, n, "gx");
  need_len(w, cols, "w");
  need_len(gw, cols, "gw");
  need_len(rstd, rows, "rstd");
  LM_DISPATCH(dt, rms_norm_grad<T>(P<T>(x), P<T>(w), P<T>(rstd), P<T>(gy), P<T>(gx), P<T>(gw), rows, cols));
})

// ---- indexing ----

LM_KERNEL(indexSelect, {
  Arr table = arr(info, 0, "table");
  const int tdt = int(geti(info, 1, "tableDtype"));
  const i64 rows = gets(info, 2, "rows"), cols = gets(info, 3, "cols");
  Arr ids = arr(info, 4, "ids"), out = arr(info, 5, "out");
  need_type(table, ta_for_dtype(tdt), "table");
  need_type(ids, napi_int32_array, "ids");
  const int dt = fdt(out, "out");
  need_len(table, mul(rows, cols), "table");
  need_len(out, mul(ids.len, cols), "out");
  LM_DISPATCH(dt, index_select<T>(table.data, tdt, rows, cols, P<int32_t>(ids), ids.len, P<T>(out)));
})

LM_KERNEL(indexAdd, {
  Arr src = arr(info, 0, "src"), ids = arr(info, 1, "ids"), g = arr(info, 2, "g");
  const i64 rows = gets(info, 3, "rows"), cols = gets(info, 4, "cols");
  const int dt = fdt(src, "src");
  same_dt(g, dt, "g");
  need_type(ids, napi_int32_array, "ids");
  need_len(src, mul(ids.len, cols), "src");
  need_len(g, mul(rows, cols), "g");
  LM_DISPATCH(dt, index_add<T>(P<T>(src), P<int32_t>(ids), ids.len, P<T>(g), rows, cols));
})

LM_KERNEL(gather, {
  Arr x = arr(info, 0, "x"), idx = arr(info, 1, "idx"), out = arr(info, 2, "out");
  const i64 rows = gets(info, 3, "rows"), cols = gets(info, 4, "cols"), k = gets(info, 5, "k");
  const int dt = fdt(x, "x");
  same_dt(out, dt, "out");
  need_type(idx, napi_int32_array, "idx");
  need_len(x, mul(rows, cols), "x");
  need_len(idx, mul(rows, k), "idx");
  need_len(out, mul(rows, k), "out");
  LM_DISPATCH(dt, gather<T>(P<T>(x), P<int32_t>(idx), P<T>(out), rows, cols, k));
})

LM_KERNEL(scatterAdd, {
  Arr src = arr(info, 0, "src"), idx = arr(info, 1, "idx"), g = arr(info, 2, "g");
  const i64 rows = gets(info, 3, "rows"), cols = gets(info, 4, "cols"), k = gets(info, 5, "k");
  const int dt = fdt(src, "src");
  same_dt(g, dt, "g");
  need_type(idx, napi_int32_array, "idx");
  need_len(src, mul(rows, k), "src");
  need_len(idx, mul(rows, k), "idx");
  need_len(g, mul(rows, cols), "g");
  LM_DISPATCH(dt, scatter_add<T>(P<T>(src), P<int32_t>(idx), P<T>(g), rows, cols, k));
})

// ---- transformer blocks ----

LM_KERNEL(rope, {
  Arr x = arr(info, 0, "x"), out = arr(info, 1, "out"), pos = arr(info, 2, "positions"), cs = arr(info, 3, "cos"),
      sn = arr(info, 4, "sin");
  Meta m = meta(info, 5);
  const int dt = fdt(x, "x");
  for (auto* p : {&out, &cs, &sn}) same_dt(*p, dt, "array");
  need_type(pos, napi_int32_array, "positions");
  RopeArgs r;
  r.B = m.i(0), r.H = m.i(1), r.T = m.i(2), r.D = m.i(3), r.rotaryDim = m.i(4);
  r.interleaved = m.i(5) != 0;
  r.inverse = m.i(6) != 0;
  if (r.B < 0 || r.H < 0 || r.T < 0 || r.D < 0) fail("sizes must be >= 0");
  if (r.rotaryDim < 0 || r.rotaryDim % 2 != 0 || r.rotaryDim > r.D) fail("rotaryDim must be even and <= D");
  const i64 n = mul(mul(mul(r.B, r.H), r.T), r.D);
  need_len(x, n, "x");
  need_len(out, n, "out");
  need_len(pos, mul(r.B, r.T), "positions");
  const i64 half = r.rotaryDim / 2;
  r.P = half > 0 ? std::min(cs.len, sn.len) / half : INT64_MAX;
  r.x = x.data, r.out = out.data, r.positions = P<int32_t>(pos), r.cos = cs.data, r.sin = sn.data;
  LM_DISPATCH(dt, rope<T>(r));
})

AttnArgs attn_args(const Napi::CallbackInfo& info, bool grad, int& dt) {
  Arr q = arr(info, 0, "q"), k = arr(info, 1, "k"), v = arr(info, 2, "v"), out = arr(info, 3, "out"),
      lse = arr(info, 4, "lse"), mask = arr(info, 5, "keyMask", true);
  Meta m = meta(info, grad ? 10 : 6);
  dt = fdt(q, "q");
  for (auto* p : {&k, &v, &out, &lse}) same_dt(*p, dt, "array");
  AttnArgs a;
  a.B = m.i(0), a.H = m.i(1), a.KVH = m.i(2), a.Tq = m.i(3), a.Tk = m.i(4), a.D = m.i(5);
  a.scale = m.d(6);
  a.causal = m.i(7) != 0;
  if (a.B < 0 || a.H < 0 || a.KVH < 0 || a.Tq < 0 || a.Tk < 0 || a.D < 0) fail("sizes must be >= 0");
  if (a.H > 0 && (a.KVH <= 0 || a.H % a.KVH != 0)) fail("H must be a multiple of KVH");
  a.kvCap = grad ? a.Tk : m.i(8);
  if (a.kvCap < a.Tk) fail("kvCapacity must be >= Tk");
  const i64 nq = mul(mul(mul(a.B, a.H), a.Tq), a.D), nk = mul(mul(mul(a.B, a.KVH), a.kvCap), a.D);
  need_len(q, nq, "q");
  need_len(out, nq, "out");
  need_len(k, nk, "k");
  need_len(v, nk, "v");
  need_len(lse, mul(mul(a.B, a.H), a.Tq), "lse");
  if (!mask.null) {
    need_type(mask, napi_uint8_array, "keyMask");
    need_len(mask, mul(a.B, a.Tk), "keyMask");
  }
  a.q = q.data, a.k = k.data, a.v = v.data, a.out = out.data, a.lse = lse.data;
  a.keyMask = mask.null ? nullptr : static_cast<const uint8_t*>(mask.data);
  if (grad) {
    Arr gout = arr(info, 6, "gout"), gq = arr(info, 7, "gq"), gk = arr(info, 8, "gk"), gv = arr(info, 9, "gv");
    for (auto* p : {&gout, &gq, &gk, &gv}) same_dt(*p, dt, "array");
    need_len(gout, nq, "gout");
    need_len(gq, nq, "gq");
    need_len(gk, nk, "gk");
    need_len(gv, nk, "gv");
    a.gout = gout.data, a.gq = gq.data, a.gk = gk.data, a.gv = gv.data;
  }
  return a;
}

LM_KERNEL(attention, {
  int dt = F32;
  AttnArgs a = attn_args(info, false, dt);
  LM_DISPATCH(dt, attention<T>(a));
})

LM_KERNEL(attentionGrad, {
  int dt = F32;
  AttnArgs a = attn_args(info, true, dt);
  LM_DISPATCH(dt, attention_grad<T>(a));
})

// ---- linear algebra ----

LM_KERNEL(cholesky, {
  Arr a = arr(info, 0, "a");
  const i64 n = gets(info, 1, "n");
  Arr out = arr(info, 2, "out");
  const int dt = fdt(a, "a");
  same_dt(out, dt, "out");
  need_len(a, mul(n, n), "a");
  need_len(out, mul(n, n), "out");
  LM_DISPATCH(dt, cholesky<T>(P<T>(a), n, P<T>(out)));
})

LM_KERNEL(solveSPD, {
  Arr a = arr(info, 0, "a"), b = arr(info, 1, "b");
  const i64 n = gets(info, 2, "n"), nrhs = gets(info, 3, "nrhs");
  Arr out = arr(info, 4, "out");
  const int dt = fdt(a, "a");
  same_dt(b, dt, "b");
  same_dt(out, dt, "out");
  need_len(a, mul(n, n), "a");
  need_len(b, mul(n, nrhs), "b");
  need_len(out, mul(n, nrhs), "out");
  LM_DISPATCH(dt, solve_spd<T>(P<T>(a), P<T>(b), n, nrhs, P<T>(out)));
})

LM_KERNEL(solve, {
  Arr a = arr(info, 0, "a"), b = arr(info, 1, "b");
  const i64 n = gets(info, 2, "n"), nrhs = gets(info, 3, "nrhs");
  Arr out = arr(info, 4, "out");
  const int dt = fdt(a, "a");
  same_dt(b, dt, "b");
  same_dt(out, dt, "out");
  need_len(a, mul(n, n), "a");
  need_len(b, mul(n, nrhs), "b");
  need_len(out, mul(n, nrhs), "out");
  LM_DISPATCH(dt, solve<T>(P<T>(a), P<T>(b), n, nrhs, P<T>(out)));
})

LM_KERNEL(inverse, {
  Arr a = arr(info, 0, "a");
  const i64 n = gets(info, 1, "n");
  Arr out = arr(info, 2, "out");
  const int dt = fdt(a, "a");
  same_dt(out, dt, "out");
  need_len(a, mul(n, n), "a");
  need_len(out, mul(n, n), "out");
  LM_DISPATCH(dt, inverse<T>(P<T>(a), n, P<T>(out)));
})

LM_KERNEL(eigh, {
  Arr a = arr(info, 0, "a");
  const i64 n = gets(info, 1, "n");
  Arr values = arr(info, 2, "values"), vectors = arr(info, 3, "vectors");
  const int dt = fdt(a, "a");
  same_dt(values, dt, "values");
  same_dt(vectors, dt, "vectors");
  need_len(a, mul(n, n), "a");
  need_len(values, n, "values");
  need_len(vectors, mul(n, n), "vectors");
  LM_DISPATCH(dt, eigh<T>(P<T>(a), n, P<T>(values), P<T>(vectors)));
})

LM_KERNEL(svd, {
  Arr a = arr(info, 0, "a");
  const i64 m = gets(info, 1, "m"), n = gets(info, 2, "n");
  Arr u = arr(info, 3, "u"), s = arr(info, 4, "s"), vt = arr(info, 5, "vt");
  const int dt = fdt(a, "a");
  for (auto* p : {&u, &s, &vt}) same_dt(*p, dt, "array");
  const i64 k = std::min(m, n);
  need_len(a, mul(m, n), "a");
  need_len(u, mul(m, k), "u");
  need_len(s, k, "s");
  need_len(vt, mul(k, n), "vt");
  LM_DISPATCH(dt, svd<T>(P<T>(a), m, n, P<T>(u), P<T>(s), P<T>(vt)));
})

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  num_threads();  // start the pool now: also sets OpenBLAS's thread count before any BLAS call
#define LM_EXPORT(name) exports.Set(#name, Napi::Function::New(env, k_##name, #name))
  LM_EXPORT(info);
  LM_EXPORT(detach);
  LM_EXPORT(zero);
  LM_EXPORT(copy);
  LM_EXPORT(gemm);
  LM_EXPORT(directSgemm);
  LM_EXPORT(unary);
  LM_EXPORT(unaryGrad);
  LM_EXPORT(binary);
  LM_EXPORT(where);
  LM_EXPORT(reduce);
  LM_EXPORT(argmax);
  LM_EXPORT(softmax);
  LM_EXPORT(softmaxGrad);
  LM_EXPORT(layerNorm);
  LM_EXPORT(layerNormGrad);
  LM_EXPORT(rmsNorm);
  LM_EXPORT(rmsNormGrad);
  LM_EXPORT(indexSelect);
  LM_EXPORT(indexAdd);
  LM_EXPORT(gather);
  LM_EXPORT(scatterAdd);
  LM_EXPORT(rope);
  LM_EXPORT(attention);
  LM_EXPORT(attentionGrad);
  LM_EXPORT(cholesky);
  LM_EXPORT(solveSPD);
  LM_EXPORT(solve);
  LM_EXPORT(inverse);
  LM_EXPORT(eigh);
  LM_EXPORT(svd);
#undef LM_EXPORT
  return exports;
}

}  // namespace
}  // namespace lm

static Napi::Object InitLmedit(Napi::Env env, Napi::Object exports) { return lm::Init(env, exports); }

NODE_API_MODULE(lmedit_native, InitLmedit)
