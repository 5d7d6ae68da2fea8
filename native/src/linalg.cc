// Dense linear algebra on row-major matrices (float32 and float64; inputs are never modified).
//
// With LAPACK (OpenBLAS): a row-major matrix is, to column-major LAPACK, its transpose, so
//  - cholesky: potrf('U') on a copy factors the row-major lower triangle (A = L L^T in place);
//  - solveSPD: potrf + two row-major triangular solves (trsm), no transposes;
//  - solve:    getrf on a copy factors A^T = P L U, i.e. A = U^T L^T P^T; X follows from two
//              row-major triangular solves and the row interchanges in reverse order;
//  - inverse:  getrf + getri on a copy: the inverse of A^T, read row-major, is A^-1;
//  - eigh:     syevd('V', 'U') on a copy (row-major lower = column-major upper), eigenvectors
//              transposed in place into columns (syevr when syevd's 2n^2 workspace is too big);
//  - svd:      gesdd('S') of A^T: its U (n x k, column-major) is our vt [k, n] and its VT
//              (k x m, column-major) is our u [m, k], written straight into the outputs.
// Extra memory: one n x n copy at most (plus LAPACK workspace).
//
// Without LAPACK: built-in double-precision code (float32 inputs are converted): blocked
// right-looking Cholesky and LU with partial pivoting (trailing updates through the built-in
// GEMM), blocked triangular solves, Householder tridiagonalization + implicit QL (eigh), and
// one-sided Jacobi (svd). Errors name the LAPACK-style info value.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "blas.h"
#include "kernels.h"
#include "threadpool.h"

#pragma GCC diagnostic ignored "-Wunused-function"

