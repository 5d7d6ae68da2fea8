// Elementwise kernels: unary, unaryGrad, binary (broadcast by strides), where.
//
// float32 is computed in float with the C library's float functions (expf, tanhf, ...), except
// the two GELUs, their gradients and tanh's gradient, which are evaluated in double and rounded
// once: their formulas cancel catastrophically (1 + tanh(u) with tanh(u) near -1, 1 - tanh^2),
// where float evaluation would be far from the float64 reference. Sigmoid/SiLU gradients use
// 1 - sigmoid(x) = sigmoid(-x) for the same reason. NaN semantics follow
// PyTorch: maximum/minimum/clamp/relu propagate NaN; pow follows C (pow(1, NaN) = 1).
#include <algorithm>
#include <cmath>

#include <cstring>
#include <type_traits>
#include "kernels.h"
#include "nd.h"
#include "threadpool.h"

namespace lm {
namespace {

constexpr i64 kGrainCheap = 32768;
constexpr i64 kGrainCostly = 4096;

inline bool costly_unary(int op) {
  switch (op) {
    case U_NEG: case U_ABS: case U_SIGN: case U_RELU: case U_SQUARE: case U_RECIPROCAL: case U_CLAMP: case U_SQRT:
    case U_RSQRT:
      return false;
    default:
      return true;
  }
}

/** Stable logistic: exp never overflows, so tiny results stay (sub)normal instead of 0. */
template <typename T> inline T sigmoid_of(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1 / sqrt(2 pi)

// ---- float32 fast paths -----------------------------------------------------------------
// exp with Cephes' range reduction and polynomial (~1 ulp), written with plain arithmetic so
// the loops around it vectorize (libm's expf/tanhf calls do not).
inline float exp_fast(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

// gelu_new as x·σ(2u), u = √(2/π)(x + 0.044715x³): equal to 0.5x(1 + tanh u) but with no
// cancellation for negative x, and vectorizable.
inline float gelu_tanh_f(float x) {
  const float u = float(kSqrt2OverPi) * (x + 0.044715f * x * x * x);
  return x / (1.0f + exp_fast(-2.0f * u));
}
inline float gelu_tanh_grad_f(float x) {
  const float x2 = x * x;
  const float u = float(kSqrt2OverPi) * (x + 0.044715f * x2 * x);
  const float sg = 1.0f / (1.0f + exp_fast(-2.0f * u));
  const float du = float(kSqrt2OverPi) * (1.0f + 3.0f * 0.044715f * x2);
  return sg + x * sg * (1.0f - sg) * 2.0f * du;
}
inline float sigmoid_f(float v) { return 1.0f / (1.0f + exp_fast(-v)); }

inline double gelu_tanh_d(double x) {
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
}
inline double gelu_tanh_grad_d(double x) {
  const double x2 = x * x;
  const double t = std::tanh(kSqrt2OverPi * (x + 0.044715 * x2 * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * 0.044715 * x2);
}
inline double gelu_erf_d(double x) { return 0.5 * x * (1.0 + std::erf(x * kInvSqrt2)); }
inline double gelu_erf_grad_d(double x) {
  return 0.5 * (1.0 + std::erf(x * kInvSqrt2)) + x * std::exp(-0.5 * x * x) * kInvSqrt2Pi;
}

template <typename T, class F> void map1(const T* x, T* out, i64 n, i64 grain, F f) {
  parallel_for(n, grain, [&](i64 b, i64 e) {
    for (i64 i = b; i < e; i++) out[i] = f(x[i]);
  });
}
template <typename T, class F> void map2(const T* x, const T* y, T* out, i64 n, i64 grain, F f) {
  parallel_for(n, grain, [&](i64 b, i64 e) {
    for (i64 i = b; i < e; i++) out[i] = f(x[i], y[i]);
  });
}

}  // namespace

template <typename T> void unary(int op, const T* x, T* out, i64 n, double p0d, double p1d) {
  const i64 g = costly_unary(op) ? kGrainCostly : kGrainCheap;
  const T p0 = T(p0d), p1 = T(p1d);
  switch (op) {
    case U_NEG: return map1(x, out, n, g, [](T v) { return -v; });
    case U_EXP: return map1(x, out, n, g, [](T v) { return std::exp(v); });
    case U_LOG: return map1(x, out, n, g, [](T v) { return std::log(v); });
    case U_SQRT: return map1(x, out, n, g, [](T v) { return std::sqrt(v); });
    case U_RSQRT: return map1(x, out, n, g, [](T v) { return T(1) / std::sqrt(v); });
    case U_TANH: return map1(x, out, n, g, [](T v) { return std::tanh(v); });
    case U_ABS: return map1(x, out, n, g, [](T v) { return std::fabs(v); });
    // Math.sign semantics: +-0 and NaN map to themselves.
    case U_SIGN: return map1(x, out, n, g, [](T v) { return v > T(0) ? T(1) : (v < T(0) ? T(-1) : v); });
    case U_SIGMOID: return map1(x, out, n, g, [](T v) { return sigmoid_of(v); });
    case U_RELU: return map1(x, out, n, g, [](T v) { return (v > T(0) || v != v) ? v : T(0); });
    case U_SILU:
      if constexpr (std::is_same_v<T, float>) return map1(x, out, n, g, [](float v) { return v * sigmoid_f(v); });
      else return map1(x, out, n, g, [](T v) { return v * sigmoid_of(v); });
    case U_GELU_TANH:
      if constexpr (std::is_same_v<T, float>) return map1(x, out, n, g, [](float v) { return gelu_tanh_f(v); });
      else return map1(x, out, n, g, [](T v) { return T(gelu_tanh_d(double(v))); });
    case U_GELU_ERF: return map1(x, out, n, g, [](T v) { return T(gelu_erf_d(double(v))); });
    case U_SQUARE: return map1(x, out, n, g, [](T v) { return v * v; });
    case U_RECIPROCAL: return map1(x, out, n, g, [](T v) { return T(1) / v; });
    case U_SIN: return map1(x, out, n, g, [](T v) { return std::sin(v); });
    case U_COS: return map1(x, out, n, g, [](T v) { return std::cos(v); });
    case U_POW:
      if (p0d == 2.0) return map1(x, out, n, kGrainCheap, [](T v) { return v * v; });
      if (p0d == 1.0) return map1(x, out, n, kGrainCheap, [](T v) { return v; });
      return map1(x, out, n, g, [p0](T v) { return std::pow(v, p0); });
    case U_CLAMP:
      return map1(x, out, n, g, [p0, p1](T v) { return v < p0 ? p0 : (v > p1 ? p1 : v); });
  }
  fail("unknown unary op " + std::to_string(op));
}

template <typename T> void unary_grad(int op, const T* x, const T* gy, T* gx, i64 n, double p0d, double p1d) {
  const i64 g = costly_unary(op) ? kGrainCostly : kGrainCheap;
  const T p0 = T(p0d), p1 = T(p1d);
  switch (op) {
    case U_NEG: return map2(x, gy, gx, n, g, [](T, T d) { return -d; });
    case U_EXP: return map2(x, gy, gx, n, g, [](T v, T d) { return d * std::exp(v); });
    case U_LOG: return map2(x, gy, gx, n, g, [](T v, T d) { return d / v; });
    case U_SQRT: return map2(x, gy, gx, n, g, [](T v, T d) { return d / (T(2) * std::sqrt(v)); });
    case U_RSQRT:
      return map2(x, gy, gx, n, g, [](T v, T d) {
        T r = T(1) / std::sqrt(v);
        return T(-0.5) * d * r * r * r;
      });
    case U_TANH:
      // 1 - tanh^2 cancels near |tanh| = 1: evaluate in double
      return map2(x, gy, gx, n, g, [](T v, T d) {
        const double t = std::tanh(double(v));
        return T(double(d) * (1.0 - t * t));
      });
    case U_ABS:
      return map2(x, gy, gx, n, g, [](T v, T d) { return v > T(0) ? d : (v < T(0) ? -d : (v == T(0) ? T(0) : v)); });
    case U_SIGN: return map2(x, gy, gx, n, g, [](T, T) { return T(0); });
    case U_SIGMOID:
      // s (1 - s) with 1 - s = sigmoid(-x): no cancellation for large x
      return map2(x, gy, gx, n, g, [](T v, T d) { return d * (sigmoid_of(v) * sigmoid_of(-v)); });
    // PyTorch threshold_backward: x <= 0 ? 0 : gy (NaN passes the gradient)
    case U_RELU: return map2(x, gy, gx, n, g, [](T v, T d) { return v <= T(0) ? T(0) : d; });
    case U_SILU:
      return map2(x, gy, gx, n, g, [](T v, T d) {
        const T s = sigmoid_of(v);
        return d * (s * (T(1) + v * sigmoid_of(-v)));
      });
    case U_GELU_TANH:
      if constexpr (std::is_same_v<T, float>) return map2(x, gy, gx, n, g, [](float v, float d) { return d * gelu_tanh_grad_f(v); });
      else return map2(x, gy, gx, n, g, [](T v, T d) { return T(double(d) * gelu_tanh_grad_d(double(v))); });
    case U_GELU_ERF: return map2(x, gy, gx, n, g, [](T v, T d) { return T(double(d) * gelu_erf_grad_d(double(v))); });
    case U_SQUARE: return map2(x, gy, gx, n, g, [](T v, T d) { return T(2) * v * d; });
    case U_RECIPROCAL: return map2(x, gy, gx, n, g, [](T v, T d) { return -d / (v * v); });
    case U_SIN: return map2(x, gy, gx, n, g, [](T v, T d) { return d * std::cos(v); });
    case U_COS: return map2(x, gy, gx, n, g, [](T v, T d) { return -d * std::sin(v); });
    case U_POW:
      // PyTorch pow_backward: zero gradient where the exponent is 0.
      if (p0d == 0.0) return map2(x, gy, gx, n, kGrainCheap, [](T, T) { return T(0); });
      if (p0d == 2.0) return map2(x, gy, gx, n, kGrainCheap, [](T v, T d) { return T(2) * v * d; });
      if (p0d == 1.0) return map2(x, gy, gx, n, kGrainCheap, [](T, T d) { return d; });
      return map2(x, gy, gx, n, g, [p0](T v, T d) { return d * p0 * std::pow(v, p0 - T(1)); });
    case U_CLAMP: return map2(x, gy, gx, n, g, [p0, p1](T v, T d) { return (v >= p0 && v <= p1) ? d : T(0); });
  }
  fail("unknown unary op " + std::to_string(op));
}

namespace {

template <typename T> inline T nan_max(T a, T b) { return a > b ? a : (b > a ? b : (a != a ? a : b)); }
template <typename T> inline T nan_min(T a, T b) { return a < b ? a : (b < a ? b : (a != a ? a : b)); }

template <typename T, class F>
void binary_impl(const T* a, i64 aoff, const i64* astr, const T* b, i64 boff, const i64* bstr, T* out, int rank,
                 const i64* shape, F f) {
  i64 ostr[kMaxRank];
  {
    i64 s = 1;
    for (int d = rank - 1; d >= 0; d--) {
      ostr[d] = s;
      s *= shape[d];
    }
  }
  const i64* strides[3] = {astr, bstr, ostr};
  NdIter<3> it(rank, shape, strides);
  if (it.total == 0) return;
  const i64 sa = it.inner_stride(0), sb = it.inner_stride(1);
  const i64 base[3] = {aoff, boff, 0};
  parallel_for(it.total, kGrainCheap, [&](i64 e0, i64 e1) {
    it.visit(base, e0, e1, [&](const i64* off, i64 len) {
      const T* pa = a + off[0];
      const T* pb = b + off[1];
      T* po = out + off[2];  // out is contiguous: inner stride 1
      if (sa == 1 && sb == 1) {
        for (i64 i = 0; i < len; i++) po[i] = f(pa[i], pb[i]);
      } else if (sa == 1 && sb == 0) {
        const T bv = *pb;
        for (i64 i = 0; i < len; i++) po[i] = f(pa[i], bv);
      } else if (sa == 0 && sb == 1) {
        const T av = *pa;
        for (i64 i = 0; i < len; i++) po[i] = f(av, pb[i]);
      } else {
        for (i64 i = 0; i < len; i++) po[i] = f(pa[i * sa], pb[i * sb]);
      }
    });
  });
}

}  // namespace

template <typename T>
void binary(int op, const T* a, i64 aoff, const i64* astr, const T* b, i64 boff, const i64* bstr, T* out, int rank,
            const i64* shape) {
#define LM_BIN(expr) return binary_impl(a, aoff, astr, b, boff, bstr, out, rank, shape, [](T x, T y) { return expr; })
  switch (op) {
    case B_ADD: LM_BIN(x + y);
    case B_SUB: LM_BIN(x - y);
    case B_MUL: LM_BIN(x * y);
    case B_DIV: LM_BIN(x / y);
    case B_POW: LM_BIN(std::pow(x, y));
    case B_MAX: LM_BIN(nan_max(x, y));
    case B_MIN: LM_BIN(nan_min(x, y));
    case B_EQ: LM_BIN(x == y ? T(1) : T(0));
    case B_NE: LM_BIN(x != y ? T(1) : T(0));
    case B_LT: LM_BIN(x < y ? T(1) : T(0));
    case B_LE: LM_BIN(x <= y ? T(1) : T(0));
    case B_GT: LM_BIN(x > y ? T(1) : T(0));
    case B_GE: LM_BIN(x >= y ? T(1) : T(0));
  }
#undef LM_BIN
  fail("unknown binary op " + std::to_string(op));
}

template <typename T>
void where(const T* cond, i64 coff, const i64* cstr, const T* a, i64 aoff, const i64* astr, const T* b, i64 boff,
           const i64* bstr, T* out, int rank, const i64* shape) {
  i64 ostr[kMaxRank];
  {
    i64 s = 1;
    for (int d = rank - 1; d >= 0; d--) {
      ostr[d] = s;
      s *= shape[d];
    }
  }
  const i64* strides[4] = {cstr, astr, bstr, ostr};
  NdIter<4> it(rank, shape, strides);
  if (it.total == 0) return;
  const i64 sc = it.inner_stride(0), sa = it.inner_stride(1), sb = it.inner_stride(2);
  const i64 base[4] = {coff, aoff, boff, 0};
  parallel_for(it.total, kGrainCheap, [&](i64 e0, i64 e1) {
    it.visit(base, e0, e1, [&](const i64* off, i64 len) {
      const T* pc = cond + off[0];
      const T* pa = a + off[1];
      const T* pb = b + off[2];
      T* po = out + off[3];
      if (sc == 1 && sa == 1 && sb == 1) {
        for (i64 i = 0; i < len; i++) po[i] = pc[i] != T(0) ? pa[i] : pb[i];
      } else {
        for (i64 i = 0; i < len; i++) po[i] = pc[i * sc] != T(0) ? pa[i * sa] : pb[i * sb];
      }
    });
  });
}

template void unary<float>(int, const float*, float*, i64, double, double);
template void unary<double>(int, const double*, double*, i64, double, double);
template void unary_grad<float>(int, const float*, const float*, float*, i64, double, double);
template void unary_grad<double>(int, const double*, const double*, double*, i64, double, double);
template void binary<float>(int, const float*, i64, const i64*, const float*, i64, const i64*, float*, int, const i64*);
template void binary<double>(int, const double*, i64, const i64*, const double*, i64, const i64*, double*, int,
                             const i64*);
template void where<float>(const float*, i64, const i64*, const float*, i64, const i64*, const float*, i64, const i64*,
                           float*, int, const i64*);
template void where<double>(const double*, i64, const i64*, const double*, i64, const i64*, const double*, i64,
                            const i64*, double*, int, const i64*);

}  // namespace lm
