// GEMM: BLAS when linked, streaming few-row GEMV kernels (memory-bound products with a
// handful of rows: one token through a weight), panel conversion for float16/bfloat16 weights
// (never a full upcast copy of B), and a built-in cache-blocked, multi-threaded kernel used
// without BLAS, inside parallel regions (attention) and for leading dimensions BLAS rejects.
//
// Semantics follow BLAS (and therefore PyTorch): beta == 0 means C is write-only (its old
// contents, NaN included, are ignored); alpha == 0 or K == 0 means C = beta * C without
// reading A or B.
//
// Dispatch (gemm_one): M <= 8 -> GEMV kernels streaming B once (OpenBLAS reaches only a few
// GFLOP/s there); N <= 8 -> the same kernels on the transposed problem; B float32/float64 ->
// cblas_?gemm; B float16/bfloat16 -> column panels of op(B) (about 8 MB each) converted to
// scratch, one BLAS call per panel; otherwise (no BLAS, inside a parallel region, leading dims
// BLAS rejects) the built-in kernel, whose packing converts f16/bf16 on the fly.
// LMEDIT_GEMV_ROWS=<n> overrides the GEMV row threshold (tuning/benchmarking only).
#include "gemm.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <vector>

#include "blas.h"
#include "convert.h"
#include "threadpool.h"

namespace lm {
namespace {


/** Per-thread scratch buffers (slots so nested users do not collide). Grown, never shrunk. */
template <typename T> T* tl_buffer(int slot, size_t n) {
  thread_local std::vector<T> bufs[4];
  std::vector<T>& b = bufs[slot];
  if (b.size() < n) {
    std::vector<T>().swap(b);
    b.resize(std::max(n, size_t(64)));
  }
  return b.data();
}

inline i64 round_up(i64 x, i64 m) { return (x + m - 1) / m * m; }

template <typename T> void scale_c(i64 M, i64 N, T beta, T* C, i64 ldc) {
  for (i64 i = 0; i < M; i++) {
    T* c = C + i * ldc;
    if (beta == T(0))
      for (i64 j = 0; j < N; j++) c[j] = T(0);
    else if (beta != T(1))
      for (i64 j = 0; j < N; j++) c[j] *= beta;
  }
}

// ---- built-in blocked GEMM ------------------------------------------------------------------

template <typename T> struct Blocking {
  static constexpr int VL = Vec<T>::L;
  static constexpr int NV = 2;
  static constexpr int NR = VL * NV;
  static constexpr int MR = kVecRegs >= 32 ? 12 : 6;
  static constexpr i64 KC = sizeof(T) == 4 ? 256 : 192;
  static constexpr i64 MC = MR * (sizeof(T) == 4 ? 16 : 12);
  static constexpr i64 NC = 3072;
};

/** C[mr x nr] = alpha * Ap * Bp + beta * C (beta == 0: C not read). */
template <typename T>
__attribute__((noinline)) void micro_kernel(i64 kc, const T* __restrict Ap, const T* __restrict Bp, T* C, i64 ldc,
                                            T alpha, T beta, int mr, int nr) {
  using BK = Blocking<T>;
  constexpr int MR = BK::MR, NV = BK::NV, VL = BK::VL, NR = BK::NR;
  using V = vec_t<T>;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[i][v] = V{};
  for (i64 p = 0; p < kc; p++) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b[v] = vload<T>(Bp + v * VL);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      T a = Ap[i];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[i][v] += a * b[v];
    }
    Ap += MR;
    Bp += NR;
  }
  if (mr == MR && nr == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        T* c = C + i * ldc + v * VL;
        V r = alpha * acc[i][v];
        if (beta != T(0)) r += beta * vload<T>(c);
        vstore<T>(c, r);
      }
    }
  } else {
    alignas(64) T tmp[MR * NR];
    for (int i = 0; i < MR; i++)
      for (int v = 0; v < NV; v++) vstore<T>(tmp + i * NR + v * VL, acc[i][v]);
    for (int i = 0; i < mr; i++) {
      T* c = C + i * ldc;
      for (int j = 0; j < nr; j++) {
        T r = alpha * tmp[i * NR + j];
        if (beta != T(0)) r += beta * c[j];
        c[j] = r;
      }
    }
  }
}