namespace lm {
namespace {

constexpr i64 kNB = 128;

template <typename S, typename D> void par_copy(const S* src, D* dst, i64 n) {
  parallel_for(n, 1 << 18, [&](i64 b, i64 e) {
    for (i64 i = b; i < e; i++) dst[i] = D(src[i]);
  });
}

/** In-place transpose of a square row-major matrix. */
template <typename T> void transpose_square(T* a, i64 n) {
  constexpr i64 B = 64;
  const i64 nb = (n + B - 1) / B;
  parallel_for(nb, 1, [&](i64 b0, i64 b1) {
    for (i64 bi = b0; bi < b1; bi++) {
      for (i64 bj = bi; bj < nb; bj++) {
        const i64 i0 = bi * B, j0 = bj * B;
        for (i64 i = i0; i < std::min(n, i0 + B); i++)
          for (i64 j = std::max(j0, bi == bj ? i + 1 : j0); j < std::min(n, j0 + B); j++) std::swap(a[i * n + j], a[j * n + i]);
      }
    }
  });
}

template <typename T> void zero_upper(T* a, i64 n) {
  parallel_for(n, 64, [&](i64 r0, i64 r1) {
    for (i64 i = r0; i < r1; i++)
      for (i64 j = i + 1; j < n; j++) a[i * n + j] = T(0);
  });
}

/** Dot product with 4 vector accumulators (a plain loop is one latency-bound chain). */
inline double dot(const double* __restrict a, const double* __restrict b, i64 n) {
  using V = vec_t<double>;
  constexpr int L = Vec<double>::L;
  V s0{}, s1{}, s2{}, s3{};
  i64 k = 0;
  for (; k + 4 * L <= n; k += 4 * L) {
    s0 += vload<double>(a + k) * vload<double>(b + k);
    s1 += vload<double>(a + k + L) * vload<double>(b + k + L);
    s2 += vload<double>(a + k + 2 * L) * vload<double>(b + k + 2 * L);
    s3 += vload<double>(a + k + 3 * L) * vload<double>(b + k + 3 * L);
  }
  double s = vsum<double>((s0 + s1) + (s2 + s3));
  for (; k < n; k++) s += a[k] * b[k];
  return s;
}

[[noreturn]] void not_spd(i64 info) {
  fail("matrix is not positive definite (LAPACK info=" + std::to_string(info) + ": the leading minor of order " +
       std::to_string(info) + " is not positive)");
}
[[noreturn]] void singular(i64 info) {
  fail("matrix is singular (LAPACK info=" + std::to_string(info) + ": U(" + std::to_string(info) + "," +
       std::to_string(info) + ") is exactly zero)");
}
[[noreturn]] void lapack_error(const char* routine, i64 info) {
  fail(std::string(routine) + " failed (LAPACK info=" + std::to_string(info) + ")");
}

// =====================================================================================
// Built-in double-precision implementations
// =====================================================================================

/** Solves L X = B in place; L lower (row-major, ld n), unit or not; B [n, nrhs]. */
void trsm_lower(i64 n, i64 nrhs, const double* L, bool unit, double* B) {
  for (i64 j0 = 0; j0 < n; j0 += kNB) {
    const i64 j1 = std::min(n, j0 + kNB);
    for (i64 i = j0; i < j1; i++) {
      double* bi = B + i * nrhs;
      for (i64 k = j0; k < i; k++) {
        const double l = L[i * n + k];
        const double* bk = B + k * nrhs;
        for (i64 c = 0; c < nrhs; c++) bi[c] -= l * bk[c];
      }
      if (!unit) {
        const double d = L[i * n + i];
        for (i64 c = 0; c < nrhs; c++) bi[c] /= d;
      }
    }
    if (j1 < n)  // B[j1:] -= L[j1:, j0:j1] X[j0:j1]
      gemm_one<double, double>(false, false, n - j1, nrhs, j1 - j0, -1.0, L + j1 * n + j0, n, B + j0 * nrhs, nrhs, 1.0,
                               B + j1 * nrhs, nrhs);
  }
}

/** Solves U X = B in place; U upper (row-major), unit or not. */
void trsm_upper(i64 n, i64 nrhs, const double* U, bool unit, double* B) {
  for (i64 j1 = n; j1 > 0; j1 -= kNB) {
    const i64 j0 = std::max<i64>(0, j1 - kNB);
    for (i64 i = j1 - 1; i >= j0; i--) {
      double* bi = B + i * nrhs;
      for (i64 k = i + 1; k < j1; k++) {
        const double u = U[i * n + k];
        const double* bk = B + k * nrhs;
        for (i64 c = 0; c < nrhs; c++) bi[c] -= u * bk[c];
      }
      if (!unit) {
        const double d = U[i * n + i];
        for (i64 c = 0; c < nrhs; c++) bi[c] /= d;
      }
    }
    if (j0 > 0)  // B[:j0] -= U[:j0, j0:j1] X[j0:j1]
      gemm_one<double, double>(false, false, j0, nrhs, j1 - j0, -1.0, U + j0, n, B + j0 * nrhs, nrhs, 1.0, B, nrhs);
  }
}

/** Solves L^T X = B in place; L lower (row-major). */
void trsm_lower_trans(i64 n, i64 nrhs, const double* L, double* B) {
  for (i64 j1 = n; j1 > 0; j1 -= kNB) {
    const i64 j0 = std::max<i64>(0, j1 - kNB);
    for (i64 i = j1 - 1; i >= j0; i--) {
      double* bi = B + i * nrhs;
      for (i64 k = i + 1; k < j1; k++) {
        const double l = L[k * n + i];  // (L^T)[i][k]
        const double* bk = B + k * nrhs;
        for (i64 c = 0; c < nrhs; c++) bi[c] -= l * bk[c];
      }
      const double d = L[i * n + i];
      for (i64 c = 0; c < nrhs; c++) bi[c] /= d;
    }
    if (j0 > 0)  // B[:j0] -= (L^T)[:j0, j0:j1] X[j0:j1] = L[j0:j1, :j0]^T X[j0:j1]
      gemm_one<double, double>(true, false, j0, nrhs, j1 - j0, -1.0, L + j0 * n, n, B + j0 * nrhs, nrhs, 1.0, B, nrhs);
  }
}

/** Lower Cholesky in place on W (row-major; only the lower triangle is read/written). */
void cholesky_builtin(double* W, i64 n) {
  for (i64 j0 = 0; j0 < n; j0 += kNB) {
    const i64 jb = std::min(kNB, n - j0), j1 = j0 + jb;
    // diagonal block
    for (i64 j = j0; j < j1; j++) {
      double d = W[j * n + j];
      for (i64 k = j0; k < j; k++) d -= W[j * n + k] * W[j * n + k];
      if (!(d > 0.0)) not_spd(j + 1);
      d = std::sqrt(d);
      W[j * n + j] = d;
      for (i64 i = j + 1; i < j1; i++) {
        double s = W[i * n + j];
        for (i64 k = j0; k < j; k++) s -= W[i * n + k] * W[j * n + k];
        W[i * n + j] = s / d;
      }
    }
    if (j1 >= n) break;
    // panel: L21 = A21 L11^-T, row by row
    parallel_for(n - j1, 16, [&](i64 r0, i64 r1) {
      for (i64 i = j1 + r0; i < j1 + r1; i++) {
        double* wi = W + i * n;
        for (i64 j = j0; j < j1; j++) {
          double s = wi[j];
          const double* wj = W + j * n;
          for (i64 k = j0; k < j; k++) s -= wi[k] * wj[k];
          wi[j] = s / wj[j];
        }
      }
    });
    // trailing update of the lower triangle, one block row per task (largest first)
    const i64 nbr = (n - j1 + kNB - 1) / kNB;
    parallel_chunks(nbr, [&](i64 t) {
      const i64 br = nbr - 1 - t;
      const i64 r0 = j1 + br * kNB, r1 = std::min(n, r0 + kNB);
      gemm_one<double, double>(false, true, r1 - r0, r1 - j1, jb, -1.0, W + r0 * n + j0, n, W + j1 * n + j0, n, 1.0,
                               W + r0 * n + j1, n);
    });
  }
}

/** LU with partial pivoting in place (row-major): P A = L U, piv[j] = row swapped with j. */
void lu_builtin(double* W, i64 n, std::vector<i64>& piv) {
  piv.assign(static_cast<size_t>(n), 0);
  for (i64 j0 = 0; j0 < n; j0 += kNB) {
    const i64 j1 = std::min(n, j0 + kNB);
    for (i64 j = j0; j < j1; j++) {
      i64 p = j;
      double best = std::fabs(W[j * n + j]);
      for (i64 i = j + 1; i < n; i++) {
        const double v = std::fabs(W[i * n + j]);
        if (v > best) best = v, p = i;
      }
      piv[static_cast<size_t>(j)] = p;
      if (W[p * n + j] == 0.0) singular(j + 1);
      if (p != j) std::swap_ranges(W + j * n, W + j * n + n, W + p * n);
      const double inv = 1.0 / W[j * n + j];
      const double* wj = W + j * n;
      parallel_for(n - j - 1, 256, [&](i64 r0, i64 r1) {
        for (i64 i = j + 1 + r0; i < j + 1 + r1; i++) {
          double* wi = W + i * n;
          const double l = wi[j] * inv;
          wi[j] = l;
          for (i64 c = j + 1; c < j1; c++) wi[c] -= l * wj[c];
        }
      });
    }
    if (j1 >= n) break;
    // U12 = L11^-1 A12
    parallel_for(n - j1, 256, [&](i64 c0, i64 c1) {
      for (i64 i = j0; i < j1; i++) {
        double* wi = W + i * n;
        for (i64 k = j0; k < i; k++) {
          const double l = wi[k];
          const double* wk = W + k * n;
          for (i64 c = j1 + c0; c < j1 + c1; c++) wi[c] -= l * wk[c];
        }
      }
    });
    // A22 -= L21 U12
    gemm_one<double, double>(false, false, n - j1, n - j1, j1 - j0, -1.0, W + j1 * n + j0, n, W + j0 * n + j1, n, 1.0,
                             W + j1 * n + j1, n);
  }
}

void lu_solve_builtin(const double* W, i64 n, const std::vector<i64>& piv, double* B, i64 nrhs) {
  for (i64 j = 0; j < n; j++)
    if (piv[static_cast<size_t>(j)] != j) std::swap_ranges(B + j * nrhs, B + j * nrhs + nrhs, B + piv[static_cast<size_t>(j)] * nrhs);
  trsm_lower(n, nrhs, W, true, B);
  trsm_upper(n, nrhs, W, false, B);
}

/**
 * Householder tridiagonalization (JAMA tred2) of the symmetric V [n][n]. JAMA's V(i, j) is kept
 * at V[j * n + i] (transposed), which makes every inner loop contiguous; on return row j of V
 * holds JAMA's column j (the layout tql2 works on).
 */
void tred2(std::vector<double>& Vv, i64 n, std::vector<double>& d, std::vector<double>& e) {
  double* V = Vv.data();
  auto v = [V, n](i64 i, i64 j) -> double& { return V[j * n + i]; };
  std::vector<double> dd(static_cast<size_t>(n));
  for (i64 j = 0; j < n; j++) d[j] = v(n - 1, j);
  for (i64 i = n - 1; i > 0; i--) {
    double scale = 0.0, h = 0.0;
    for (i64 k = 0; k < i; k++) scale += std::fabs(d[k]);
    if (scale == 0.0) {
      e[i] = d[i - 1];
      for (i64 j = 0; j < i; j++) {
        d[j] = v(i - 1, j);
        v(i, j) = 0.0;
        v(j, i) = 0.0;
      }
    } else {
      for (i64 k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      double f = d[i - 1];
      double g = std::sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h = h - f * g;
      d[i - 1] = f - g;
      for (i64 j = 0; j < i; j++) e[j] = 0.0;
      for (i64 j = 0; j < i; j++) {
        f = d[j];
        v(j, i) = f;
        const double* col = &v(0, j);
        g = e[j] + col[j] * f + dot(col + j + 1, d.data() + j + 1, i - 1 - j);
        for (i64 k = j + 1; k <= i - 1; k++) e[k] += col[k] * f;
        e[j] = g;
      }
      f = 0.0;
      for (i64 j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const double hh = f / (h + h);
      for (i64 j = 0; j < i; j++) e[j] -= hh * d[j];
      std::copy(d.begin(), d.begin() + i, dd.begin());
      parallel_for(i, std::max<i64>(1, 16384 / std::max<i64>(i, 1)), [&](i64 j0, i64 j1) {
        for (i64 j = j0; j < j1; j++) {
          const double fj = dd[j], gj = e[j];
          double* col = &v(0, j);
          for (i64 k = j; k <= i - 1; k++) col[k] -= (fj * e[k] + gj * dd[k]);
        }
      });
      for (i64 j = 0; j < i; j++) {
        d[j] = v(i - 1, j);
        v(i, j) = 0.0;
      }
    }
    d[i] = h;
  }
  for (i64 i = 0; i < n - 1; i++) {
    v(n - 1, i) = v(i, i);
    v(i, i) = 1.0;
    const double h = d[i + 1];
    if (h != 0.0) {
      const double* ci1 = &v(0, i + 1);
      for (i64 k = 0; k <= i; k++) d[k] = ci1[k] / h;
      parallel_for(i + 1, std::max<i64>(1, 16384 / (i + 1)), [&](i64 j0, i64 j1) {
        for (i64 j = j0; j < j1; j++) {
          double* cj = &v(0, j);
          const double g = dot(ci1, cj, i + 1);
          for (i64 k = 0; k <= i; k++) cj[k] -= g * d[k];
        }
      });
    }
    for (i64 k = 0; k <= i; k++) v(k, i + 1) = 0.0;
  }
  for (i64 j = 0; j < n; j++) {
    d[j] = v(n - 1, j);
    v(n - 1, j) = 0.0;
  }
  v(n - 1, n - 1) = 1.0;
  e[0] = 0.0;
}

/** Implicit QL (JAMA tql2) on the transposed eigenvector matrix Zt (row i = vector i). */
void tql2(double* Zt, i64 n, std::vector<double>& d, std::vector<double>& e) {
  for (i64 i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0.0;
  // The QL iteration never reads Zt, so its plane rotations (rows i, i + 1) are recorded and
  // applied in batches, one cache-sized strip of columns at a time (threads split the strips):
  // Zt streams through memory once per batch instead of once per sweep.
  struct Rot {
    i64 i;
    double c, s;
  };
  std::vector<Rot> rot;
  const i64 kRotBatch = std::max<i64>(16 * n, 4096);
  rot.reserve(static_cast<size_t>(kRotBatch + n));
  auto flush = [&]() {
    if (rot.empty()) return;
    constexpr i64 kStrip = 32;
    const i64 nstrips = (n + kStrip - 1) / kStrip;
    parallel_for(nstrips, 1, [&](i64 s0, i64 s1) {
      for (i64 st = s0; st < s1; st++) {
        const i64 k0 = st * kStrip, k1 = std::min(n, k0 + kStrip);
        for (const Rot& r : rot) {
          double* __restrict zi = Zt + r.i * n;
          double* __restrict zi1 = Zt + (r.i + 1) * n;
          for (i64 k = k0; k < k1; k++) {
            const double hk = zi1[k];
            zi1[k] = r.s * zi[k] + r.c * hk;
            zi[k] = r.c * zi[k] - r.s * hk;
          }
        }
      }
    });
    rot.clear();
  };
  double f = 0.0, tst1 = 0.0;
  const double eps = std::ldexp(1.0, -52);
  for (i64 l = 0; l < n; l++) {
    tst1 = std::max(tst1, std::fabs(d[l]) + std::fabs(e[l]));
    i64 m = l;
    while (m < n) {
      if (std::fabs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m >= n) m = n - 1;
    if (m > l) {
      int iter = 0;
      do {
        if (++iter > 100) fail("eigh: the QL iteration did not converge");
        double g = d[l];
        double p = (d[l + 1] - g) / (2.0 * e[l]);
        double r = std::hypot(p, 1.0);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const double dl1 = d[l + 1];
        double h = g - d[l];
        for (i64 i = l + 2; i < n; i++) d[i] -= h;
        f = f + h;
        p = d[m];
        double c = 1.0, c2 = c, c3 = c;
        const double el1 = e[l + 1];
        double s = 0.0, s2 = 0.0;
        for (i64 i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = std::hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          rot.push_back({i, c, s});
        }
        if (i64(rot.size()) >= kRotBatch) flush();
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (std::fabs(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0.0;
  }
  flush();
}

/** values ascending, vectors as columns of the row-major out (n x n). */
void eigh_builtin(const double* a, i64 n, double* values, double* vectors) {
  std::vector<double> V(static_cast<size_t>(n * n)), d(static_cast<size_t>(n)), e(static_cast<size_t>(n));
  for (i64 i = 0; i < n; i++)
    for (i64 j = 0; j <= i; j++) V[static_cast<size_t>(i * n + j)] = V[static_cast<size_t>(j * n + i)] = a[i * n + j];  // lower triangle
  tred2(V, n, d, e);       // V now holds the transformation transposed: rows = vectors
  tql2(V.data(), n, d, e);
  std::vector<i64> order(static_cast<size_t>(n));
  for (i64 i = 0; i < n; i++) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](i64 x, i64 y) { return d[static_cast<size_t>(x)] < d[static_cast<size_t>(y)]; });
  for (i64 j = 0; j < n; j++) {
    const i64 src = order[static_cast<size_t>(j)];
    values[j] = d[static_cast<size_t>(src)];
    const double* z = V.data() + src * n;
    for (i64 i = 0; i < n; i++) vectors[i * n + j] = z[i];
  }
}

/**
 * One-sided Jacobi SVD of G^T where G [n, m] holds the columns of a tall matrix (n <= m) as
 * rows: on return sigma (descending), Ucols [n, m] (rows = left singular vectors), Vrows [n, n]
 * (rows = right singular vectors).
 */
void jacobi_svd(std::vector<double>& G, i64 n, i64 m, std::vector<double>& sigma, std::vector<double>& Ucols,
                std::vector<double>& Vrows) {
  std::vector<double> W(static_cast<size_t>(n * n), 0.0);
  for (i64 i = 0; i < n; i++) W[static_cast<size_t>(i * n + i)] = 1.0;
  const double eps = 1e-15;
  std::vector<double> norms(static_cast<size_t>(n));
  // Block Jacobi: rows in blocks of b (two blocks of G and W rows fit in L2). Each sweep first
  // rotates the pairs inside every block, then the blocks meet in round-robin (circle) order, so
  // the meetings of a round are disjoint and run in parallel; every pair is visited once a sweep.
  auto rotate_pair = [&](i64 p, i64 q) -> bool {
    double* gp = G.data() + p * m;
    double* gq = G.data() + q * m;
    const double alpha = norms[static_cast<size_t>(p)], beta = norms[static_cast<size_t>(q)];
    const double gamma = dot(gp, gq, m);
    if (gamma == 0.0 || std::fabs(gamma) <= eps * std::sqrt(alpha * beta)) return false;
    const double zeta = (beta - alpha) / (2.0 * gamma);
    const double tt = (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1.0 + zeta * zeta));
    const double c = 1.0 / std::sqrt(1.0 + tt * tt), sn = c * tt;
    for (i64 k = 0; k < m; k++) {
      const double x = gp[k], y = gq[k];
      gp[k] = c * x - sn * y;
      gq[k] = sn * x + c * y;
    }
    double* wp = W.data() + p * n;
    double* wq = W.data() + q * n;
    for (i64 k = 0; k < n; k++) {
      const double x = wp[k], y = wq[k];
      wp[k] = c * x - sn * y;
      wq[k] = sn * x + c * y;
    }
    norms[static_cast<size_t>(p)] = alpha - tt * gamma;
    norms[static_cast<size_t>(q)] = beta + tt * gamma;
    return true;
  };
  const i64 bs = std::clamp<i64>((i64(1) << 15) / std::max<i64>(m + n, 1), 2, 64);
  const i64 nb = (n + bs - 1) / bs;
  const i64 np = nb + (nb & 1);
  std::vector<i64> players(static_cast<size_t>(np));
  for (int sweep = 0; sweep < 80; sweep++) {
    std::atomic<bool> rotated{false};
    for (i64 i = 0; i < n; i++) {
      const double* g = G.data() + i * m;
      norms[static_cast<size_t>(i)] = dot(g, g, m);
    }
    parallel_for(nb, 1, [&](i64 b0, i64 b1) {
      bool any = false;
      for (i64 bk = b0; bk < b1; bk++)
        for (i64 p = bk * bs; p < std::min(n, (bk + 1) * bs); p++)
          for (i64 q = p + 1; q < std::min(n, (bk + 1) * bs); q++) any |= rotate_pair(p, q);
      if (any) rotated.store(true, std::memory_order_relaxed);
    });
    for (i64 i = 0; i < np; i++) players[static_cast<size_t>(i)] = i;
    for (i64 round = 0; round < np - 1; round++) {
      parallel_for(np / 2, 1, [&](i64 t0, i64 t1) {
        bool any = false;
        for (i64 t = t0; t < t1; t++) {
          i64 x = players[static_cast<size_t>(t)], y = players[static_cast<size_t>(np - 1 - t)];
          if (x >= nb || y >= nb) continue;  // the dummy player of an odd block count
          if (x > y) std::swap(x, y);
          for (i64 p = x * bs; p < std::min(n, (x + 1) * bs); p++)
            for (i64 q = y * bs; q < std::min(n, (y + 1) * bs); q++) any |= rotate_pair(p, q);
        }
        if (any) rotated.store(true, std::memory_order_relaxed);
      });
      std::rotate(players.begin() + 1, players.end() - 1, players.end());
    }
    if (!rotated.load()) break;
  }
  std::vector<double> sv(static_cast<size_t>(n));
  for (i64 i = 0; i < n; i++) {
    double s = 0;
    const double* g = G.data() + i * m;
    for (i64 k = 0; k < m; k++) s += g[k] * g[k];
    sv[static_cast<size_t>(i)] = std::sqrt(s);
  }
  std::vector<i64> order(static_cast<size_t>(n));
  for (i64 i = 0; i < n; i++) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](i64 x, i64 y) { return sv[static_cast<size_t>(x)] > sv[static_cast<size_t>(y)]; });
  sigma.assign(static_cast<size_t>(n), 0.0);
  Ucols.assign(static_cast<size_t>(n * m), 0.0);
  Vrows.assign(static_cast<size_t>(n * n), 0.0);
  const double tiny = (sv.empty() ? 0.0 : sv[static_cast<size_t>(order[0])]) * double(std::max(n, m)) * 1e-300;
  for (i64 j = 0; j < n; j++) {
    const i64 src = order[static_cast<size_t>(j)];
    sigma[static_cast<size_t>(j)] = sv[static_cast<size_t>(src)];
    std::copy(W.begin() + src * n, W.begin() + src * n + n, Vrows.begin() + j * n);
    double* u = Ucols.data() + j * m;
    const double* g = G.data() + src * m;
    if (sv[static_cast<size_t>(src)] > tiny && sv[static_cast<size_t>(src)] > 0) {
      for (i64 k = 0; k < m; k++) u[k] = g[k] / sv[static_cast<size_t>(src)];
    }
  }
  // Complete left vectors of zero singular values to an orthonormal set (Gram-Schmidt).
  i64 basis = 0;
  for (i64 j = 0; j < n; j++) {
    double* u = Ucols.data() + j * m;
    double nrm = 0;
    for (i64 k = 0; k < m; k++) nrm += u[k] * u[k];
    if (nrm > 0.5) continue;
    for (; basis < m; basis++) {
      for (i64 k = 0; k < m; k++) u[k] = k == basis ? 1.0 : 0.0;
      for (int pass = 0; pass < 2; pass++) {
        for (i64 o = 0; o < n; o++) {
          if (o == j) continue;
          const double* uo = Ucols.data() + o * m;
          double dot = 0, on = 0;
          for (i64 k = 0; k < m; k++) dot += uo[k] * u[k], on += uo[k] * uo[k];
          if (on < 0.5) continue;
          for (i64 k = 0; k < m; k++) u[k] -= dot * uo[k];
        }
      }
      nrm = 0;
      for (i64 k = 0; k < m; k++) nrm += u[k] * u[k];
      if (nrm > 1e-8) {
        const double inv = 1.0 / std::sqrt(nrm);
        for (i64 k = 0; k < m; k++) u[k] *= inv;
        basis++;
        break;
      }
    }
  }
}

void svd_builtin(const double* a, i64 m, i64 n, double* u, double* s, double* vt) {
  const i64 k = std::min(m, n);
  std::vector<double> G, sigma, Ucols, Vrows;
  if (m >= n) {
    // G = A^T [n, m]: rows are the columns of A
    G.resize(static_cast<size_t>(n * m));
    for (i64 i = 0; i < m; i++)
      for (i64 j = 0; j < n; j++) G[static_cast<size_t>(j * m + i)] = a[i * n + j];
    jacobi_svd(G, n, m, sigma, Ucols, Vrows);
    // A = U S V^T: u[:, j] = Ucols row j, vt row j = Vrows row j
    for (i64 j = 0; j < k; j++) {
      s[j] = sigma[static_cast<size_t>(j)];
      for (i64 i = 0; i < m; i++) u[i * k + j] = Ucols[static_cast<size_t>(j * m + i)];
      for (i64 i = 0; i < n; i++) vt[j * n + i] = Vrows[static_cast<size_t>(j * n + i)];
    }
  } else {
    // SVD of B = A^T [n, m] (tall); its columns are the rows of A, so G = A as is.
    G.assign(a, a + m * n);
    jacobi_svd(G, m, n, sigma, Ucols, Vrows);
    // A^T = Ub S Vb^T -> A = Vb S Ub^T: u = Vb (columns = Vrows rows), vt = Ub^T (rows = Ucols rows)
    for (i64 j = 0; j < k; j++) {
      s[j] = sigma[static_cast<size_t>(j)];
      for (i64 i = 0; i < m; i++) u[i * k + j] = Vrows[static_cast<size_t>(j * m + i)];
      for (i64 i = 0; i < n; i++) vt[j * n + i] = Ucols[static_cast<size_t>(j * n + i)];
    }
  }
}

// =====================================================================================
// LAPACK wrappers
// =====================================================================================
#if defined(LMEDIT_HAVE_LAPACK)
inline lapack_int_t to_li(i64 v, const char* what) {
  if (v < 0 || v > i64(std::numeric_limits<lapack_int_t>::max()))
    fail(std::string(what) + " is too large for 32-bit LAPACK");
  return lapack_int_t(v);
}

template <typename T> lapack_int_t potrf(char uplo, lapack_int_t n, T* a) {
  lapack_int_t info = 0;
  if constexpr (std::is_same_v<T, float>) spotrf_(&uplo, &n, a, &n, &info, 1);
  else dpotrf_(&uplo, &n, a, &n, &info, 1);
  return info;
}
template <typename T> lapack_int_t getrf(lapack_int_t n, T* a, lapack_int_t* ipiv) {
  lapack_int_t info = 0;
  if constexpr (std::is_same_v<T, float>) sgetrf_(&n, &n, a, &n, ipiv, &info);
  else dgetrf_(&n, &n, a, &n, ipiv, &info);
  return info;
}
template <typename T>
void trsm_rm(bool upper, bool trans, bool unit, lapack_int_t n, lapack_int_t nrhs, const T* A, T* B) {
  const CBLAS_UPLO ul = upper ? CblasUpper : CblasLower;
  const CBLAS_TRANSPOSE tr = trans ? CblasTrans : CblasNoTrans;
  const CBLAS_DIAG dg = unit ? CblasUnit : CblasNonUnit;
  if constexpr (std::is_same_v<T, float>)
    cblas_strsm(CblasRowMajor, CblasLeft, ul, tr, dg, n, nrhs, 1.0f, A, n, B, std::max<lapack_int_t>(nrhs, 1));
  else
    cblas_dtrsm(CblasRowMajor, CblasLeft, ul, tr, dg, n, nrhs, 1.0, A, n, B, std::max<lapack_int_t>(nrhs, 1));
}
#endif

template <typename T> std::vector<double> to_double(const T* a, i64 n) {
  std::vector<double> v(static_cast<size_t>(n));
  par_copy(a, v.data(), n);
  return v;
}

}  // namespace

// =====================================================================================
// Kernels
// =====================================================================================

template <typename T> void cholesky(const T* a, i64 n, T* out) {
  if (n <= 0) return;
#if defined(LMEDIT_HAVE_LAPACK)
  const lapack_int_t ln = to_li(n, "n");
  to_li(n * n, "n*n");
  par_copy(a, out, n * n);
  const lapack_int_t info = potrf<T>('U', ln, out);
  if (info > 0) not_spd(info);
  if (info < 0) lapack_error("potrf", info);
  zero_upper(out, n);
#else
  if constexpr (std::is_same_v<T, double>) {
    par_copy(a, out, n * n);
    cholesky_builtin(out, n);
    zero_upper(out, n);
  } else {
    std::vector<double> w = to_double(a, n * n);
    cholesky_builtin(w.data(), n);
    par_copy(w.data(), out, n * n);
    zero_upper(out, n);
  }
#endif
}

template <typename T> void solve_spd(const T* a, const T* b, i64 n, i64 nrhs, T* out) {
  if (n <= 0 || nrhs <= 0) return;
#if defined(LMEDIT_HAVE_LAPACK)
  const lapack_int_t ln = to_li(n, "n"), lr = to_li(nrhs, "nrhs");
  to_li(n * n, "n*n");
  std::vector<T> f(static_cast<size_t>(n * n));
  par_copy(a, f.data(), n * n);
  par_copy(b, out, n * nrhs);
  const lapack_int_t info = potrf<T>('U', ln, f.data());  // row-major lower L, A = L L^T
  if (info > 0) not_spd(info);
  if (info < 0) lapack_error("potrf", info);
  trsm_rm<T>(false, false, false, ln, lr, f.data(), out);  // L Y = B
  trsm_rm<T>(false, true, false, ln, lr, f.data(), out);   // L^T X = Y
#else
  std::vector<double> w = to_double(a, n * n);
  cholesky_builtin(w.data(), n);
  if constexpr (std::is_same_v<T, double>) {
    par_copy(b, out, n * nrhs);
    trsm_lower(n, nrhs, w.data(), false, out);
    trsm_lower_trans(n, nrhs, w.data(), out);
  } else {
    std::vector<double> x = to_double(b, n * nrhs);
    trsm_lower(n, nrhs, w.data(), false, x.data());
    trsm_lower_trans(n, nrhs, w.data(), x.data());
    par_copy(x.data(), out, n * nrhs);
  }
#endif
}

template <typename T> void solve(const T* a, const T* b, i64 n, i64 nrhs, T* out) {
  if (n <= 0 || nrhs <= 0) return;
#if defined(LMEDIT_HAVE_LAPACK)
  const lapack_int_t ln = to_li(n, "n"), lr = to_li(nrhs, "nrhs");
  to_li(n * n, "n*n");
  std::vector<T> f(static_cast<size_t>(n * n));
  par_copy(a, f.data(), n * n);
  par_copy(b, out, n * nrhs);
  std::vector<lapack_int_t> ipiv(static_cast<size_t>(n));
  const lapack_int_t info = getrf<T>(ln, f.data(), ipiv.data());  // A^T = P L U (column-major)
  if (info > 0) singular(info);
  if (info < 0) lapack_error("getrf", info);
  // A = U^T L^T P^T; row-major view of f: lower = U^T (non-unit), upper = L^T (unit).
  trsm_rm<T>(false, false, false, ln, lr, f.data(), out);  // U^T Z = B
  trsm_rm<T>(true, false, true, ln, lr, f.data(), out);    // L^T W = Z
  for (i64 i = n - 1; i >= 0; i--) {                       // X = P W
    const i64 p = i64(ipiv[static_cast<size_t>(i)]) - 1;
    if (p != i) std::swap_ranges(out + i * nrhs, out + i * nrhs + nrhs, out + p * nrhs);
  }
#else
  std::vector<double> w = to_double(a, n * n);
  std::vector<i64> piv;
  lu_builtin(w.data(), n, piv);
  if constexpr (std::is_same_v<T, double>) {
    par_copy(b, out, n * nrhs);
    lu_solve_builtin(w.data(), n, piv, out, nrhs);
  } else {
    std::vector<double> x = to_double(b, n * nrhs);
    lu_solve_builtin(w.data(), n, piv, x.data(), nrhs);
    par_copy(x.data(), out, n * nrhs);
  }
#endif
}

template <typename T> void inverse(const T* a, i64 n, T* out) {
  if (n <= 0) return;
#if defined(LMEDIT_HAVE_LAPACK)
  const lapack_int_t ln = to_li(n, "n");
  to_li(n * n, "n*n");
  par_copy(a, out, n * n);
  std::vector<lapack_int_t> ipiv(static_cast<size_t>(n));
  lapack_int_t info = getrf<T>(ln, out, ipiv.data());
  if (info > 0) singular(info);
  if (info < 0) lapack_error("getrf", info);
  T wq = 0;
  lapack_int_t lwork = -1;
  if constexpr (std::is_same_v<T, float>) sgetri_(&ln, out, &ln, ipiv.data(), &wq, &lwork, &info);
  else dgetri_(&ln, out, &ln, ipiv.data(), &wq, &lwork, &info);
  lwork = std::max<lapack_int_t>(lapack_int_t(wq), ln);
  std::vector<T> work(static_cast<size_t>(lwork));
  if constexpr (std::is_same_v<T, float>) sgetri_(&ln, out, &ln, ipiv.data(), work.data(), &lwork, &info);
  else dgetri_(&ln, out, &ln, ipiv.data(), work.data(), &lwork, &info);
  if (info > 0) singular(info);
  if (info < 0) lapack_error("getri", info);
#else
  std::vector<double> w = to_double(a, n * n);
  std::vector<i64> piv;
  lu_builtin(w.data(), n, piv);
  if constexpr (std::is_same_v<T, double>) {
    for (i64 i = 0; i < n * n; i++) out[i] = 0.0;
    for (i64 i = 0; i < n; i++) out[i * n + i] = 1.0;
    lu_solve_builtin(w.data(), n, piv, out, n);
  } else {
    std::vector<double> x(static_cast<size_t>(n * n), 0.0);
    for (i64 i = 0; i < n; i++) x[static_cast<size_t>(i * n + i)] = 1.0;
    lu_solve_builtin(w.data(), n, piv, x.data(), n);
    par_copy(x.data(), out, n * n);
  }
#endif
}

template <typename T> void eigh(const T* a, i64 n, T* values, T* vectors) {
  if (n <= 0) return;
#if defined(LMEDIT_HAVE_LAPACK)
  const lapack_int_t ln = to_li(n, "n");
  to_li(n * n, "n*n");
  const char jobz = 'V', uplo = 'U';
  lapack_int_t info = 0;
  // syevd needs 1 + 6n + 2n^2 workspace; beyond 1 GiB of it use syevr (26n) instead.
  const bool use_evd = double(n) * double(n) * 2.0 * sizeof(T) <= double(1u << 30);
  if (use_evd) {
    par_copy(a, vectors, n * n);
    T wq = 0;
    lapack_int_t iwq = 0, lwork = -1, liwork = -1;
    if constexpr (std::is_same_v<T, float>)
      ssyevd_(&jobz, &uplo, &ln, vectors, &ln, values, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
    else
      dsyevd_(&jobz, &uplo, &ln, vectors, &ln, values, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
    lwork = lapack_int_t(wq);
    liwork = iwq;
    std::vector<T> work(static_cast<size_t>(std::max<lapack_int_t>(lwork, 1)));
    std::vector<lapack_int_t> iwork(static_cast<size_t>(std::max<lapack_int_t>(liwork, 1)));
    if constexpr (std::is_same_v<T, float>)
      ssyevd_(&jobz, &uplo, &ln, vectors, &ln, values, work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
    else
      dsyevd_(&jobz, &uplo, &ln, vectors, &ln, values, work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
    if (info != 0) lapack_error("syevd", info);
  } else {
    std::vector<T> f(static_cast<size_t>(n * n));
    par_copy(a, f.data(), n * n);
    const char range = 'A';
    const T vl = 0, vu = 0, abstol = 0;
    const lapack_int_t il = 0, iu = 0;
    lapack_int_t mfound = 0;
    std::vector<lapack_int_t> isuppz(static_cast<size_t>(2 * n));
    T wq = 0;
    lapack_int_t iwq = 0, lwork = -1, liwork = -1;
    auto call = [&](T* work, lapack_int_t* iwork) {
      if constexpr (std::is_same_v<T, float>)
        ssyevr_(&jobz, &range, &uplo, &ln, f.data(), &ln, &vl, &vu, &il, &iu, &abstol, &mfound, values, vectors, &ln,
                isuppz.data(), work, &lwork, iwork, &liwork, &info, 1, 1, 1);
      else
        dsyevr_(&jobz, &range, &uplo, &ln, f.data(), &ln, &vl, &vu, &il, &iu, &abstol, &mfound, values, vectors, &ln,
                isuppz.data(), work, &lwork, iwork, &liwork, &info, 1, 1, 1);
    };
    call(&wq, &iwq);
    lwork = lapack_int_t(wq);
    liwork = iwq;
    std::vector<T> work(static_cast<size_t>(std::max<lapack_int_t>(lwork, 1)));
    std::vector<lapack_int_t> iwork(static_cast<size_t>(std::max<lapack_int_t>(liwork, 1)));
    call(work.data(), iwork.data());
    if (info != 0) lapack_error("syevr", info);
  }
  transpose_square(vectors, n);  // column-major eigenvectors -> columns of the row-major array
#else
  if constexpr (std::is_same_v<T, double>) {
    eigh_builtin(a, n, values, vectors);
  } else {
    std::vector<double> w = to_double(a, n * n), vals(static_cast<size_t>(n)), vecs(static_cast<size_t>(n * n));
    eigh_builtin(w.data(), n, vals.data(), vecs.data());
    par_copy(vals.data(), values, n);
    par_copy(vecs.data(), vectors, n * n);
  }
#endif
}

template <typename T> void svd(const T* a, i64 m, i64 n, T* u, T* s, T* vt) {
  const i64 k = std::min(m, n);
  if (k <= 0) return;
#if defined(LMEDIT_HAVE_LAPACK)
  // Column-major view: A^T is n x m with lda = n.
  const lapack_int_t lm_ = to_li(n, "n"), ln_ = to_li(m, "m"), lk = to_li(k, "min(m, n)");
  to_li(m * n, "m*n");
  std::vector<T> f(static_cast<size_t>(m * n));
  par_copy(a, f.data(), m * n);
  lapack_int_t info = 0, lwork = -1;
  T wq = 0;
  const char jobz = 'S';
  std::vector<lapack_int_t> iwork(static_cast<size_t>(8 * k));
  // U of A^T (n x k, ld n) -> vt; VT of A^T (k x m, ld k) -> u.
  if constexpr (std::is_same_v<T, float>)
    sgesdd_(&jobz, &lm_, &ln_, f.data(), &lm_, s, vt, &lm_, u, &lk, &wq, &lwork, iwork.data(), &info, 1);
  else
    dgesdd_(&jobz, &lm_, &ln_, f.data(), &lm_, s, vt, &lm_, u, &lk, &wq, &lwork, iwork.data(), &info, 1);
  lwork = lapack_int_t(std::min<double>(double(wq), double(std::numeric_limits<lapack_int_t>::max())));
  std::vector<T> work(static_cast<size_t>(std::max<lapack_int_t>(lwork, 1)));
  if constexpr (std::is_same_v<T, float>)
    sgesdd_(&jobz, &lm_, &ln_, f.data(), &lm_, s, vt, &lm_, u, &lk, work.data(), &lwork, iwork.data(), &info, 1);
  else
    dgesdd_(&jobz, &lm_, &ln_, f.data(), &lm_, s, vt, &lm_, u, &lk, work.data(), &lwork, iwork.data(), &info, 1);
  if (info > 0) fail("svd did not converge (LAPACK gesdd info=" + std::to_string(info) + ")");
  if (info < 0) lapack_error("gesdd", info);
#else
  if constexpr (std::is_same_v<T, double>) {
    svd_builtin(a, m, n, u, s, vt);
  } else {
    std::vector<double> w = to_double(a, m * n), uu(static_cast<size_t>(m * k)), ss(static_cast<size_t>(k)), vv(static_cast<size_t>(k * n));
    svd_builtin(w.data(), m, n, uu.data(), ss.data(), vv.data());
    par_copy(uu.data(), u, m * k);
    par_copy(ss.data(), s, k);
    par_copy(vv.data(), vt, k * n);
  }
#endif
}

template void cholesky<float>(const float*, i64, float*);
template void cholesky<double>(const double*, i64, double*);
template void solve_spd<float>(const float*, const float*, i64, i64, float*);
template void solve_spd<double>(const double*, const double*, i64, i64, double*);
template void solve<float>(const float*, const float*, i64, i64, float*);
template void solve<double>(const double*, const double*, i64, i64, double*);
template void inverse<float>(const float*, i64, float*);
template void inverse<double>(const double*, i64, double*);
template void eigh<float>(const float*, i64, float*, float*);
template void eigh<double>(const double*, i64, double*, double*);
template void svd<float>(const float*, i64, i64, float*, float*, float*);
template void svd<double>(const double*, i64, i64, double*, double*, double*);

}  // namespace lm
