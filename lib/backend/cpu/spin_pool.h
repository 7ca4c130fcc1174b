// A low-latency worker pool for the decode kernels: workers spin (yielding) for a short while after each job so
// that the next matvec, typically microseconds away, starts without a futex wake-up, then sleep.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mlx::cpu {

class SpinPool {
 public:
  // The process-wide pool; it follows mlx::ThreadPool::global().num_threads() (the --threads setting).
  static SpinPool& global();
  ~SpinPool();

  // fn(begin, end) on contiguous slices of [0, n), one per thread, the caller running slice 0; returns when all
  // are done and rethrows the first exception. Nested or concurrent calls run serially on the calling thread.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

  // Pins the thread count (tests, benchmarks); 0 = follow mlx::ThreadPool::global() again.
  void set_num_threads(int n) { pinned_.store(n); }

 private:
  void resize(int threads);
  void worker(int index, uint64_t seen);

  int threads_ = 1;
  std::atomic<int> pinned_{0};
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace mlx::cpu
