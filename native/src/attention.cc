// Fused causal scaled-dot-product attention with GQA, key padding mask and a KV cache offset
// (query i sits at key position Tk - Tq + i), forward and backward.
//
// Work is split over (batch, head) (forward) or (batch, kv head) (backward, so the key/value
// gradients of a kv head have one writer). Inside a task, query rows are processed in blocks of
// kBr: the block's scores S = scale Q K^T and the products P V, P^T dO, dO V^T, dS K, dS^T Q
// are blocked matrix products (built-in kernels, serial per task). When there are fewer tasks
// than threads, tasks run one after another and the products themselves use all threads.
// A query row with no visible key outputs zeros and lse = -Infinity; its gradient is zero.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"
#include "threadpool.h"

namespace lm {
namespace {

constexpr i64 kBr = 64;

template <typename T> T* scratch(int slot, size_t n) {
  thread_local std::vector<T> bufs[3];
  std::vector<T>& b = bufs[slot];
  if (b.size() < n) {
    std::vector<T>().swap(b);
    b.resize(n);
  }
  return b.data();
}

/** Number of keys any row of the block [i0, i0 + br) may see (causal limit), in [0, Tk]. */
inline i64 block_len(const AttnArgs& a, i64 i0, i64 br) {
  if (!a.causal) return a.Tk;
  return std::clamp<i64>(a.Tk - a.Tq + i0 + br, 0, a.Tk);
}

/** Last visible key index of query row i (may be negative = none). */
inline i64 row_limit(const AttnArgs& a, i64 i) { return a.causal ? a.Tk - a.Tq + i : a.Tk - 1; }

/**
 * Attention of one query row over keys [0, lim] (lim < 0: none visible): out = softmax(scale
 * q·k_j, masked) V and lse, with the semantics of the blocked path (NaN scores propagate; a
 * row with no visible key gives zeros and lse = -inf).
 */
template <typename T>
void attend_row(const T* q, const T* K, const T* V, i64 D, i64 lim, const uint8_t* mask, T scale, T* o, T* lse) {
  using Vt = vec_t<T>;
  constexpr int VL = Vec<T>::L;
  const T ninf = -std::numeric_limits<T>::infinity();
  T* s = scratch<T>(2, size_t(std::max<i64>(lim + 1, 1)));
  T m = ninf;
  const i64 dv = D / VL * VL;
  for (i64 j = 0; j <= lim; j++) {
    if (mask && !mask[j]) {
      s[j] = ninf;
      continue;
    }
    const T* k = K + j * D;
    Vt acc{};
    for (i64 d = 0; d < dv; d += VL) acc += vload<T>(q + d) * vload<T>(k + d);
    T dot = vsum<T>(acc);
    for (i64 d = dv; d < D; d++) dot += q[d] * k[d];
    const T v = scale * dot;
    s[j] = v;
    if (v > m || v != v) m = v;
  }
  for (i64 d = 0; d < D; d++) o[d] = T(0);
  if (m == ninf) {
    *lse = ninf;
    return;
  }
  double sum = 0;
  for (i64 j = 0; j <= lim; j++) {
    const T e = std::exp(s[j] - m);  // masked: exp(-inf) = 0
    if (e == T(0)) continue;
    sum += double(e);
    const T* v = V + j * D;
    for (i64 d = 0; d < D; d++) o[d] += e * v[d];
  }
  const T inv = T(1) / T(sum);
  for (i64 d = 0; d < D; d++) o[d] *= inv;
  *lse = T(double(m) + std::log(double(T(sum))));
}

template <class F> void run_tasks(i64 ntasks, F&& f) {
  if (ntasks >= num_threads()) {
    parallel_for(ntasks, 1, [&](i64 t0, i64 t1) {
      for (i64 t = t0; t < t1; t++) f(t);
    }, ntasks);
  } else {
    for (i64 t = 0; t < ntasks; t++) f(t);
  }
}

}  // namespace

template <typename T> void attention(const AttnArgs& a) {
  const T* q = static_cast<const T*>(a.q);
  const T* k = static_cast<const T*>(a.k);
  const T* v = static_cast<const T*>(a.v);
  T* out = static_cast<T*>(a.out);
  T* lse = static_cast<T*>(a.lse);
  const i64 D = a.D, Tq = a.Tq, Tk = a.Tk, group = a.H / a.KVH;
  const T scale = T(a.scale);
  const T ninf = -std::numeric_limits<T>::infinity();
  run_tasks(a.B * a.H, [&](i64 bh) {
    const i64 b = bh / a.H, h = bh % a.H, kvh = h / group;
    const T* Q = q + bh * Tq * D;
    const T* K = k + (b * a.KVH + kvh) * a.kvCap * D;
    const T* V = v + (b * a.KVH + kvh) * a.kvCap * D;
    T* O = out + bh * Tq * D;
    T* L = lse + bh * Tq;
    const uint8_t* mask = a.keyMask ? a.keyMask + b * Tk : nullptr;
    T* S = scratch<T>(0, size_t(std::min(kBr, std::max<i64>(Tq, 1)) * std::max<i64>(Tk, 1)));
    for (i64 i0 = 0; i0 < Tq; i0 += kBr) {
      const i64 br = std::min(kBr, Tq - i0);
      const i64 len = block_len(a, i0, br);
      if (len == 0) {
        for (i64 r = 0; r < br; r++) {
          for (i64 d = 0; d < D; d++) O[(i0 + r) * D + d] = T(0);
          L[i0 + r] = ninf;
        }
        continue;
      }
      if (br == 1) {
        // one query row (a decode step): direct loops; two GEMV dispatches per (b, h) cost
        // more than the arithmetic
        attend_row<T>(Q + i0 * D, K, V, D, std::min(row_limit(a, i0), len - 1), mask, scale, O + i0 * D, L + i0);
        continue;
      }
      gemm_one<T, T>(false, true, br, len, D, scale, Q + i0 * D, D, K, D, T(0), S, len);
      T rowsum[kBr], rowmax[kBr];
      for (i64 r = 0; r < br; r++) {
        T* row = S + r * len;
        const i64 lim = std::min(row_limit(a, i0 + r), len - 1);
        T m = ninf;
        for (i64 j = 0; j <= lim; j++) {
          if (mask && !mask[j]) row[j] = ninf;
          else if (row[j] > m || row[j] != row[j]) m = row[j];
        }
        for (i64 j = std::max<i64>(lim + 1, 0); j < len; j++) row[j] = T(0);
        rowmax[r] = m;
        if (m == ninf) {
          for (i64 j = 0; j <= lim; j++) row[j] = T(0);
          rowsum[r] = T(0);
          continue;
        }
        double s = 0;
        for (i64 j = 0; j <= lim; j++) {
          const T e = std::exp(row[j] - m);  // masked: exp(-inf) = 0
          row[j] = e;
          s += double(e);
        }
        rowsum[r] = T(s);
      }
      gemm_one<T, T>(false, false, br, D, len, T(1), S, len, V, D, T(0), O + i0 * D, D);
      for (i64 r = 0; r < br; r++) {
        T* o = O + (i0 + r) * D;
        if (rowmax[r] == ninf) {
          for (i64 d = 0; d < D; d++) o[d] = T(0);
          L[i0 + r] = ninf;
        } else {
          const T inv = T(1) / rowsum[r];
          for (i64 d = 0; d < D; d++) o[d] *= inv;
          L[i0 + r] = T(double(rowmax[r]) + std::log(double(rowsum[r])));
        }
      }
    }
  });
}

template <typename T> void attention_grad(const AttnArgs& a) {
  const T* q = static_cast<const T*>(a.q);
  const T* k = static_cast<const T*>(a.k);
  const T* v = static_cast<const T*>(a.v);
  const T* out = static_cast<const T*>(a.out);
  const T* lse = static_cast<const T*>(a.lse);
  const T* gout = static_cast<const T*>(a.gout);
  T* gq = static_cast<T*>(a.gq);
  T* gk = static_cast<T*>(a.gk);
  T* gv = static_cast<T*>(a.gv);
  const i64 D = a.D, Tq = a.Tq, Tk = a.Tk, group = a.H / a.KVH;
  const T scale = T(a.scale);
  const T ninf = -std::numeric_limits<T>::infinity();
  run_tasks(a.B * a.KVH, [&](i64 bk) {
    const i64 b = bk / a.KVH;
    const T* K = k + bk * Tk * D;
    const T* V = v + bk * Tk * D;
    T* dK = gk + bk * Tk * D;
    T* dV = gv + bk * Tk * D;
    for (i64 i = 0; i < Tk * D; i++) dK[i] = T(0), dV[i] = T(0);
    const uint8_t* mask = a.keyMask ? a.keyMask + b * Tk : nullptr;
    const size_t blk = size_t(std::min(kBr, std::max<i64>(Tq, 1)) * std::max<i64>(Tk, 1));
    T* P = scratch<T>(0, blk);
    T* dP = scratch<T>(1, blk);
    for (i64 hh = 0; hh < group; hh++) {
      const i64 h = (bk % a.KVH) * group + hh;
      const i64 bh = b * a.H + h;
      const T* Q = q + bh * Tq * D;
      const T* O = out + bh * Tq * D;
      const T* dO = gout + bh * Tq * D;
      const T* L = lse + bh * Tq;
      T* dQ = gq + bh * Tq * D;
      for (i64 i0 = 0; i0 < Tq; i0 += kBr) {
        const i64 br = std::min(kBr, Tq - i0);
        const i64 len = block_len(a, i0, br);
        if (len == 0) {
          for (i64 i = i0 * D; i < (i0 + br) * D; i++) dQ[i] = T(0);
          continue;
        }
        // P = exp(scale Q K^T - lse) on visible keys, 0 elsewhere
        gemm_one<T, T>(false, true, br, len, D, scale, Q + i0 * D, D, K, D, T(0), P, len);
        T delta[kBr];
        for (i64 r = 0; r < br; r++) {
          T* row = P + r * len;
          const T l = L[i0 + r];
          const i64 lim = std::min(row_limit(a, i0 + r), len - 1);
          if (l == ninf || lim < 0) {
            for (i64 j = 0; j < len; j++) row[j] = T(0);
          } else {
            for (i64 j = 0; j <= lim; j++) row[j] = (mask && !mask[j]) ? T(0) : std::exp(row[j] - l);
            for (i64 j = lim + 1; j < len; j++) row[j] = T(0);
          }
          // delta_i = sum_d dO[i, d] * O[i, d]
          double s = 0;
          const T* dor = dO + (i0 + r) * D;
          const T* orow = O + (i0 + r) * D;
          for (i64 d = 0; d < D; d++) s += double(dor[d]) * double(orow[d]);
          delta[r] = T(s);
        }
        // dV[0:len] += P^T dO
        gemm_one<T, T>(true, false, len, D, br, T(1), P, len, dO + i0 * D, D, T(1), dV, D);
        // dP = dO V^T
        gemm_one<T, T>(false, true, br, len, D, T(1), dO + i0 * D, D, V, D, T(0), dP, len);
        // dS = P * (dP - delta)
        for (i64 r = 0; r < br; r++) {
          T* ds = dP + r * len;
          const T* p = P + r * len;
          const T dl = delta[r];
          for (i64 j = 0; j < len; j++) ds[j] = p[j] * (ds[j] - dl);
        }
        // dQ = scale dS K ; dK[0:len] += scale dS^T Q
        gemm_one<T, T>(false, false, br, D, len, scale, dP, len, K, D, T(0), dQ + i0 * D, D);
        gemm_one<T, T>(true, false, len, D, br, scale, dP, len, Q + i0 * D, D, T(1), dK, D);
      }
    }
  });
}

template void attention<float>(const AttnArgs&);
template void attention<double>(const AttnArgs&);
template void attention_grad<float>(const AttnArgs&);
template void attention_grad<double>(const AttnArgs&);

}  // namespace lm