template <typename T>
void pack_a(bool ta, const T* A, i64 lda, i64 ic, i64 mc, i64 pc, i64 kc, T* dst) {
  constexpr int MR = Blocking<T>::MR;
  for (i64 ir = 0; ir < mc; ir += MR) {
    int mr = int(std::min<i64>(MR, mc - ir));
    T* d = dst + ir * kc;
    if (!ta) {
      for (int i = 0; i < mr; i++) {
        const T* s = A + (ic + ir + i) * lda + pc;
        for (i64 p = 0; p < kc; p++) d[p * MR + i] = s[p];
      }
      for (int i = mr; i < MR; i++)
        for (i64 p = 0; p < kc; p++) d[p * MR + i] = T(0);
    } else {
      for (i64 p = 0; p < kc; p++) {
        const T* s = A + (pc + p) * lda + ic + ir;
        T* dp = d + p * MR;
        for (int i = 0; i < mr; i++) dp[i] = s[i];
        for (int i = mr; i < MR; i++) dp[i] = T(0);
      }
    }
  }
}

template <typename T, typename W>
void pack_b_panel(bool tb, const raw_t<W>* B, i64 ldb, i64 j0, int nr, i64 pc, i64 kc, T* d) {
  constexpr int NR = Blocking<T>::NR;
  if (!tb) {
    for (i64 p = 0; p < kc; p++) {
      const raw_t<W>* s = B + (pc + p) * ldb + j0;
      T* dp = d + p * NR;
      if (nr == NR) {
        for (int j = 0; j < NR; j += Vec<T>::L) vstore<T>(dp + j, wvload<T, W>(s + j));
      } else {
        for (int j = 0; j < nr; j++) dp[j] = wload<T, W>(s + j);
        for (int j = nr; j < NR; j++) dp[j] = T(0);
      }
    }
  } else {
    for (int j = 0; j < nr; j++) {
      const raw_t<W>* s = B + (j0 + j) * ldb + pc;
      for (i64 p = 0; p < kc; p++) d[p * NR + j] = wload<T, W>(s + p);
    }
    for (int j = nr; j < NR; j++)
      for (i64 p = 0; p < kc; p++) d[p * NR + j] = T(0);
  }
}

}  // namespace

template <typename T, typename W>
void gemm_builtin(bool ta, bool tb, i64 M, i64 N, i64 K, T alpha, const T* A, i64 lda, const raw_t<W>* B, i64 ldb,
                  T beta, T* C, i64 ldc, bool parallel) {
  using BK = Blocking<T>;
  constexpr int MR = BK::MR, NR = BK::NR;
  constexpr i64 KC = BK::KC, MC = BK::MC, NC = BK::NC;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (in_parallel_region()) parallel = false;
  const i64 ncmax = std::min(NC, round_up(N, NR));
  T* Bpack = tl_buffer<T>(0, size_t(KC * round_up(ncmax, NR)));
  const int nt = parallel ? num_threads() : 1;
  for (i64 jc = 0; jc < N; jc += NC) {
    const i64 nc = std::min(NC, N - jc);
    const i64 npanels = (nc + NR - 1) / NR;
    for (i64 pc = 0; pc < K; pc += KC) {
      const i64 kc = std::min(KC, K - pc);
      auto packB = [&](i64 p0, i64 p1) {
        for (i64 jp = p0; jp < p1; jp++)
          pack_b_panel<T, W>(tb, B, ldb, jc + jp * NR, int(std::min<i64>(NR, nc - jp * NR)), pc, kc,
                             Bpack + jp * NR * kc);
      };
      if (parallel && npanels * kc * NR > 32768)
        parallel_for(npanels, 4, packB);
      else
        packB(0, npanels);
      const T beff = pc == 0 ? beta : T(1);
      const i64 nIC = (M + MC - 1) / MC;
      i64 nJG = 1;
      if (parallel && nt > 1 && nIC < 2 * nt) nJG = std::min<i64>(npanels, (2 * nt + nIC - 1) / nIC);
      auto task = [&](i64 t) {
        const i64 ici = t / nJG, jg = t % nJG;
        const i64 ic = ici * MC, mc = std::min(MC, M - ic);
        T* Apack = tl_buffer<T>(1, size_t(round_up(MC, MR) * KC));
        pack_a<T>(ta, A, lda, ic, mc, pc, kc, Apack);
        const i64 jp0 = npanels * jg / nJG, jp1 = npanels * (jg + 1) / nJG;
        for (i64 jp = jp0; jp < jp1; jp++) {
          const int nr = int(std::min<i64>(NR, nc - jp * NR));
          const T* bp = Bpack + jp * NR * kc;
          for (i64 ir = 0; ir < mc; ir += MR) {
            micro_kernel<T>(kc, Apack + ir * kc, bp, C + (ic + ir) * ldc + jc + jp * NR, ldc, alpha, beff,
                            int(std::min<i64>(MR, mc - ir)), nr);
          }
        }
      };
      if (parallel && nIC * nJG > 1)
        parallel_chunks(nIC * nJG, task);
      else
        for (i64 t = 0; t < nIC * nJG; t++) task(t);
    }
  }
}

