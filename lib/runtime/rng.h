// The sampler's random source: deterministic for a given --seed, fresh entropy otherwise.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>

namespace mlx::runtime {

class Rng {
 public:
  // A seeded generator gives the same draws on every run; nullopt seeds from std::random_device.
  explicit Rng(std::optional<uint64_t> seed = std::nullopt) { reseed(seed); }

  void reseed(std::optional<uint64_t> seed) {
    engine_.seed(seed ? *seed : (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}());
  }

  // Uniform in [0, 1).
  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); }

  // A standard Gumbel draw, -log(-log(u)) with u in (0, 1): argmax(logits + gumbel) samples softmax(logits),
  // which is how MLX's categorical works.
  double gumbel() {
    double u;
    do u = uniform();
    while (u <= 0.0);
    return -std::log(-std::log(u));
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace mlx::runtime
