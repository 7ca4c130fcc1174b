#include "backend/cpu/spin_pool.h"

#include <immintrin.h>
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "core/thread_pool.h"

namespace mlx::cpu {

namespace {
thread_local bool tls_in_worker = false;

// Spinning only pays on cores we have to ourselves: on an oversubscribed machine a polling worker loses the
// scheduler's wake-up preference and every job waits for a time slice (measured: 10-35 us per round trip
// for the sleeping core pool vs 180-400 us spinning at load 20 on 2 cores). So workers spin only while the
// 1-minute load average stays within the core count, re-read at most once a second by the dispatching thread.
std::atomic<bool> g_spin_ok{true};

void refresh_load() {
  using Clock = std::chrono::steady_clock;
  static std::atomic<int64_t> next_check{0};
  const int64_t now = Clock::now().time_since_epoch().count();
  if (now < next_check.load(std::memory_order_relaxed)) return;
  next_check.store(now + std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)).count());
  double load = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  const unsigned cores = std::thread::hardware_concurrency();
  // Our own threads count in the load (a polling worker is runnable): a fully busy machine of just us reads ~cores.
  g_spin_ok.store(cores == 0 || load < double(cores) + 0.5, std::memory_order_relaxed);
}

// How long an idle worker keeps polling before it sleeps (MLX_SPIN_US overrides; 0 = always sleep).
std::chrono::microseconds spin_budget() {
  static const long us = [] {
    const char* env = std::getenv("MLX_SPIN_US");
    return env ? std::atol(env) : 300L;
  }();
  return std::chrono::microseconds(g_spin_ok.load(std::memory_order_relaxed) ? us : 0);
}

void slice(int64_t n, int t, int i, int64_t& begin, int64_t& end) {
  const int64_t base = n / t, extra = n % t;
  begin = i * base + (i < extra ? i : extra);
  end = begin + base + (i < extra ? 1 : 0);
}
}  // namespace

SpinPool& SpinPool::global() {
  static SpinPool pool;
  return pool;
}

SpinPool::~SpinPool() { resize(1); }

void SpinPool::resize(int threads) {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  stop_.store(false);
  threads_ = threads < 1 ? 1 : threads;
  const uint64_t now = generation_.load();  // workers wait for the generation after this one
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i, now] { worker(i, now); });
}

void SpinPool::worker(int index, uint64_t seen) {
  tls_in_worker = true;
  for (;;) {
    // Poll for the next job, yielding the core to anything else runnable; sleep once the budget is spent.
    const auto start = std::chrono::steady_clock::now();
    uint64_t g;
    for (;;) {
      for (int i = 0; i < 64; ++i) {
        g = generation_.load(std::memory_order_acquire);
        if (g != seen) break;
        _mm_pause();
      }
      if (g != seen) break;
      if (std::chrono::steady_clock::now() - start > spin_budget()) {
        generation_.wait(seen, std::memory_order_acquire);
        g = generation_.load(std::memory_order_acquire);
        if (g != seen) break;
      } else {
        sched_yield();
      }
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    int64_t b, e;
    slice(job_n_, threads_, index, b, e);
    try {
      if (b < e) (*job_)(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_all();
  }
}

void SpinPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  std::unique_lock<std::mutex> run(run_mutex_, std::try_to_lock);
  if (tls_in_worker || !run.owns_lock()) return fn(0, n);
  const int pinned = pinned_.load(std::memory_order_relaxed);
  const int want = pinned > 0 ? pinned : ThreadPool::global().num_threads();
  if (want != threads_) resize(want);
  if (threads_ == 1 || n == 1) return fn(0, n);
  refresh_load();
  job_ = &fn;
  job_n_ = n;
  error_ = nullptr;
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  int64_t b, e;
  slice(n, threads_, 0, b, e);
  std::exception_ptr mine;
  try {
    fn(b, e);
  } catch (...) {
    mine = std::current_exception();
  }
  // Poll briefly (when the cores are ours), then sleep until the last worker's notify.
  const int polls = g_spin_ok.load(std::memory_order_relaxed) ? 1 << 15 : 0;
  for (int i = 0; i < polls && pending_.load(std::memory_order_acquire) != 0; ++i) _mm_pause();
  for (int p; (p = pending_.load(std::memory_order_acquire)) != 0;) pending_.wait(p, std::memory_order_acquire);
  if (mine) std::rethrow_exception(mine);
  if (error_) std::rethrow_exception(error_);
}

}  // namespace mlx::cpu