namespace {

// ---- few-row GEMV kernels ---------------------------------------------------------------------
// out[r * os_r + n * os_n] = alpha * sum_k X[r * K + k] * W(k, n) + beta * out, r < R.
// KN layout: W(k, n) = W[k * ldw + n] (GPT-2 Conv1D weight); NK: W(k, n) = W[n * ldw + k]
// (nn.Linear weight). Each thread streams its slice of W exactly once.

template <typename T> inline void store_out(T* out, i64 os, i64 n, const T* acc, T alpha, T beta) {
  if (os == 1) {
    if (beta == T(0))
      for (i64 j = 0; j < n; j++) out[j] = alpha * acc[j];
    else
      for (i64 j = 0; j < n; j++) out[j] = alpha * acc[j] + beta * out[j];
  } else {
    if (beta == T(0))
      for (i64 j = 0; j < n; j++) out[j * os] = alpha * acc[j];
    else
      for (i64 j = 0; j < n; j++) out[j * os] = alpha * acc[j] + beta * out[j * os];
  }
}

/** acc[r * lda + j] += sum_{k in [k0, k1)} X[r * K + k] * W[k * ldw + j], j < ncols. */
template <typename T, typename W, int R>
void gemv_kn_acc_seq(i64 K, i64 k0, i64 k1, i64 ncols, const T* X, const raw_t<W>* Wm, i64 ldw, T* acc, i64 lda) {
  constexpr int VL = Vec<T>::L;
  // Register tile: R rows x NV vectors of accumulators held across KB rows of W, so each W
  // vector loaded feeds R FMAs and the accumulators touch memory once per KB rows (the old
  // kernel loaded and stored them for every 4 rows, which bound it to ~40 GFLOP/s).
  constexpr int NV = kVecRegs >= 32 ? (R <= 2 ? 6 : R <= 4 ? 4 : R <= 6 ? 3 : 2) : (R <= 2 ? 4 : R <= 4 ? 2 : 1);
  constexpr i64 SW = i64(NV) * VL;
  // KB rows of W are streamed side by side (one stream per row): few enough for the prefetchers
  constexpr i64 KB = 16;
  using V = vec_t<T>;
  const i64 ns = ncols / SW * SW;
  for (i64 kb = k0; kb < k1; kb += KB) {
    const i64 ke = std::min(k1, kb + KB);
    for (i64 j = 0; j < ns; j += SW) {
      V a[R][NV];
#pragma GCC unroll 8
      for (int r = 0; r < R; r++)
#pragma GCC unroll 6
        for (int v = 0; v < NV; v++) a[r][v] = vload<T>(acc + r * lda + j + v * VL);
      for (i64 k = kb; k < ke; k++) {
        const raw_t<W>* wk = Wm + k * ldw + j;
        V w[NV];
#pragma GCC unroll 6
        for (int v = 0; v < NV; v++) w[v] = wvload<T, W>(wk + v * VL);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
          const T x = X[r * K + k];
#pragma GCC unroll 6
          for (int v = 0; v < NV; v++) a[r][v] += x * w[v];
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; r++)
#pragma GCC unroll 6
        for (int v = 0; v < NV; v++) vstore<T>(acc + r * lda + j + v * VL, a[r][v]);
    }
    // tail columns, one vector then scalars
    i64 j = ns;
    for (; j + VL <= ncols; j += VL) {
      V a[R];
      for (int r = 0; r < R; r++) a[r] = vload<T>(acc + r * lda + j);
      for (i64 k = kb; k < ke; k++) {
        const V w = wvload<T, W>(Wm + k * ldw + j);
        for (int r = 0; r < R; r++) a[r] += X[r * K + k] * w;
      }
      for (int r = 0; r < R; r++) vstore<T>(acc + r * lda + j, a[r]);
    }
    for (; j < ncols; j++) {
      for (i64 k = kb; k < ke; k++) {
        const T w = wload<T, W>(Wm + k * ldw + j);
        for (int r = 0; r < R; r++) acc[r * lda + j] += X[r * K + k] * w;
      }
    }
  }
}

// Partial sums over k0..k1 in blocks of kKBlock rows, each summed from zero and then added to
// acc: the rounding error grows with kKBlock + K/kKBlock instead of K (the GPT-2 LM head's
// backward sums 50257 rows; a plain running sum lost ~3e-6 relative there).
constexpr i64 kKBlock = 256;

template <typename T, typename W, int R>
void gemv_kn_acc(i64 K, i64 k0, i64 k1, i64 ncols, const T* X, const raw_t<W>* Wm, i64 ldw, T* acc, i64 lda) {
  if (k1 - k0 <= kKBlock) return gemv_kn_acc_seq<T, W, R>(K, k0, k1, ncols, X, Wm, ldw, acc, lda);
  static thread_local std::vector<T> tmp;
  if (tmp.size() < size_t(R * ncols)) tmp.resize(size_t(R * ncols));
  for (i64 kb = k0; kb < k1; kb += kKBlock) {
    std::fill(tmp.begin(), tmp.begin() + R * ncols, T(0));
    gemv_kn_acc_seq<T, W, R>(K, kb, std::min(k1, kb + kKBlock), ncols, X, Wm, ldw, tmp.data(), ncols);
    for (int r = 0; r < R; r++) {
      T* a = acc + r * lda;
      const T* t = tmp.data() + r * ncols;
      for (i64 j = 0; j < ncols; j++) a[j] += t[j];
    }
  }
}

template <typename T, typename W, int R, int NB>
inline void gemv_nk_block(i64 K, i64 n, const T* X, const raw_t<W>* Wm, i64 ldw, T alpha, T beta, T* out, i64 os_r,
                          i64 os_n) {
  constexpr int VL = Vec<T>::L;
  using V = vec_t<T>;
  V acc[R][NB];
  for (int r = 0; r < R; r++)
    for (int j = 0; j < NB; j++) acc[r][j] = V{};
  const raw_t<W>* wr[NB];
  for (int j = 0; j < NB; j++) wr[j] = Wm + (n + j) * ldw;
  const i64 kv = K / VL * VL;
  for (i64 k = 0; k < kv; k += VL) {
    V w[NB];
#pragma GCC unroll 8
    for (int j = 0; j < NB; j++) w[j] = wvload<T, W>(wr[j] + k);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      V x = vload<T>(X + r * K + k);
#pragma GCC unroll 8
      for (int j = 0; j < NB; j++) acc[r][j] += x * w[j];
    }
  }
  for (int r = 0; r < R; r++) {
    for (int j = 0; j < NB; j++) {
      T s = vsum<T>(acc[r][j]);
      for (i64 k = kv; k < K; k++) s += X[r * K + k] * wload<T, W>(wr[j] + k);
      T* o = out + r * os_r + (n + j) * os_n;
      *o = beta == T(0) ? alpha * s : alpha * s + beta * *o;
    }
  }
}

