// A persistent pool of worker threads for data-parallel loops (quantizing, matmul rows, attention heads).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mlx {

class ThreadPool {
 public:
  // The process-wide pool; its size defaults to the number of online CPUs (MLX_NUM_THREADS overrides).
  static ThreadPool& global();

  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void set_num_threads(int n);  // not while a parallel_for is running
  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end) on disjoint contiguous slices covering [0, n), one slice per thread (the caller runs
  // slice 0). Returns when all slices are done; the first exception thrown by a slice is rethrown here.
  // Nested calls from inside a slice run serially on the calling thread.
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

 private:
  void start_workers(int count);
  void stop_workers();
  void worker_loop(int index, uint64_t seen_generation);

  int num_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::mutex run_mutex_;  // one parallel_for at a time
};

// Convenience: ThreadPool::global().parallel_for(n, fn).
inline void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  ThreadPool::global().parallel_for(n, fn);
}

}  // namespace mlx
