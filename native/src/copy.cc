// Strided copy with dtype conversion (and accumulation).
//
// Conversions are bit-exact with src/tensor/dtype.ts: float -> float16/bfloat16 goes through
// float32 (round to nearest even, NaN kept), float -> int32 is JS ToInt32(trunc(x)) (wraps
// modulo 2^32, NaN/Inf -> 0), float -> uint8 is trunc(x) & 0xff. With `accumulate` the sum is
// formed in double and rounded once to the destination type (what the reference computes).
// Destination dims with stride 0 are reductions; the work is then split only along a dim
// where the destination stride is non-zero, so no two threads ever write the same element.
#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "nd.h"
#include "threadpool.h"

namespace lm {
namespace {

constexpr i64 kGrain = 32768;

template <typename S, typename D>
void copy_typed(const void* srcv, i64 soff, void* dstv, i64 doff, const NdIter<2>& it, bool accumulate) {
  using SR = typename Storage<S>::raw;
  using DR = typename Storage<D>::raw;
  const SR* src = static_cast<const SR*>(srcv);
  DR* dst = static_cast<DR*>(dstv);
  const i64 ss = it.inner_stride(0), ds = it.inner_stride(1);

  auto run = [&](const i64* off, i64 len) {
    const SR* s = src + off[0];
    DR* d = dst + off[1];
    if (accumulate) {
      if constexpr (std::is_same_v<D, float> || std::is_same_v<D, double>) {
        if (ds == 0) {
          // a reduced run: sequential adds, rounded to D after each (as the reference stores)
          DR cur = *d;
          for (i64 i = 0; i < len; i++) cur = DR(double(cur) + Storage<S>::load(s + i * ss));
          *d = cur;
        } else if (ss == 1 && ds == 1) {
          for (i64 i = 0; i < len; i++) d[i] = DR(double(d[i]) + Storage<S>::load(s + i));
        } else {
          for (i64 i = 0; i < len; i++) d[i * ds] = DR(double(d[i * ds]) + Storage<S>::load(s + i * ss));
        }
      }
      return;
    }
    if constexpr (std::is_same_v<S, D>) {
      if (ss == 1 && ds == 1) {
        std::memcpy(d, s, size_t(len) * sizeof(SR));
        return;
      }
      for (i64 i = 0; i < len; i++) d[i * ds] = s[i * ss];
    } else {
      if (ss == 1 && ds == 1) {
        for (i64 i = 0; i < len; i++) Storage<D>::store(d + i, Storage<S>::load(s + i));
      } else {
        for (i64 i = 0; i < len; i++) Storage<D>::store(d + i * ds, Storage<S>::load(s + i * ss));
      }
    }
  };

  // Reductions (destination stride 0 over a dim of size > 1) forbid splitting across that dim.
  bool reduces = false;
  for (int d = 0; d < it.rank; d++)
    if (it.strides[1][d] == 0 && it.shape[d] > 1) reduces = true;
  const i64 base[2] = {soff, doff};
  if (!reduces) {
    parallel_for(it.total, kGrain, [&](i64 e0, i64 e1) { it.visit(base, e0, e1, run); });
    return;
  }
  // Split along the largest dim whose destination stride is non-zero (if any).
  int split = -1;
  for (int d = 0; d < it.rank; d++)
    if (it.strides[1][d] != 0 && (split < 0 || it.shape[d] > it.shape[split])) split = d;
  if (split < 0 || it.total < 2 * kGrain) {
    it.visit(base, 0, it.total, run);
    return;
  }
  const i64 per = it.total / it.shape[split];
  parallel_for(it.shape[split], std::max<i64>(1, kGrain / std::max<i64>(per, 1)), [&](i64 lo, i64 hi) {
    NdIter<2> sub = it;
    sub.shape[split] = hi - lo;
    sub.total = per * (hi - lo);
    const i64 b2[2] = {soff + lo * it.strides[0][split], doff + lo * it.strides[1][split]};
    sub.visit(b2, 0, sub.total, run);
  });
}

template <typename S>
void copy_from(const void* src, i64 soff, void* dst, int ddt, i64 doff, const NdIter<2>& it, bool acc) {
  switch (ddt) {
    case F32: return copy_typed<S, float>(src, soff, dst, doff, it, acc);
    case F64: return copy_typed<S, double>(src, soff, dst, doff, it, acc);
    case F16: return copy_typed<S, f16_t>(src, soff, dst, doff, it, acc);
    case BF16: return copy_typed<S, bf16_t>(src, soff, dst, doff, it, acc);
    case I32: return copy_typed<S, int32_t>(src, soff, dst, doff, it, acc);
    case U8: return copy_typed<S, uint8_t>(src, soff, dst, doff, it, acc);
  }
  fail("bad destination dtype");
}

}  // namespace

void copy(const void* src, int sdt, i64 soff, const i64* sstr, void* dst, int ddt, i64 doff, const i64* dstr, int rank,
          const i64* shape, bool accumulate) {
  if (accumulate && ddt != F32 && ddt != F64)
    fail(std::string("accumulate needs a float32/float64 destination, got ") + dtype_name(ddt));
  const i64* strides[2] = {sstr, dstr};
  NdIter<2> it(rank, shape, strides);
  if (it.total == 0) return;
  switch (sdt) {
    case F32: return copy_from<float>(src, soff, dst, ddt, doff, it, accumulate);
    case F64: return copy_from<double>(src, soff, dst, ddt, doff, it, accumulate);
    case F16: return copy_from<f16_t>(src, soff, dst, ddt, doff, it, accumulate);
    case BF16: return copy_from<bf16_t>(src, soff, dst, ddt, doff, it, accumulate);
    case I32: return copy_from<int32_t>(src, soff, dst, ddt, doff, it, accumulate);
    case U8: return copy_from<uint8_t>(src, soff, dst, ddt, doff, it, accumulate);
  }
  fail("bad source dtype");
}

}  // namespace lm
