// A small persistent thread pool. The calling thread takes part in the work; the pool has
// (threads - 1) workers. Thread count = CPUs available to the process, overridable with the
// LMEDIT_THREADS environment variable (read once, at first use). When OpenBLAS is linked its
// thread count is set to the same number so the two pools never run more threads than cores
// (they never run at the same time: BLAS calls are made outside parallel regions).
//
// Calls made while the pool is busy (from inside a parallel region, or from a second JS thread)
// run serially in the caller, so kernels can nest freely.
#pragma once

#include <cstdint>
#include <functional>

namespace lm {

/** Number of threads kernels use (>= 1). */
int num_threads();

/**
 * Runs fn(chunk) for chunk in [0, nchunks) on the pool and the calling thread; returns when all
 * are done. The first exception thrown by a chunk is rethrown here (other chunks still run).
 */
void parallel_chunks(int64_t nchunks, const std::function<void(int64_t)>& fn);

/**
 * Splits [0, n) into contiguous ranges of at least `grain` elements (at most one range per
 * thread, or `max_chunks` when given) and runs fn(begin, end) on each. Runs inline when there is
 * only one range. The split depends only on n, grain and the thread count, so per-chunk partial
 * results combined in chunk order are deterministic.
 */
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn,
                  int64_t max_chunks = 0);

/** Number of chunks parallel_for(n, grain, ...) would use. */
int64_t parallel_for_chunks(int64_t n, int64_t grain, int64_t max_chunks = 0);

/** True while the current thread runs inside a parallel region. */
bool in_parallel_region();

}  // namespace lm
