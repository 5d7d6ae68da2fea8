// BLAS / LAPACK declarations. LMEDIT_HAVE_CBLAS / LMEDIT_HAVE_LAPACK are defined by
// binding.gyp when scripts/detect-blas.mjs found OpenBLAS (or Accelerate on macOS).
// LAPACK is declared here with the Fortran ABI (Debian ships no lapacke.h): 32-bit integers,
// trailing hidden string lengths.
#pragma once

#include <cstddef>
#include <string>

#if defined(LMEDIT_HAVE_CBLAS)
#if defined(LMEDIT_ACCELERATE)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif
#endif

#if defined(LMEDIT_HAVE_LAPACK)
typedef int lapack_int_t;
extern "C" {
void spotrf_(const char* uplo, const lapack_int_t* n, float* a, const lapack_int_t* lda, lapack_int_t* info, size_t);
void dpotrf_(const char* uplo, const lapack_int_t* n, double* a, const lapack_int_t* lda, lapack_int_t* info, size_t);
void sgetrf_(const lapack_int_t* m, const lapack_int_t* n, float* a, const lapack_int_t* lda, lapack_int_t* ipiv,
             lapack_int_t* info);
void dgetrf_(const lapack_int_t* m, const lapack_int_t* n, double* a, const lapack_int_t* lda, lapack_int_t* ipiv,
             lapack_int_t* info);
void sgetrs_(const char* trans, const lapack_int_t* n, const lapack_int_t* nrhs, const float* a, const lapack_int_t* lda,
             const lapack_int_t* ipiv, float* b, const lapack_int_t* ldb, lapack_int_t* info, size_t);
void dgetrs_(const char* trans, const lapack_int_t* n, const lapack_int_t* nrhs, const double* a,
             const lapack_int_t* lda, const lapack_int_t* ipiv, double* b, const lapack_int_t* ldb, lapack_int_t* info,
             size_t);
void sgetri_(const lapack_int_t* n, float* a, const lapack_int_t* lda, const lapack_int_t* ipiv, float* work,
             const lapack_int_t* lwork, lapack_int_t* info);
void dgetri_(const lapack_int_t* n, double* a, const lapack_int_t* lda, const lapack_int_t* ipiv, double* work,
             const lapack_int_t* lwork, lapack_int_t* info);
void ssyevd_(const char* jobz, const char* uplo, const lapack_int_t* n, float* a, const lapack_int_t* lda, float* w,
             float* work, const lapack_int_t* lwork, lapack_int_t* iwork, const lapack_int_t* liwork,
             lapack_int_t* info, size_t, size_t);
void dsyevd_(const char* jobz, const char* uplo, const lapack_int_t* n, double* a, const lapack_int_t* lda, double* w,
             double* work, const lapack_int_t* lwork, lapack_int_t* iwork, const lapack_int_t* liwork,
             lapack_int_t* info, size_t, size_t);
void ssyevr_(const char* jobz, const char* range, const char* uplo, const lapack_int_t* n, float* a,
             const lapack_int_t* lda, const float* vl, const float* vu, const lapack_int_t* il, const lapack_int_t* iu,
             const float* abstol, lapack_int_t* m, float* w, float* z, const lapack_int_t* ldz, lapack_int_t* isuppz,
             float* work, const lapack_int_t* lwork, lapack_int_t* iwork, const lapack_int_t* liwork,
             lapack_int_t* info, size_t, size_t, size_t);
void dsyevr_(const char* jobz, const char* range, const char* uplo, const lapack_int_t* n, double* a,
             const lapack_int_t* lda, const double* vl, const double* vu, const lapack_int_t* il,
             const lapack_int_t* iu, const double* abstol, lapack_int_t* m, double* w, double* z,
             const lapack_int_t* ldz, lapack_int_t* isuppz, double* work, const lapack_int_t* lwork,
             lapack_int_t* iwork, const lapack_int_t* liwork, lapack_int_t* info, size_t, size_t, size_t);
void sgesdd_(const char* jobz, const lapack_int_t* m, const lapack_int_t* n, float* a, const lapack_int_t* lda, float* s,
             float* u, const lapack_int_t* ldu, float* vt, const lapack_int_t* ldvt, float* work,
             const lapack_int_t* lwork, lapack_int_t* iwork, lapack_int_t* info, size_t);
void dgesdd_(const char* jobz, const lapack_int_t* m, const lapack_int_t* n, double* a, const lapack_int_t* lda,
             double* s, double* u, const lapack_int_t* ldu, double* vt, const lapack_int_t* ldvt, double* work,
             const lapack_int_t* lwork, lapack_int_t* iwork, lapack_int_t* info, size_t);
void sgesvd_(const char* jobu, const char* jobvt, const lapack_int_t* m, const lapack_int_t* n, float* a,
             const lapack_int_t* lda, float* s, float* u, const lapack_int_t* ldu, float* vt, const lapack_int_t* ldvt,
             float* work, const lapack_int_t* lwork, lapack_int_t* info, size_t, size_t);
void dgesvd_(const char* jobu, const char* jobvt, const lapack_int_t* m, const lapack_int_t* n, double* a,
             const lapack_int_t* lda, double* s, double* u, const lapack_int_t* ldu, double* vt,
             const lapack_int_t* ldvt, double* work, const lapack_int_t* lwork, lapack_int_t* info, size_t, size_t);
}
#endif

#if defined(LMEDIT_OPENBLAS)
extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
}
#endif

namespace lm {

/** Sets the BLAS library's thread count where it has one (OpenBLAS). */
inline void blas_set_threads(int n) {
#if defined(LMEDIT_OPENBLAS)
  openblas_set_num_threads(n);
#else
  (void)n;
#endif
}

/** e.g. "OpenBLAS 0.3.21 (OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64)". */
inline std::string blas_description() {
#if defined(LMEDIT_OPENBLAS)
  std::string cfg = openblas_get_config();
  std::string version = "OpenBLAS";
  if (cfg.rfind("OpenBLAS ", 0) == 0) {
    size_t end = cfg.find(' ', 9);
    version = cfg.substr(0, end == std::string::npos ? cfg.size() : end);
  }
  return version + " (" + cfg + ")";
#elif defined(LMEDIT_ACCELERATE)
  return "Accelerate (cblas)";
#elif defined(LMEDIT_HAVE_CBLAS)
  return "CBLAS";
#else
  return "built-in kernels";
#endif
}

inline std::string lapack_description() {
#if defined(LMEDIT_HAVE_LAPACK) && defined(LMEDIT_OPENBLAS)
  return "LAPACK (OpenBLAS)";
#elif defined(LMEDIT_HAVE_LAPACK) && defined(LMEDIT_ACCELERATE)
  return "LAPACK (Accelerate)";
#elif defined(LMEDIT_HAVE_LAPACK)
  return "LAPACK";
#else
  return "built-in";
#endif
}

}  // namespace lm
