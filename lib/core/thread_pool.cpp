#include "core/thread_pool.h"

#include <cstdlib>
#include <string>

namespace mlx {

namespace {
thread_local bool tls_inside_pool = false;

int default_threads() {
  if (const char* env = std::getenv("MLX_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : int(hw);
}

// Slice i of n items over t threads: contiguous, sizes differ by at most one.
void slice(int64_t n, int t, int i, int64_t& begin, int64_t& end) {
  int64_t base = n / t, extra = n % t;
  begin = i * base + std::min<int64_t>(i, extra);
  end = begin + base + (i < extra ? 1 : 0);
}
}  // namespace

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(default_threads());
  return pool;
}

ThreadPool::ThreadPool(int n) { set_num_threads(n); }

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::set_num_threads(int n) {
  std::lock_guard<std::mutex> run(run_mutex_);
  if (n < 1) n = 1;
  stop_workers();
  num_threads_ = n;
  start_workers(n - 1);
}

void ThreadPool::start_workers(int count) {
  stopping_ = false;
  // New workers start at the current generation: they must not pick up a job that ran before they existed.
  uint64_t current = generation_;
  for (int i = 0; i < count; ++i) workers_.emplace_back([this, i, current] { worker_loop(i + 1, current); });
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void ThreadPool::worker_loop(int index, uint64_t seen) {
  tls_inside_pool = true;
  for (;;) {
    const std::function<void(int64_t, int64_t)>* job;
    int64_t n;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      job = job_;
      n = job_n_;
    }
    int64_t b, e;
    slice(n, num_threads_, index, b, e);
    try {
      if (b < e) (*job)(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (num_threads_ == 1 || n == 1 || tls_inside_pool) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> run(run_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    pending_ = int(workers_.size());
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  int64_t b, e;
  slice(n, num_threads_, 0, b, e);
  std::exception_ptr own;
  tls_inside_pool = true;
  try {
    if (b < e) fn(b, e);
  } catch (...) {
    own = std::current_exception();
  }
  tls_inside_pool = false;
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
  if (own) std::rethrow_exception(own);
  if (error_) std::rethrow_exception(error_);
}

}  // namespace mlx
