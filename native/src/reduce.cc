// Reductions over the middle axis of x viewed as [outer, size, inner]: sum (accumulated in
// double), max/min (NaN propagates, as in PyTorch) and argmax (first maximum; NaN counts as
// maximal, so the first NaN wins).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"
#include "threadpool.h"

namespace lm {
namespace {

template <typename T> inline T nan_max(T m, T v) { return (v > m || v != v) ? v : m; }
template <typename T> inline T nan_min(T m, T v) { return (v < m || v != v) ? v : m; }

/** Sum of a contiguous run in double (8 independent accumulators so it vectorizes). */
template <typename T> double sum_run(const T* x, i64 n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  i64 i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += double(x[i + j]);
  double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; i++) s += double(x[i]);
  return s;
}

template <typename T> T max_run(const T* x, i64 n) {
  T m = x[0];
  for (i64 i = 1; i < n; i++) m = nan_max(m, x[i]);
  return m;
}
template <typename T> T min_run(const T* x, i64 n) {
  T m = x[0];
  for (i64 i = 1; i < n; i++) m = nan_min(m, x[i]);
  return m;
}

}  // namespace

template <typename T> void reduce(int op, const T* x, T* out, i64 outer, i64 size, i64 inner) {
  if (op < 0 || op >= R_COUNT) fail("unknown reduce op " + std::to_string(op));
  if (outer <= 0 || inner <= 0) return;
  if (size <= 0) fail("size must be >= 1");
  if (inner == 1) {
    if (outer < num_threads() && size >= 262144) {
      // few long rows: split each row, combine the chunk partials in order
      for (i64 o = 0; o < outer; o++) {
        const T* row = x + o * size;
        const i64 nc = parallel_for_chunks(size, 65536);
        std::vector<double> part(size_t(nc), 0.0);
        std::vector<T> mpart(size_t(nc), T(0));
        parallel_chunks(nc, [&](i64 c) {
          const i64 b = size * c / nc, e = size * (c + 1) / nc;
          if (op == R_SUM) part[size_t(c)] = sum_run(row + b, e - b);
          else if (op == R_MAX) mpart[size_t(c)] = max_run(row + b, e - b);
          else mpart[size_t(c)] = min_run(row + b, e - b);
        });
        if (op == R_SUM) {
          double s = 0;
          for (double p : part) s += p;
          out[o] = T(s);
        } else {
          T m = mpart[0];
          for (T p : mpart) m = op == R_MAX ? nan_max(m, p) : nan_min(m, p);
          out[o] = m;
        }
      }
      return;
    }
    parallel_for(outer, std::max<i64>(1, 32768 / size), [&](i64 o0, i64 o1) {
      for (i64 o = o0; o < o1; o++) {
        const T* row = x + o * size;
        if (op == R_SUM) out[o] = T(sum_run(row, size));
        else if (op == R_MAX) out[o] = max_run(row, size);
        else out[o] = min_run(row, size);
      }
    });
    return;
  }
  // inner > 1: vectorize across inner, blocks of kIB columns per task
  constexpr i64 kIB = 512;
  const i64 nib = (inner + kIB - 1) / kIB;
  parallel_for(outer * nib, std::max<i64>(1, 32768 / (size * std::min(inner, kIB))), [&](i64 t0, i64 t1) {
    double acc[kIB];
    T m[kIB];
    for (i64 t = t0; t < t1; t++) {
      const i64 o = t / nib, i0 = (t % nib) * kIB, w = std::min(kIB, inner - i0);
      const T* base = x + o * size * inner + i0;
      T* dst = out + o * inner + i0;
      if (op == R_SUM) {
        for (i64 j = 0; j < w; j++) acc[j] = 0;
        for (i64 s = 0; s < size; s++) {
          const T* r = base + s * inner;
          for (i64 j = 0; j < w; j++) acc[j] += double(r[j]);
        }
        for (i64 j = 0; j < w; j++) dst[j] = T(acc[j]);
      } else {
        for (i64 j = 0; j < w; j++) m[j] = base[j];
        for (i64 s = 1; s < size; s++) {
          const T* r = base + s * inner;
          if (op == R_MAX)
            for (i64 j = 0; j < w; j++) m[j] = nan_max(m[j], r[j]);
          else
            for (i64 j = 0; j < w; j++) m[j] = nan_min(m[j], r[j]);
        }
        for (i64 j = 0; j < w; j++) dst[j] = m[j];
      }
    }
  });
}

template <typename T> void argmax(const T* x, int32_t* out, i64 outer, i64 size, i64 inner) {
  if (outer <= 0 || inner <= 0) return;
  if (size <= 0) fail("size must be >= 1");
  parallel_for(outer * inner, std::max<i64>(1, 32768 / size), [&](i64 t0, i64 t1) {
    for (i64 t = t0; t < t1; t++) {
      const i64 o = t / inner, i = t % inner;
      const T* p = x + o * size * inner + i;
      T best = p[0];
      i64 idx = 0;
      if (best == best) {
        for (i64 s = 1; s < size; s++) {
          const T v = p[s * inner];
          if (v != v) {
            idx = s;
            break;
          }
          if (v > best) {
            best = v;
            idx = s;
          }
        }
      }
      out[t] = int32_t(idx);
    }
  });
}

template void reduce<float>(int, const float*, float*, i64, i64, i64);
template void reduce<double>(int, const double*, double*, i64, i64, i64);
template void argmax<float>(const float*, int32_t*, i64, i64, i64);
template void argmax<double>(const double*, int32_t*, i64, i64, i64);

}  // namespace lm