template <typename T, typename W, int R>
void gemv_nk(i64 K, i64 n0, i64 n1, const T* X, const raw_t<W>* Wm, i64 ldw, T alpha, T beta, T* out, i64 os_r,
             i64 os_n) {
  // as many accumulators as registers allow (R x NB of them), so each X vector feeds NB FMAs
  constexpr int NB = kVecRegs >= 32 ? std::max(1, std::min(8, 24 / R)) : std::max(1, std::min(4, 12 / R));
  i64 n = n0;
  for (; n + NB <= n1; n += NB) gemv_nk_block<T, W, R, NB>(K, n, X, Wm, ldw, alpha, beta, out, os_r, os_n);
  for (; n < n1; n++) gemv_nk_block<T, W, R, 1>(K, n, X, Wm, ldw, alpha, beta, out, os_r, os_n);
}

template <typename T, typename W, int R>
void gemv_rows(bool nk, i64 Ncols, i64 K, const T* X, const raw_t<W>* Wm, i64 ldw, T alpha, T beta, T* out,
               i64 os_r, i64 os_n) {
  if (nk) {
    // W [N, K]: threads split the rows of W (contiguous streams), 4 rows at a time.
    const i64 unit = 4;
    const i64 nunits = (Ncols + unit - 1) / unit;
    const i64 grain = std::max<i64>(1, 65536 / std::max<i64>(1, K * unit));
    parallel_for(nunits, grain, [&](i64 u0, i64 u1) {
      gemv_nk<T, W, R>(K, u0 * unit, std::min(Ncols, u1 * unit), X, Wm, ldw, alpha, beta, out, os_r, os_n);
    });
    return;
  }
  // W [K, N]: threads split K (each streams a contiguous block of rows of W) into partial sums,
  // combined in chunk order; column tiles keep the partial sums cache-resident.
  const i64 nc = parallel_for_chunks(K, std::max<i64>(16, 65536 / std::max<i64>(Ncols, 1)));
  T* part = tl_buffer<T>(2, size_t(nc * R * Ncols));
  parallel_chunks(nc, [&](i64 c) {
    const i64 k0 = K * c / nc, k1 = K * (c + 1) / nc;
    T* acc = part + c * R * Ncols;
    for (i64 i = 0; i < R * Ncols; i++) acc[i] = T(0);
    gemv_kn_acc<T, W, R>(K, k0, k1, Ncols, X, Wm, ldw, acc, Ncols);
  });
  parallel_for(Ncols, 16384, [&](i64 j0, i64 j1) {
    for (int r = 0; r < R; r++) {
      T* o = out + r * os_r;
      for (i64 j = j0; j < j1; j++) {
        T s = part[r * Ncols + j];
        for (i64 c = 1; c < nc; c++) s += part[(c * R + r) * Ncols + j];
        T* oj = o + j * os_n;
        *oj = beta == T(0) ? alpha * s : alpha * s + beta * *oj;
      }
    }
  });
}

