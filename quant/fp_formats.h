// MLX's floating-point quantization modes (mxfp4, nvfp4, mxfp8) and the small-float codecs they use
// (E2M1 elements, E4M3 elements/scales, E8M0 scales). The scalar codecs are inline so that dequantizing
// matmul kernels can use them directly.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "core/dtype.h"
#include "quant/spec.h"

namespace mlx::quant {

// The scalar codecs are `static inline`: SIMD kernel files compiled with other ISA flags get their own copies.

// ---- E2M1 (fp4): sign in bit 3, magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6 (MLX's FP4_LUT order). ----
inline constexpr float kE2M1Values[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                                          -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

static inline float e2m1_to_float(uint8_t nibble) { return kE2M1Values[nibble & 0xF]; }

// The nibble MLX's quantize picks for a float32 value: argmin_k |x - LUT[k]| computed in float32, a tie
// taking the lowest index (so 2.5 -> 2.0, 3.5 -> 3.0, -0.1 -> +0). NaN maps to index 0.
static inline uint8_t float_to_e2m1(float x) {
  uint8_t best = 0;
  float best_d = std::fabs(x - kE2M1Values[0]);
  for (uint8_t k = 1; k < 16; ++k) {
    const float d = std::fabs(x - kE2M1Values[k]);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

// ---- E4M3 (fp8 "e4m3fn"): bias 7, no infinities, 0x7F/0xFF are NaN, max finite 448 (0x7E). ----
static inline float e4m3_to_float(uint8_t b) {
  const uint32_t sign = static_cast<uint32_t>(b & 0x80) << 24;
  const uint32_t exp = (b >> 3) & 0xF;
  const uint32_t man = b & 0x7;
  float mag;
  if (exp == 0xF && man == 0x7) {
    mag = std::bit_cast<float>(0x7FC00000u);
  } else if (exp == 0) {
    mag = static_cast<float>(man) * 0x1p-9f;  // subnormal: man * 2^-9
  } else {
    mag = std::bit_cast<float>(((exp + 120u) << 23) | (man << 20));
  }
  return std::bit_cast<float>(std::bit_cast<uint32_t>(mag) | sign);
}

// MLX's ToFP8 (mx:mlx/backend/cpu/unary_ops.h): round to nearest even, |x| >= 464 (the midpoint above 448),
// infinities and NaN all saturate to 0x7E (448) with the sign kept.
static inline uint8_t float_to_e4m3(float x) {
  uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t sign = bits & 0x80000000u;
  bits ^= sign;
  uint8_t result;
  if (bits >= (543u << 21)) {
    result = 0x7E;
  } else if (bits < (121u << 23)) {
    // Below the smallest normal (2^-6): adding 2^14 makes the FPU round to a multiple of 2^-9 (the subnormal step).
    const float shifted = std::bit_cast<float>(bits) + 16384.0f;
    result = static_cast<uint8_t>(std::bit_cast<uint32_t>(shifted) - (141u << 23));
  } else {
    const uint32_t mant_odd = (bits >> 20) & 1;
    result = static_cast<uint8_t>((bits + (static_cast<uint32_t>(7 - 127) << 23) + 0x7FFFF + mant_odd) >> 20);
  }
  return static_cast<uint8_t>(result | (sign >> 24));
}

// ---- E8M0 (mx scales): 2^(s-127); MLX decodes s == 0 as 2^-127 (not 0) and 255 as +inf. ----
static inline float e8m0_to_float(uint8_t s) {
  return s == 0 ? std::bit_cast<float>(0x00400000u) : std::bit_cast<float>(static_cast<uint32_t>(s) << 23);
}

// ---- Whole tensors ----

// Quantizes a row-major [rows, cols] matrix of dtype `dt` (F32, F16 or BF16) with an fp mode (MxFp4, NvFp4,
// MxFp8), bit-exact with MLX's mx.quantize (the ops.cpp path, which computes in the input dtype):
//   packed: rows * cols*bits/32 words (fp4: 8 nibbles per word LSB first; fp8: 4 bytes per word little-endian)
//   scales: rows * cols/group bytes (E8M0 for mx*, E4M3 for nvfp4).
// nvfp4 without a global scale (MLX's default). Throws mlx::Error on a bad mode / dtype / shape.
void fp_quantize(const void* w, DType dt, int64_t rows, int64_t cols, QuantMode mode, uint32_t* packed,
                 uint8_t* scales);

// Dequantizes to `out_dt` (F32, F16 or BF16; MLX's default is BF16), bit-exact with mx.dequantize(dtype=out_dt).
void fp_dequantize(const uint32_t* packed, const uint8_t* scales, QuantMode mode, int64_t rows, int64_t cols,
                   DType out_dt, void* out);
// Dequantizes to float32 (same as out_dt = F32).
void fp_dequantize(const uint32_t* packed, const uint8_t* scales, QuantMode mode, int64_t rows, int64_t cols,
                   float* out);

namespace detail {
// The E2M1 nibble mx.quantize picks for x when it computes in dtype DT (F32, F16, BF16): the literal 16-way argmin
// and the fast equivalent the quantizer uses. Exposed for tests.
template <DType DT>
uint8_t nearest_e2m1_reference(float x);
template <DType DT>
uint8_t nearest_e2m1(float x);
}  // namespace detail

}  // namespace mlx::quant
