// Internal to quant/: inline float16 / bfloat16 <-> float32 conversions for the per-element loops (core's f16
// functions are out of line; a call per element dominated the scalar kernels). Same results as core/dtype.h
// (tests/quant/test_half.cpp checks every f16 and millions of f32 patterns), and `static` so kernel files compiled
// with other ISA flags keep their own copies.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/dtype.h"

namespace mlx::quant::detail {

static inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24 is exact in float32
    return bits_to_f32(f32_to_bits(static_cast<float>(mant) * 0x1p-24f) | sign);
  }
  if (exp == 31) return bits_to_f32(sign | 0x7F800000u | (mant << 13));
  return bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

// Round to nearest even; overflow to inf; NaN -> quiet NaN with the sign kept (as core's f32_to_f16).
static inline uint16_t float_to_half(float f) {
  const uint32_t u = f32_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to inf
  if (a < 0x38800000u) {
    // Subnormal result: a * 2^24 rounded to an integer, ties to even (the FPU's default mode).
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(bits_to_f32(a) * 0x1p24f)));
  }
  uint32_t m = a + (static_cast<uint32_t>(15 - 127) << 23);
  m += 0xFFFu + ((m >> 13) & 1u);
  return static_cast<uint16_t>(sign | static_cast<uint16_t>(m >> 13));
}

namespace {  // templates too must not be shared between files built with different ISA flags

// Element i of a float buffer of dtype DT (F32, F16, BF16), widened exactly.
template <DType DT>
inline float load_as_float(const void* p, int64_t i) {
  if constexpr (DT == DType::F32) return static_cast<const float*>(p)[i];
  else if constexpr (DT == DType::F16) return half_to_float(static_cast<const uint16_t*>(p)[i]);
  else return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
}

// Stores v rounded to DT (nearest even).
template <DType DT>
inline void store_from_float(void* p, int64_t i, float v) {
  if constexpr (DT == DType::F32) static_cast<float*>(p)[i] = v;
  else if constexpr (DT == DType::F16) static_cast<uint16_t*>(p)[i] = float_to_half(v);
  else static_cast<uint16_t*>(p)[i] = f32_to_bf16(v);
}

// The float32 result of one MLX op whose dtype is DT, rounded to DT and widened back (F32: unchanged).
template <DType DT>
inline float round_to(float v) {
  if constexpr (DT == DType::F32) return v;
  else if constexpr (DT == DType::F16) return half_to_float(float_to_half(v));
  else return bf16_to_f32(f32_to_bf16(v));
}

}  // namespace

}  // namespace mlx::quant::detail