template <typename T, typename W>
void gemv(i64 R, bool nk, i64 Ncols, i64 K, const T* X, const raw_t<W>* Wm, i64 ldw, T alpha, T beta, T* out,
          i64 os_r, i64 os_n) {
  switch (R) {
    case 1: return gemv_rows<T, W, 1>(nk, Ncols, K, X, Wm, ldw, alpha, beta, out, os_r, os_n);
    case 2: return gemv_rows<T, W, 2>(nk, Ncols, K, X, Wm, ldw, alpha, beta, out, os_r, os_n);
    case 3: return gemv_rows<T, W, 3>(nk, Ncols, K, X, Wm, ldw, alpha, beta, out, os_r, os_n);
    case 4: return gemv_rows<T, W, 4>(nk, Ncols, K, X, Wm, ldw, alpha, beta, out, os_r, os_n);
    case 5: return gemv_rows<T, W, 5>(nk, Ncols, K, X, Wm, ldw, alpha, beta, out, os_r, os_n);
    case 6: return gemv_rows<T, W, 6>(nk, Ncols, K, X, Wm, ldw, alpha, beta, out, os_r, os_n);
    case 7: return gemv_rows<T, W, 7>(nk, Ncols, K, X, Wm, ldw, alpha, beta, out, os_r, os_n);
    case 8: return gemv_rows<T, W, 8>(nk, Ncols, K, X, Wm, ldw, alpha, beta, out, os_r, os_n);
    default: fail("gemv: too many rows");
  }
}

