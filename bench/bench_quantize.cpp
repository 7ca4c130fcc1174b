// Affine quantization throughput (4-bit, group 64, bf16 source, GPU rounding) per thread count and kernel,
// printed next to the memory bandwidth a memcpy loop reaches in the same process (the physical limit).
//
//   bench_quantize [--rows R] [--cols C] [--reps N]      default: 8192 x 4096 (64 MiB of bf16)
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "quant/affine.h"
#include "quant/affine_kernels.h"
#include "quant/spec.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds used by the whole process (all threads): on a machine shared with other jobs, source bytes per
// CPU-second shows what the kernel does when it gets a core, independent of how often it got one.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Best of `reps` runs (least disturbed by other processes on a shared machine).
template <typename F>
double best_time(int reps, F&& f) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

// memcpy bandwidth with `threads` threads, each copying its slice: bytes copied per second (each byte is read once
// and written once, so the memory traffic is twice this).
double memcpy_gbs(std::vector<char>& src, std::vector<char>& dst, int threads, int reps) {
  mlx::ThreadPool::global().set_num_threads(threads);
  const int64_t n = static_cast<int64_t>(src.size());
  const double t = best_time(reps, [&] {
    mlx::parallel_for(threads, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t lo = n * i / threads, hi = n * (i + 1) / threads;
        std::memcpy(dst.data() + lo, src.data() + lo, hi - lo);
      }
    });
  });
  return static_cast<double>(n) / t / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 8192, cols = 4096;
  int reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--rows") rows = std::atoll(argv[i + 1]);
    else if (a == "--cols") cols = std::atoll(argv[i + 1]);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
  }
  const int bits = 4, group = 64;
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  std::vector<uint16_t> w(rows * cols);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (auto& x : w) x = mlx::f32_to_bf16(normal(rng));
  std::vector<uint32_t> packed(rows * mlx::quant::packed_cols(cols, bits));
  std::vector<uint16_t> scales(rows * mlx::quant::groups(cols, group)), biases(scales.size());
  const double src_bytes = static_cast<double>(w.size() * sizeof(uint16_t));
  const double out_bytes = static_cast<double>(packed.size() * 4 + scales.size() * 4);

  std::vector<char> a(256ull << 20, 1), b(256ull << 20, 2);  // larger than any cache

  std::printf("affine quantize, %d-bit g%d, bf16 source %lld x %lld (%.0f MiB in, %.0f MiB out), GPU rounding, "
              "best of %d\n", bits, group, static_cast<long long>(rows), static_cast<long long>(cols),
              src_bytes / (1 << 20), out_bytes / (1 << 20), reps);
  std::printf("machine: %d hardware threads; best kernel %s\n\n", hw,
              mlx::quant::detail::isa_name(mlx::quant::detail::best_isa()));
  std::printf("%8s  %8s  %14s  %14s  %16s  %10s  %18s\n", "threads", "kernel", "source GB/s", "traffic GB/s",
              "memcpy GB/s", "traffic/cp", "src GB/CPU-second");

  std::vector<int> counts;
  for (int t = 1; t < hw; t *= 2) counts.push_back(t);
  counts.push_back(hw);
  using mlx::quant::detail::Isa;
  for (int t : counts) {
    // memcpy traffic = 2 x bytes copied; quantize traffic = source read + packed/scales/biases written.
    const double cp = memcpy_gbs(a, b, t, reps);
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
      if (static_cast<int>(isa) > static_cast<int>(mlx::quant::detail::best_isa())) continue;
      mlx::quant::detail::force_isa(isa);
      mlx::ThreadPool::global().set_num_threads(t);
      const double cpu0 = process_cpu_seconds();
      const double secs = best_time(reps, [&] {
        mlx::quant::affine_quantize(w.data(), mlx::DType::BF16, rows, cols, bits, group, mlx::quant::Rounding::Gpu,
                                    packed.data(), scales.data(), biases.data());
      });
      const double cpu = (process_cpu_seconds() - cpu0) / reps;
      const double src_gbs = src_bytes / secs / 1e9;
      const double traffic = (src_bytes + out_bytes) / secs / 1e9;
      std::printf("%8d  %8s  %14.2f  %14.2f  %16.2f  %9.0f%%  %18.2f\n", t, mlx::quant::detail::isa_name(isa),
                  src_gbs, traffic, 2 * cp, 100.0 * traffic / (2 * cp), src_bytes / cpu / 1e9);
    }
  }
  std::printf("\nmemcpy GB/s counts read + write traffic (2 x bytes copied); traffic/cp = quantize traffic as a share "
              "of it.\n");
  return 0;
}
