// Vectorized conversion of weight storage (f32/f64/f16/bf16) to the compute type.
#pragma once

#include "common.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace lm {

template <typename W> using raw_t = typename Storage<W>::raw;

// ---- vector loads of weights, converting to T ---------------------------------------------

typedef uint16_t u16v __attribute__((vector_size(Vec<float>::L * 2)));
typedef uint32_t u32v __attribute__((vector_size(kVecBytes)));

template <typename T, typename W> inline vec_t<T> wvload(const raw_t<W>* p) {
  constexpr int L = Vec<T>::L;
  if constexpr (std::is_same_v<W, T>) {
    return vload<T>(p);
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<W, bf16_t>) {
#if defined(__AVX512F__)
    __m512i w = _mm512_maskz_slli_epi32(
        __mmask16(0xffff), _mm512_maskz_cvtepu16_epi32(__mmask16(0xffff), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16);
    vec_t<float> f;
    std::memcpy(&f, &w, sizeof(f));
    return f;
#elif defined(__AVX2__)
    __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16);
    vec_t<float> f;
    std::memcpy(&f, &w, sizeof(f));
    return f;
#else
    u16v h;
    std::memcpy(&h, p, sizeof(h));
    u32v w = __builtin_convertvector(h, u32v) << 16;
    vec_t<float> f;
    std::memcpy(&f, &w, sizeof(f));
    return f;
#endif
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<W, f16_t>) {
#if defined(__AVX512F__)
    __m512 v = _mm512_maskz_cvtph_ps(__mmask16(0xffff), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    vec_t<float> f;
    std::memcpy(&f, &v, sizeof(f));
    return f;
#elif defined(__F16C__) && defined(__AVX__)
    __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    vec_t<float> f;
    std::memcpy(&f, &v, sizeof(f));
    return f;
#else
    vec_t<float> f;
    for (int i = 0; i < L; i++) f[i] = f16_to_f32(p[i]);
    return f;
#endif
  } else {
    vec_t<T> f;
    for (int i = 0; i < L; i++) f[i] = wload<T, W>(p + i);
    return f;
  }
}

/** dst[0..n) = convert(src[0..n)). */
template <typename T, typename W> void convert_row(const raw_t<W>* src, T* dst, i64 n) {
  constexpr int L = Vec<T>::L;
  i64 i = 0;
  if constexpr (!std::is_same_v<W, T>) {
    for (; i + L <= n; i += L) vstore<T>(dst + i, wvload<T, W>(src + i));
  }
  for (; i < n; i++) dst[i] = wload<T, W>(src + i);
}

}  // namespace lm
