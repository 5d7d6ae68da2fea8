// Indexing: indexSelect (table may be a float16/bfloat16 weight), indexAdd, gather, scatterAdd.
// Every index is checked before any work; a bad one throws naming its value and position.
// Scatter-style kernels keep each destination element's additions in index order (threads
// split the columns for indexAdd, the rows for scatterAdd), so results are deterministic.
#include <algorithm>

#include "convert.h"
#include "kernels.h"
#include "threadpool.h"

namespace lm {
namespace {

void check_ids(const int32_t* ids, i64 n, i64 limit, const char* what) {
  for (i64 i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= limit)
      fail(std::string(what) + " " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
           " is out of range [0, " + std::to_string(limit) + ")");
  }
}

template <typename T, typename W>
void select_rows(const void* tablev, i64 cols, const int32_t* ids, i64 nids, T* out) {
  const raw_t<W>* table = static_cast<const raw_t<W>*>(tablev);
  parallel_for(nids, std::max<i64>(1, 16384 / std::max<i64>(cols, 1)), [&](i64 i0, i64 i1) {
    for (i64 i = i0; i < i1; i++) convert_row<T, W>(table + i64(ids[i]) * cols, out + i * cols, cols);
  });
}

}  // namespace

template <typename T>
void index_select(const void* table, int tdt, i64 rows, i64 cols, const int32_t* ids, i64 nids, T* out) {
  check_ids(ids, nids, rows, "id");
  // Any float table converts to the output's compute dtype (a plain conversion, like copy).
  switch (tdt) {
    case F32: return select_rows<T, float>(table, cols, ids, nids, out);
    case F64: return select_rows<T, double>(table, cols, ids, nids, out);
    case F16: return select_rows<T, f16_t>(table, cols, ids, nids, out);
    case BF16: return select_rows<T, bf16_t>(table, cols, ids, nids, out);
  }
  fail(std::string("table dtype ") + dtype_name(tdt) + " is not a float dtype");
}

template <typename T> void index_add(const T* src, const int32_t* ids, i64 nids, T* g, i64 rows, i64 cols) {
  check_ids(ids, nids, rows, "id");
  if (cols <= 0 || nids <= 0) return;
  // Split the columns: every thread sees all ids in order.
  const i64 grain = std::max<i64>(64, 16384 / std::max<i64>(nids, 1));
  parallel_for(cols, grain, [&](i64 c0, i64 c1) {
    for (i64 i = 0; i < nids; i++) {
      T* dst = g + i64(ids[i]) * cols;
      const T* s = src + i * cols;
      for (i64 j = c0; j < c1; j++) dst[j] += s[j];
    }
  });
}

template <typename T> void gather(const T* x, const int32_t* idx, T* out, i64 rows, i64 cols, i64 k) {
  check_ids(idx, rows * k, cols, "index");
  parallel_for(rows, std::max<i64>(1, 16384 / std::max<i64>(k, 1)), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const T* xr = x + r * cols;
      const int32_t* ir = idx + r * k;
      T* o = out + r * k;
      for (i64 j = 0; j < k; j++) o[j] = xr[ir[j]];
    }
  });
}

template <typename T> void scatter_add(const T* src, const int32_t* idx, T* g, i64 rows, i64 cols, i64 k) {
  check_ids(idx, rows * k, cols, "index");
  parallel_for(rows, std::max<i64>(1, 16384 / std::max<i64>(k, 1)), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      T* gr = g + r * cols;
      const int32_t* ir = idx + r * k;
      const T* s = src + r * k;
      for (i64 j = 0; j < k; j++) gr[ir[j]] += s[j];
    }
  });
}

template void index_select<float>(const void*, int, i64, i64, const int32_t*, i64, float*);
template void index_select<double>(const void*, int, i64, i64, const int32_t*, i64, double*);
template void index_add<float>(const float*, const int32_t*, i64, float*, i64, i64);
template void index_add<double>(const double*, const int32_t*, i64, double*, i64, i64);
template void gather<float>(const float*, const int32_t*, float*, i64, i64, i64);
template void gather<double>(const double*, const int32_t*, double*, i64, i64, i64);
template void scatter_add<float>(const float*, const int32_t*, float*, i64, i64, i64);
template void scatter_add<double>(const double*, const int32_t*, double*, i64, i64, i64);

}  // namespace lm
