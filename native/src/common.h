// Shared definitions of the lmedit native kernels: error type, dtype codes, f16/bf16 bit
// conversions (bit-exact with src/tensor/dtype.ts), JS-compatible float->int conversions and
// the SIMD vector types the kernels are written with (GCC/Clang vector extensions, sized to
// the widest vector unit the compiler targets with -march=native).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace lm {

using i64 = int64_t;

/** Thrown by kernels; the glue maps it to a JS Error prefixed with the kernel's name. */
struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& msg) { throw KernelError(msg); }

/** Dtype codes shared with src/tensor/backends/native/codes.ts. */
enum DType : int { F32 = 0, F64 = 1, F16 = 2, BF16 = 3, I32 = 4, U8 = 5 };

inline const char* dtype_name(int d) {
  switch (d) {
    case F32: return "float32";
    case F64: return "float64";
    case F16: return "float16";
    case BF16: return "bfloat16";
    case I32: return "int32";
    case U8: return "uint8";
  }
  return "?";
}

inline size_t dtype_size(int d) {
  switch (d) {
    case F64: return 8;
    case F32:
    case I32: return 4;
    case F16:
    case BF16: return 2;
    default: return 1;
  }
}

// Tag types for half-precision storage (raw uint16 bit patterns).
struct f16_t { uint16_t bits; };
struct bf16_t { uint16_t bits; };

inline float bits_to_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t f32_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

/** bfloat16 bits -> float (exact). */
inline float bf16_to_f32(uint16_t h) { return bits_to_f32(uint32_t(h) << 16); }

/** float -> bfloat16 bits, round to nearest even; NaN stays NaN (quiet bit set, sign kept). */
inline uint16_t f32_to_bf16(float x) {
  uint32_t b = f32_to_bits(x);
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0) return uint16_t(((b >> 16) | 0x40) & 0xffff);
  uint32_t rounding = 0x7fffu + ((b >> 16) & 1u);
  return uint16_t((b + rounding) >> 16);
}

/** float16 bits -> float (exact). */
inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t frac = h & 0x3ff;
  if (exp == 0) {
    if (frac == 0) return bits_to_f32(sign);
    // subnormal: frac * 2^-24
    float v = float(frac) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (frac ? 0x400000u | (frac << 13) : 0u));
  return bits_to_f32(sign | ((exp + 112) << 23) | (frac << 13));
}

/** float -> float16 bits, round to nearest even, overflow to Inf, NaN -> canonical quiet NaN. */
inline uint16_t f32_to_f16(float x) {
  uint32_t bits = f32_to_bits(x);
  uint32_t sign = (bits >> 16) & 0x8000u;
  int exp = int((bits >> 23) & 0xff);
  uint32_t mant = bits & 0x7fffffu;
  if (exp == 0xff) return uint16_t(sign | 0x7c00u | (mant ? 0x200u : 0u));
  int e = exp - 127 + 15;
  if (e >= 31) return uint16_t(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return uint16_t(sign);
    mant |= 0x800000u;
    int shift = 14 - e;
    uint32_t half = 1u << (shift - 1);
    uint32_t rest = mant & ((1u << shift) - 1);
    uint32_t v = mant >> shift;
    if (rest > half || (rest == half && (v & 1u))) v += 1;
    return uint16_t(sign | v);
  }
  uint32_t v = (uint32_t(e) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (v & 1u))) v += 1;
  return uint16_t(sign | v);
}

