// LayerNorm / RMSNorm forward and backward, per row, statistics in double.
// Backward: gx is written; gw/gb are accumulated (+=). The weight/bias gradients are summed per
// chunk of rows in double and added to gw/gb in chunk order (deterministic for a thread count).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "threadpool.h"

namespace lm {
namespace {
inline i64 row_grain(i64 cols) { return std::max<i64>(1, 16384 / std::max<i64>(cols, 1)); }
}  // namespace

template <typename T>
void layer_norm(const T* x, const T* w, const T* b, T* out, T* mean, T* rstd, i64 rows, i64 cols, double eps) {
  if (rows <= 0) return;
  parallel_for(rows, row_grain(cols), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const T* xr = x + r * cols;
      T* o = out + r * cols;
      double s = 0;
      for (i64 j = 0; j < cols; j++) s += double(xr[j]);
      const double mu = cols > 0 ? s / double(cols) : 0.0;
      double v = 0;
      for (i64 j = 0; j < cols; j++) {
        const double d = double(xr[j]) - mu;
        v += d * d;
      }
      const double var = cols > 0 ? v / double(cols) : 0.0;
      const double rs = 1.0 / std::sqrt(var + eps);
      mean[r] = T(mu);
      rstd[r] = T(rs);
      if (w && b)
        for (i64 j = 0; j < cols; j++) o[j] = T((double(xr[j]) - mu) * rs * double(w[j]) + double(b[j]));
      else if (w)
        for (i64 j = 0; j < cols; j++) o[j] = T((double(xr[j]) - mu) * rs * double(w[j]));
      else if (b)
        for (i64 j = 0; j < cols; j++) o[j] = T((double(xr[j]) - mu) * rs + double(b[j]));
      else
        for (i64 j = 0; j < cols; j++) o[j] = T((double(xr[j]) - mu) * rs);
    }
  });
}

template <typename T>
void layer_norm_grad(const T* x, const T* w, const T* mean, const T* rstd, const T* gy, T* gx, T* gw, T* gb, i64 rows,
                     i64 cols) {
  if (rows <= 0 || cols <= 0) return;
  const bool need_wb = gw || gb;
  const i64 nc = parallel_for_chunks(rows, row_grain(cols));
  std::vector<double> pw(need_wb && gw ? size_t(nc * cols) : 0, 0.0), pb(need_wb && gb ? size_t(nc * cols) : 0, 0.0);
  parallel_chunks(nc, [&](i64 c) {
    const i64 r0 = rows * c / nc, r1 = rows * (c + 1) / nc;
    double* cw = gw ? pw.data() + c * cols : nullptr;
    double* cb = gb ? pb.data() + c * cols : nullptr;
    for (i64 r = r0; r < r1; r++) {
      const T* xr = x + r * cols;
      const T* g = gy + r * cols;
      T* o = gx + r * cols;
      const double mu = double(mean[r]), rs = double(rstd[r]);
      double s1 = 0, s2 = 0;
      for (i64 j = 0; j < cols; j++) {
        const double xh = (double(xr[j]) - mu) * rs;
        const double gj = double(g[j]) * (w ? double(w[j]) : 1.0);
        s1 += gj;
        s2 += gj * xh;
      }
      const double m1 = s1 / double(cols), m2 = s2 / double(cols);
      for (i64 j = 0; j < cols; j++) {
        const double xh = (double(xr[j]) - mu) * rs;
        const double gj = double(g[j]) * (w ? double(w[j]) : 1.0);
        o[j] = T(rs * (gj - m1 - xh * m2));
      }
      if (cw)
        for (i64 j = 0; j < cols; j++) cw[j] += double(g[j]) * ((double(xr[j]) - mu) * rs);
      if (cb)
        for (i64 j = 0; j < cols; j++) cb[j] += double(g[j]);
    }
  });
  if (gw || gb) {
    parallel_for(cols, 4096, [&](i64 j0, i64 j1) {
      for (i64 j = j0; j < j1; j++) {
        if (gw) {
          double s = 0;
          for (i64 c = 0; c < nc; c++) s += pw[size_t(c * cols + j)];
          gw[j] = T(double(gw[j]) + s);
        }
        if (gb) {
          double s = 0;
          for (i64 c = 0; c < nc; c++) s += pb[size_t(c * cols + j)];
          gb[j] = T(double(gb[j]) + s);
        }
      }
    });
  }
}

