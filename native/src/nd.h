// Strided N-d iteration shared by binary, where and copy: coalesces dimensions, then visits
// runs along the innermost dimension, so inner loops see (pointer, stride, length) and can take
// contiguous / broadcast fast paths.
#pragma once

#include "common.h"

namespace lm {

constexpr int kMaxRank = 8;

template <int NOP> struct NdIter {
  int rank = 0;
  i64 shape[kMaxRank];
  i64 strides[NOP][kMaxRank];
  i64 total = 0;

  /** Builds from a shape and NOP stride lists; drops size-1 dims, merges mergeable neighbours. */
  NdIter(int r, const i64* shp, const i64* const* strd) {
    if (r < 0 || r > kMaxRank) fail("rank " + std::to_string(r) + " is not supported (at most " + std::to_string(kMaxRank) + ")");
    total = 1;
    for (int d = 0; d < r; d++) total *= shp[d];
    int n = 0;
    for (int d = 0; d < r; d++) {
      if (shp[d] == 1) continue;
      shape[n] = shp[d];
      for (int o = 0; o < NOP; o++) strides[o][n] = strd[o][d];
      n++;
    }
    // merge dim d into d+1 (inner) when every operand is contiguous across them
    int m = 0;
    for (int d = 0; d < n; d++) {
      if (m > 0) {
        bool ok = true;
        for (int o = 0; o < NOP; o++)
          if (strides[o][m - 1] != strides[o][d] * shape[d]) ok = false;
        if (ok) {
          shape[m - 1] *= shape[d];
          for (int o = 0; o < NOP; o++) strides[o][m - 1] = strides[o][d];
          continue;
        }
      }
      shape[m] = shape[d];
      for (int o = 0; o < NOP; o++) strides[o][m] = strides[o][d];
      m++;
    }
    if (m == 0) {  // scalar
      shape[0] = 1;
      for (int o = 0; o < NOP; o++) strides[o][0] = 0;
      m = 1;
    }
    rank = m;
  }

  i64 inner() const { return shape[rank - 1]; }
  i64 inner_stride(int o) const { return strides[o][rank - 1]; }

  /**
   * Calls f(off[NOP], len) for each run of the innermost dimension inside the linear element
   * range [e0, e1) (row-major order over the coalesced shape); off are element offsets relative
   * to base.
   */
  template <class F> void visit(const i64* base, i64 e0, i64 e1, F&& f) const {
    if (e0 >= e1) return;
    const i64 n = inner();
    i64 idx[kMaxRank];
    i64 rem = e0 / n;
    i64 pos = e0 % n;
    for (int d = rank - 2; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    i64 off[NOP];
    for (int o = 0; o < NOP; o++) {
      off[o] = base[o] + pos * strides[o][rank - 1];
      for (int d = 0; d < rank - 1; d++) off[o] += idx[d] * strides[o][d];
    }
    i64 e = e0;
    while (e < e1) {
      i64 len = std::min(n - pos, e1 - e);
      f(off, len);
      e += len;
      if (e >= e1) break;
      // advance to the start of the next run
      for (int o = 0; o < NOP; o++) off[o] -= pos * strides[o][rank - 1];
      pos = 0;
      for (int d = rank - 2; d >= 0; d--) {
        idx[d]++;
        for (int o = 0; o < NOP; o++) off[o] += strides[o][d];
        if (idx[d] < shape[d]) break;
        for (int o = 0; o < NOP; o++) off[o] -= shape[d] * strides[o][d];
        idx[d] = 0;
      }
    }
  }
};

}  // namespace lm