/** JS ToInt32(Math.trunc(x)): NaN/Inf -> 0, otherwise truncate and wrap modulo 2^32. */
inline int32_t js_to_int32(double x) {
  if (x > -2147483649.0 && x < 2147483648.0) return int32_t(x);  // also false for NaN
  if (!std::isfinite(x)) return 0;
  double t = std::trunc(x);
  double m = std::fmod(t, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  if (m >= 2147483648.0) m -= 4294967296.0;
  return int32_t(m);
}

/** JS `Math.trunc(x) & 0xff` (what Uint8Array stores). */
inline uint8_t js_to_uint8(double x) { return uint8_t(js_to_int32(x) & 0xff); }

// ---- scalar load/store in any storage type -------------------------------------------------
// Loads return double for f64/int sources and float-exact values otherwise; stores convert
// the way src/tensor/dtype.ts writeElement does (f16/bf16 from the value rounded to float32).

template <typename S> struct Storage;
template <> struct Storage<float> {
  using raw = float;
  static double load(const raw* p) { return *p; }
  static void store(raw* p, double v) { *p = float(v); }
};
template <> struct Storage<double> {
  using raw = double;
  static double load(const raw* p) { return *p; }
  static void store(raw* p, double v) { *p = v; }
};
template <> struct Storage<f16_t> {
  using raw = uint16_t;
  static double load(const raw* p) { return f16_to_f32(*p); }
  static void store(raw* p, double v) { *p = f32_to_f16(float(v)); }
};
template <> struct Storage<bf16_t> {
  using raw = uint16_t;
  static double load(const raw* p) { return bf16_to_f32(*p); }
  static void store(raw* p, double v) { *p = f32_to_bf16(float(v)); }
};
template <> struct Storage<int32_t> {
  using raw = int32_t;
  static double load(const raw* p) { return *p; }
  static void store(raw* p, double v) { *p = js_to_int32(v); }
};
template <> struct Storage<uint8_t> {
  using raw = uint8_t;
  static double load(const raw* p) { return *p; }
  static void store(raw* p, double v) { *p = js_to_uint8(v); }
};

/** Converts one weight element (f32/f64/f16/bf16 storage) to the compute type T. */
template <typename T, typename W> inline T wload(const typename Storage<W>::raw* p) {
  if constexpr (std::is_same_v<W, f16_t>) return T(f16_to_f32(*p));
  else if constexpr (std::is_same_v<W, bf16_t>) return T(bf16_to_f32(*p));
  else return T(*p);
}

// ---- SIMD vector types -------------------------------------------------------------------
#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
constexpr int kVecRegs = 32;
#elif defined(__AVX__)
constexpr int kVecBytes = 32;
constexpr int kVecRegs = 16;
#elif defined(__aarch64__)
constexpr int kVecBytes = 16;
constexpr int kVecRegs = 32;
#else
constexpr int kVecBytes = 16;
constexpr int kVecRegs = 16;
#endif

template <typename T> struct Vec {
  static constexpr int L = kVecBytes / int(sizeof(T));
  typedef T type __attribute__((vector_size(kVecBytes), aligned(sizeof(T))));
};
template <typename T> using vec_t = typename Vec<T>::type;

template <typename T> inline vec_t<T> vload(const T* p) {
  vec_t<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename T> inline void vstore(T* p, vec_t<T> v) { std::memcpy(p, &v, sizeof(v)); }
template <typename T> inline vec_t<T> vbroadcast(T x) {
  vec_t<T> v;
  for (int i = 0; i < Vec<T>::L; i++) v[i] = x;
  return v;
}
template <typename T> inline T vsum(vec_t<T> v) {
  T s = 0;
  for (int i = 0; i < Vec<T>::L; i++) s += v[i];
  return s;
}

/** Compile-time SIMD level string (what the kernels were built for). */
inline const char* simd_level() {
#if defined(__AVX512F__)
#if defined(__AVX512BF16__)
  return "avx512f+avx512bf16";
#else
  return "avx512f";
#endif
#elif defined(__AVX2__) && defined(__FMA__)
  return "avx2+fma";
#elif defined(__AVX__)
  return "avx";
#elif defined(__SSE2__)
  return "sse2";
#elif defined(__ARM_NEON)
  return "neon";
#else
  return "scalar";
#endif
}

}  // namespace lm
