// Runtime CPU feature dispatch for the kernels, with the MLX_CPU_ISA override tests use.
#include <atomic>
#include <cstdlib>
#include <string_view>

#include "core/cpu_features.h"
#include "backend/cpu/kernels.h"

namespace mlx::cpu::detail {

namespace {
Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && mlx::cpu_supports_f16c())
    return Isa::Avx2;
  return Isa::Scalar;
}

Isa cap(Isa wanted) {
  static const Isa hw = detect();
  return static_cast<int>(wanted) < static_cast<int>(hw) ? wanted : hw;
}

Isa from_env() {
  const char* env = std::getenv("MLX_CPU_ISA");
  if (env == nullptr) return cap(Isa::Avx512);
  std::string_view v(env);
  if (v == "scalar") return Isa::Scalar;
  if (v == "avx2") return cap(Isa::Avx2);
  return cap(Isa::Avx512);
}

std::atomic<int>& current() {
  static std::atomic<int> isa{static_cast<int>(from_env())};
  return isa;
}
}  // namespace

Isa active_isa() { return static_cast<Isa>(current().load(std::memory_order_relaxed)); }

Isa set_isa(Isa isa) { return static_cast<Isa>(current().exchange(static_cast<int>(cap(isa)))); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

}  // namespace mlx::cpu::detail