// ---- BLAS ------------------------------------------------------------------------------------

#if defined(LMEDIT_HAVE_CBLAS)
inline bool fits_int(i64 v) { return v >= 0 && v <= i64(INT_MAX); }

/** BLAS requires ld >= max(1, cols); a single stored row may have any ld, so raise it. */
inline bool blas_ld(i64 rows, i64 cols, i64& ld) {
  if (rows <= 1) ld = std::max<i64>({ld, cols, 1});
  return ld >= std::max<i64>(1, cols) && fits_int(ld);
}

template <typename T>
void blas_gemm(bool ta, bool tb, i64 M, i64 N, i64 K, T alpha, const T* A, i64 lda, const T* B, i64 ldb, T beta, T* C,
               i64 ldc) {
  const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, TA, TB, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}
#endif

}  // namespace

i64 gemv_max_rows() {
  static const i64 v = [] {
    const char* e = std::getenv("LMEDIT_GEMV_ROWS");
    return e ? std::max<i64>(0, std::atol(e)) : kFewRows;
  }();
  return v;
}

template <typename T, typename W>
void gemm_one(bool ta, bool tb, i64 M, i64 N, i64 K, T alpha, const T* A, i64 lda, const raw_t<W>* B, i64 ldb,
              T beta, T* C, i64 ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (M <= gemv_max_rows()) {
    // X = op(A) packed [M, K]; W = B, streamed once per group of up to 8 rows.
    T* X = tl_buffer<T>(3, size_t(M * K));
    for (i64 r = 0; r < M; r++)
      for (i64 k = 0; k < K; k++) X[r * K + k] = ta ? A[k * lda + r] : A[r * lda + k];
    const i64 ng = (M + 7) / 8;
    for (i64 g = 0; g < ng; g++) {
      const i64 r0 = M * g / ng, r1 = M * (g + 1) / ng;
      gemv<T, W>(r1 - r0, tb, N, K, X + r0 * K, B, ldb, alpha, beta, C + r0 * ldc, ldc, 1);
    }
    return;
  }
  if (N <= kFewRows) {
    // C^T = op(B)^T op(A)^T: X = op(B)^T [N, K] (converted), W(k, m) = op(A)[m, k].
    T* X = tl_buffer<T>(3, size_t(N * K));
    for (i64 r = 0; r < N; r++)
      for (i64 k = 0; k < K; k++) X[r * K + k] = wload<T, W>(tb ? B + r * ldb + k : B + k * ldb + r);
    gemv<T, T>(N, !ta, M, K, X, A, lda, alpha, beta, C, 1, ldc);
    return;
  }
#if defined(LMEDIT_HAVE_CBLAS)
  i64 lda2 = lda;
  if (!in_parallel_region() && fits_int(M) && fits_int(N) && fits_int(K) && blas_ld(ta ? K : M, ta ? M : K, lda2) &&
      fits_int(ldc) && ldc >= std::max<i64>(1, N)) {
    if constexpr (std::is_same_v<W, T>) {
      i64 ldb2 = ldb;
      if (blas_ld(tb ? N : K, tb ? K : N, ldb2)) {
        blas_gemm<T>(ta, tb, M, N, K, alpha, A, lda2, B, ldb2, beta, C, ldc);
        return;
      }
    } else {
      // float16/bfloat16 weight: convert column panels of op(B) to T scratch, one BLAS call each.
      i64 nc = std::max<i64>(64, (i64(1) << 21) / K);
      nc = nc >= N ? N : nc / 64 * 64;
      T* S = tl_buffer<T>(2, size_t(nc * K));
      for (i64 j0 = 0; j0 < N; j0 += nc) {
        const i64 w = std::min(nc, N - j0);
        if (!tb) {
          // S [K, w] = B[:, j0:j0+w]
          parallel_for(K, std::max<i64>(1, 16384 / w), [&](i64 k0, i64 k1) {
            for (i64 k = k0; k < k1; k++) convert_row<T, W>(B + k * ldb + j0, S + k * w, w);
          });
          blas_gemm<T>(ta, false, M, w, K, alpha, A, lda2, S, w, beta, C + j0, ldc);
        } else {
          // S [w, K] = B[j0:j0+w, :]
          parallel_for(w, std::max<i64>(1, 16384 / K), [&](i64 r0, i64 r1) {
            for (i64 r = r0; r < r1; r++) convert_row<T, W>(B + (j0 + r) * ldb, S + r * K, K);
          });
          blas_gemm<T>(ta, true, M, w, K, alpha, A, lda2, S, K, beta, C + j0, ldc);
        }
      }
      return;
    }
  }
#endif
  gemm_builtin<T, W>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, true);
}

