// Row-wise softmax / log_softmax and their backward. Sums in double; exp in T (expf for
// float32). Rows of all -Infinity (or containing NaN/+Infinity) give NaN, like PyTorch.
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "threadpool.h"

namespace lm {

template <typename T> void softmax(const T* x, T* out, i64 rows, i64 cols, bool log) {
  if (rows <= 0 || cols <= 0) return;
  parallel_for(rows, std::max<i64>(1, 16384 / cols), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const T* xr = x + r * cols;
      T* o = out + r * cols;
      // max with NaN propagation
      T m = xr[0];
      for (i64 j = 1; j < cols; j++) m = (xr[j] > m || xr[j] != xr[j]) ? xr[j] : m;
      double s = 0;
      if (log) {
        for (i64 j = 0; j < cols; j++) s += double(std::exp(xr[j] - m));
        const double ls = double(m) + std::log(s);
        for (i64 j = 0; j < cols; j++) o[j] = T(double(xr[j]) - ls);
      } else {
        for (i64 j = 0; j < cols; j++) {
          T e = std::exp(xr[j] - m);
          o[j] = e;
          s += double(e);
        }
        const double inv = 1.0 / s;
        for (i64 j = 0; j < cols; j++) o[j] = T(double(o[j]) * inv);
      }
    }
  });
}

template <typename T> void softmax_grad(const T* y, const T* gy, T* gx, i64 rows, i64 cols, bool log) {
  if (rows <= 0 || cols <= 0) return;
  parallel_for(rows, std::max<i64>(1, 16384 / cols), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const T* yr = y + r * cols;
      const T* g = gy + r * cols;
      T* o = gx + r * cols;
      double s = 0;
      if (log) {
        for (i64 j = 0; j < cols; j++) s += double(g[j]);
        for (i64 j = 0; j < cols; j++) o[j] = T(double(g[j]) - std::exp(double(yr[j])) * s);
      } else {
        for (i64 j = 0; j < cols; j++) s += double(g[j]) * double(yr[j]);
        for (i64 j = 0; j < cols; j++) o[j] = T(double(yr[j]) * (double(g[j]) - s));
      }
    }
  });
}

template void softmax<float>(const float*, float*, i64, i64, bool);
template void softmax<double>(const double*, double*, i64, i64, bool);
template void softmax_grad<float>(const float*, const float*, float*, i64, i64, bool);
template void softmax_grad<double>(const double*, const double*, double*, i64, i64, bool);

}  // namespace lm