template <typename T> void rms_norm(const T* x, const T* w, T* out, T* rstd, i64 rows, i64 cols, double eps) {
  if (rows <= 0) return;
  parallel_for(rows, row_grain(cols), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const T* xr = x + r * cols;
      T* o = out + r * cols;
      double s = 0;
      for (i64 j = 0; j < cols; j++) s += double(xr[j]) * double(xr[j]);
      const double rs = 1.0 / std::sqrt((cols > 0 ? s / double(cols) : 0.0) + eps);
      rstd[r] = T(rs);
      if (w)
        for (i64 j = 0; j < cols; j++) o[j] = T(double(xr[j]) * rs * double(w[j]));
      else
        for (i64 j = 0; j < cols; j++) o[j] = T(double(xr[j]) * rs);
    }
  });
}

template <typename T>
void rms_norm_grad(const T* x, const T* w, const T* rstd, const T* gy, T* gx, T* gw, i64 rows, i64 cols) {
  if (rows <= 0 || cols <= 0) return;
  const i64 nc = parallel_for_chunks(rows, row_grain(cols));
  std::vector<double> pw(gw ? size_t(nc * cols) : 0, 0.0);
  parallel_chunks(nc, [&](i64 c) {
    const i64 r0 = rows * c / nc, r1 = rows * (c + 1) / nc;
    double* cw = gw ? pw.data() + c * cols : nullptr;
    for (i64 r = r0; r < r1; r++) {
      const T* xr = x + r * cols;
      const T* g = gy + r * cols;
      T* o = gx + r * cols;
      const double rs = double(rstd[r]);
      double s2 = 0;
      for (i64 j = 0; j < cols; j++) s2 += double(g[j]) * (w ? double(w[j]) : 1.0) * (double(xr[j]) * rs);
      const double m2 = s2 / double(cols);
      for (i64 j = 0; j < cols; j++) {
        const double xh = double(xr[j]) * rs;
        const double gj = double(g[j]) * (w ? double(w[j]) : 1.0);
        o[j] = T(rs * (gj - xh * m2));
      }
      if (cw)
        for (i64 j = 0; j < cols; j++) cw[j] += double(g[j]) * (double(xr[j]) * rs);
    }
  });
  if (gw) {
    parallel_for(cols, 4096, [&](i64 j0, i64 j1) {
      for (i64 j = j0; j < j1; j++) {
        double s = 0;
        for (i64 c = 0; c < nc; c++) s += pw[size_t(c * cols + j)];
        gw[j] = T(double(gw[j]) + s);
      }
    });
  }
}

template void layer_norm<float>(const float*, const float*, const float*, float*, float*, float*, i64, i64, double);
template void layer_norm<double>(const double*, const double*, const double*, double*, double*, double*, i64, i64,
                                 double);
template void layer_norm_grad<float>(const float*, const float*, const float*, const float*, const float*, float*,
                                     float*, float*, i64, i64);
template void layer_norm_grad<double>(const double*, const double*, const double*, const double*, const double*,
                                      double*, double*, double*, i64, i64);
template void rms_norm<float>(const float*, const float*, float*, float*, i64, i64, double);
template void rms_norm<double>(const double*, const double*, double*, double*, i64, i64, double);
template void rms_norm_grad<float>(const float*, const float*, const float*, const float*, float*, float*, i64, i64);
template void rms_norm_grad<double>(const double*, const double*, const double*, const double*, double*, double*, i64,
                                    i64);

}  // namespace lm