namespace {
template <typename T, typename W> void gemm_batched(const GemmArgs& g) {
  const T* A = static_cast<const T*>(g.a);
  const raw_t<W>* B = static_cast<const raw_t<W>*>(g.b);
  T* C = static_cast<T*>(g.c);
  const T alpha = T(g.alpha), beta = T(g.beta);
  auto one = [&](i64 b) {
    gemm_one<T, W>(g.transA, g.transB, g.M, g.N, g.K, alpha, A + g.aOffset + b * g.aBatchStride, g.lda,
                   B + g.bOffset + b * g.bBatchStride, g.ldb, beta, C + g.cOffset + b * g.cBatchStride, g.ldc);
  };
  const double work = double(g.M) * double(g.N) * double(std::max<i64>(g.K, 1));
  // C entries must not overlap for the batch entries to run concurrently.
  const bool disjoint = g.M > 0 && g.N > 0 && g.cBatchStride >= (g.M - 1) * g.ldc + g.N;
  if (g.batch > 1 && work < 2.0e6 && disjoint) {
    // Many small products: one per task, each serial (built-in kernels).
    parallel_for(g.batch, std::max<i64>(1, i64(2.0e5 / std::max(work, 1.0))), [&](i64 b0, i64 b1) {
      for (i64 b = b0; b < b1; b++) one(b);
    });
  } else {
    for (i64 b = 0; b < g.batch; b++) one(b);
  }
}
}  // namespace

template <typename T> void gemm(const GemmArgs& g) {
  constexpr int TD = std::is_same_v<T, float> ? F32 : F64;
  if (g.bDtype == TD) return gemm_batched<T, T>(g);
  if (g.bDtype == F16) return gemm_batched<T, f16_t>(g);
  if (g.bDtype == BF16) return gemm_batched<T, bf16_t>(g);
  fail(std::string("b has dtype ") + dtype_name(g.bDtype) + ", expected " + dtype_name(TD) +
       ", float16 or bfloat16");
}

template void gemm<float>(const GemmArgs&);
template void gemm<double>(const GemmArgs&);
template void gemm_one<float, float>(bool, bool, i64, i64, i64, float, const float*, i64, const float*, i64, float,
                                     float*, i64);
template void gemm_one<double, double>(bool, bool, i64, i64, i64, double, const double*, i64, const double*, i64,
                                       double, double*, i64);
template void gemm_builtin<float, float>(bool, bool, i64, i64, i64, float, const float*, i64, const float*, i64, float,
                                         float*, i64, bool);
template void gemm_builtin<double, double>(bool, bool, i64, i64, i64, double, const double*, i64, const double*, i64,
                                           double, double*, i64, bool);

}  // namespace lm
