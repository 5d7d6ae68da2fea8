// Rotary position embedding on x [B, H, T, D]; the rotation of each pair is computed in double
// (one rounding per output, like the float64 reference). Works in place (out == x).
#include <algorithm>

#include "kernels.h"
#include "threadpool.h"

namespace lm {

template <typename T> void rope(const RopeArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* out = static_cast<T*>(a.out);
  const T* cs = static_cast<const T*>(a.cos);
  const T* sn = static_cast<const T*>(a.sin);
  const i64 half = a.rotaryDim / 2;
  for (i64 i = 0; i < a.B * a.T; i++) {
    if (a.positions[i] < 0 || a.positions[i] >= a.P)
      fail("position " + std::to_string(a.positions[i]) + " at index " + std::to_string(i) +
           " is out of range [0, " + std::to_string(a.P) + ") (rows of cos/sin)");
  }
  const double sgn = a.inverse ? -1.0 : 1.0;
  const i64 nrows = a.B * a.H * a.T;
  parallel_for(nrows, std::max<i64>(1, 8192 / std::max<i64>(a.D, 1)), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const i64 t = r % a.T, b = r / (a.H * a.T);
      const i64 pos = a.positions[b * a.T + t];
      const T* xr = x + r * a.D;
      T* o = out + r * a.D;
      const T* c = cs + pos * half;
      const T* s = sn + pos * half;
      if (!a.interleaved) {
        for (i64 i = 0; i < half; i++) {
          const double x1 = xr[i], x2 = xr[i + half], ci = c[i], si = sgn * double(s[i]);
          o[i] = T(x1 * ci - x2 * si);
          o[i + half] = T(x2 * ci + x1 * si);
        }
      } else {
        for (i64 i = 0; i < half; i++) {
          const double x1 = xr[2 * i], x2 = xr[2 * i + 1], ci = c[i], si = sgn * double(s[i]);
          o[2 * i] = T(x1 * ci - x2 * si);
          o[2 * i + 1] = T(x2 * ci + x1 * si);
        }
      }
      if (o != xr)
        for (i64 j = 2 * half; j < a.D; j++) o[j] = xr[j];
    }
  });
}

template void rope<float>(const RopeArgs&);
template void rope<double>(const RopeArgs&);

}  // namespace lm
