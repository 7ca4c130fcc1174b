// quant's inline half conversions equal core's (every f16; f32 patterns around every f16 rounding boundary).
#include <gtest/gtest.h>

#include <random>

#include "core/dtype.h"
#include "quant/half.h"

namespace {

TEST(Half, WideningEqualsCoreOnEveryValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = mlx::quant::detail::half_to_float(static_cast<uint16_t>(h));
    const float b = mlx::f16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(mlx::f32_to_bits(a), mlx::f32_to_bits(b)) << h;
  }
}

TEST(Half, NarrowingEqualsCore) {
  auto check = [](uint32_t bits) {
    const float f = mlx::bits_to_f32(bits);
    ASSERT_EQ(mlx::quant::detail::float_to_half(f), mlx::f32_to_f16(f)) << std::hex << bits;
  };
  // Every f16 value's float32 pattern and its neighbours, including the exact midpoints (low 13 bits 0x1000).
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint32_t base = mlx::f32_to_bits(mlx::f16_to_f32(static_cast<uint16_t>(h)));
    for (uint32_t d : {0u, 1u, 0xFFFu, 0x1000u, 0x1001u}) check(base + d);
    check(base - 1);
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 2000000; ++i) check(static_cast<uint32_t>(rng()));
}

}  // namespace
