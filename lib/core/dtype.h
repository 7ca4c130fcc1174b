// Element types as safetensors names them, and exact conversions between the float formats.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace mlx {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U64, U32, U16, U8, Bool, F8_E4M3, F8_E8M0 };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // safetensors spelling: "F32", "BF16", "BOOL", "F8_E4M3", ...
std::optional<DType> parse_dtype(std::string_view name);
inline bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64; }

inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// bfloat16 is the top half of a float32: widening is exact.
inline float bf16_to_f32(uint16_t h) { return bits_to_f32(uint32_t(h) << 16); }

// Round to nearest, ties to even (what MLX, PyTorch and numpy do); NaN stays a quiet NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // round to nearest even, overflow to inf, subnormals exact

// Bulk conversions between a float buffer and a typed buffer (F32/F16/BF16/F64 and the integer types).
void to_f32(const void* src, DType src_type, float* dst, size_t n);
void from_f32(const float* src, DType dst_type, void* dst, size_t n);

}  // namespace mlx
