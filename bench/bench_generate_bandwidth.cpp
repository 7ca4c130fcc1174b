// Memory bandwidth with N threads, the physical limit of decode speed: a STREAM-style copy (bytes read + written)
// and a read-only sum over 1 GiB, best of several runs. Prints "copy_gbs=X read_gbs=Y".
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  int threads = 2;
  size_t mib = 512;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--threads") threads = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--mib") mib = size_t(std::atoll(argv[i + 1]));
  }
  const size_t n = mib * 1024 * 1024 / sizeof(double);
  std::vector<double> a(n, 1.0), b(n, 2.0);
  auto run = [&](auto&& body) {
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          size_t lo = n * size_t(t) / size_t(threads), hi = n * size_t(t + 1) / size_t(threads);
          body(lo, hi);
        });
      for (auto& th : pool) th.join();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  double copy_s = run([&](size_t lo, size_t hi) { std::memcpy(b.data() + lo, a.data() + lo, (hi - lo) * sizeof(double)); });
  std::vector<double> sums(size_t(threads) * 8, 0.0);
  double read_s = run([&](size_t lo, size_t hi) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = lo; i + 3 < hi; i += 4) {
      s0 += a[i];
      s1 += a[i + 1];
      s2 += a[i + 2];
      s3 += a[i + 3];
    }
    sums[(lo * size_t(threads) / n) * 8] = s0 + s1 + s2 + s3;
  });
  const double bytes = double(n) * sizeof(double);
  std::printf("threads=%d copy_gbs=%.1f read_gbs=%.1f (checksum %.0f)\n", threads, 2 * bytes / copy_s / 1e9,
              bytes / read_s / 1e9, sums[0]);
  return 0;
}
