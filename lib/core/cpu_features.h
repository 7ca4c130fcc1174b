// CPU feature queries that both GCC and clang can answer (clang 14's __builtin_cpu_supports lacks "f16c").
#pragma once
#include <cpuid.h>

namespace mlx {

// F16C (half <-> float conversion instructions): CPUID leaf 1, ECX bit 29.
inline bool cpu_supports_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx & (1u << 29)) != 0;
}

}  // namespace mlx
