// Persistent thread pool (see threadpool.h).
#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LM_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LM_PAUSE() asm volatile("yield")
#else
#define LM_PAUSE() ((void)0)
#endif

#include "blas.h"

namespace lm {
namespace {

thread_local bool tl_in_region = false;

struct Job {
  const std::function<void(int64_t)>* fn = nullptr;
  int64_t nchunks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex err_mu;
  std::exception_ptr err;

  void run_chunks() {
    for (;;) {
      int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= nchunks) break;
      try {
        (*fn)(c);
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_mu);
        if (!err) err = std::current_exception();
      }
      done.fetch_add(1, std::memory_order_release);
    }
  }
};

int detect_threads() {
  if (const char* env = std::getenv("LMEDIT_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && v >= 1) return int(std::min<long>(v, 1024));
  }
  int n = 0;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n <= 0) n = int(std::thread::hardware_concurrency());
  return std::max(1, n);
}

class Pool {
 public:
  explicit Pool(int n) : nthreads_(n) {
    for (int i = 1; i < n; i++) workers_.emplace_back([this] { worker_loop(); });
  }

  int size() const { return nthreads_; }

  void run(int64_t nchunks, const std::function<void(int64_t)>& fn) {
    if (nchunks <= 0) return;
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (nchunks == 1 || nthreads_ == 1 || tl_in_region || !busy.owns_lock()) {
      run_serial(nchunks, fn);
      return;
    }
    // The job lives on the heap, shared with the workers: a worker that wakes late (another
    // process holds its core) finds no chunk left and drops its reference whenever it runs, so
    // the caller never waits for a descheduled thread that has no work.
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->nchunks = nchunks;
    {
      std::lock_guard<std::mutex> lk(mu_);
      current_ = job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    tl_in_region = true;
    job->run_chunks();
    tl_in_region = false;
    // Wait for chunks other threads took.
    for (int spins = 0; job->done.load(std::memory_order_acquire) < nchunks; spins++) {
      if (spins < 4096) LM_PAUSE();
      else std::this_thread::yield();
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      current_.reset();
    }
    if (job->err) std::rethrow_exception(job->err);
  }

 private:
  static void run_serial(int64_t nchunks, const std::function<void(int64_t)>& fn) {
    bool was = tl_in_region;
    tl_in_region = true;
    try {
      for (int64_t c = 0; c < nchunks; c++) fn(c);
    } catch (...) {
      tl_in_region = was;
      throw;
    }
    tl_in_region = was;
  }

  void worker_loop() {
    tl_in_region = true;
    uint64_t seen = generation_.load(std::memory_order_acquire);
    for (;;) {
      // Spin briefly (kernels often come in quick succession), then sleep.
      bool got = false;
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0;; i++) {
        if (generation_.load(std::memory_order_acquire) != seen) {
          got = true;
          break;
        }
        LM_PAUSE();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() - t0 > std::chrono::microseconds(200)) break;
      }
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        if (!got) cv_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        seen = generation_.load(std::memory_order_acquire);
        job = current_;
      }
      // fn points into the caller's frame: only call it for a chunk claimed before the caller
      // saw every chunk done (run_chunks claims by an atomic counter, so a late worker claims none)
      if (job) job->run_chunks();
    }
  }

  int nthreads_;
  std::vector<std::thread> workers_;
  std::mutex busy_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::shared_ptr<Job> current_;
};

Pool& pool() {
  // Leaked on purpose: worker threads must outlive every Node environment that loads the addon.
  static Pool* p = [] {
    int n = detect_threads();
    blas_set_threads(n);
    return new Pool(n);
  }();
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

bool in_parallel_region() { return tl_in_region; }

void parallel_chunks(int64_t nchunks, const std::function<void(int64_t)>& fn) { pool().run(nchunks, fn); }

int64_t parallel_for_chunks(int64_t n, int64_t grain, int64_t max_chunks) {
  if (n <= 0) return 0;
  if (grain < 1) grain = 1;
  int64_t limit = max_chunks > 0 ? max_chunks : num_threads();
  if (tl_in_region) limit = 1;
  int64_t c = std::min<int64_t>(limit, (n + grain - 1) / grain);
  return std::max<int64_t>(c, 1);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn, int64_t max_chunks) {
  int64_t c = parallel_for_chunks(n, grain, max_chunks);
  if (c == 0) return;
  if (c == 1) {
    fn(0, n);
    return;
  }
  parallel_chunks(c, [&](int64_t i) {
    int64_t b = n * i / c, e = n * (i + 1) / c;
    if (b < e) fn(b, e);
  });
}

}  // namespace lm
