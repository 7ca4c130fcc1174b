// Scalar decoding of one weight row to float: the spec every SIMD kernel is tested against (private to cpu/).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/matmul.h"

namespace mlx::cpu::detail {

// fp4 E2M1 values by code (sign in bit 3), as in MLX's LUT.
inline constexpr float kE2M1[16] = {0.f, .5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f,
                                    -0.f, -.5f, -1.f, -1.5f, -2.f, -3.f, -4.f, -6.f};

// fp8 E4M3FN (bias 7, no infinities, 0x7f/0xff = NaN) to float, exact.
inline float e4m3_to_f32(uint8_t b) {
  const int sign = b >> 7, exp = (b >> 3) & 15, man = b & 7;
  float v;
  if (exp == 0) v = std::ldexp(float(man), -9);
  else if (exp == 15 && man == 7) v = NAN;
  else v = std::ldexp(float(8 + man), exp - 10);
  return sign ? -v : v;
}

// E8M0 scale byte to float: 2^(s-127); MLX's CPU kernel maps s==0 to 2^-127 too (a float32 subnormal).
inline float e8m0_to_f32(uint8_t s) {
  if (s == 255) return NAN;
  return std::ldexp(1.0f, int(s) - 127);
}

// Scale or bias `g` of row `row` as float (affine: in scale_dtype; fp modes: the decoded uint8 multiplier).
float group_scale(const QuantizedWeight& w, int64_t row, int64_t g);
float group_bias(const QuantizedWeight& w, int64_t row, int64_t g);
// Throws mlx::Error unless mode, bits, group, dtypes and shape are a combination the kernels handle.
void validate(const QuantizedWeight& w);
void validate(const DenseWeight& w);

inline int64_t packed_row_words(const QuantizedWeight& w) { return w.in_features * w.bits / 32; }
inline int64_t groups_per_row(const QuantizedWeight& w) { return w.in_features / w.group_size; }

}  // namespace mlx::cpu::detail
