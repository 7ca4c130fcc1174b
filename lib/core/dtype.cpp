#include "core/dtype.h"

#include <array>
#include <cmath>

#include "core/error.h"

namespace mlx {

namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};
constexpr std::array<DTypeInfo, 15> kTypes{{
    {DType::F32, "F32", 4},     {DType::F16, "F16", 2},        {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8},     {DType::I64, "I64", 8},        {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},     {DType::I8, "I8", 1},          {DType::U64, "U64", 8},
    {DType::U32, "U32", 4},     {DType::U16, "U16", 2},        {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1},   {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E8M0, "F8_E8M0", 1},
}};
}  // namespace

size_t dtype_size(DType t) { return kTypes[size_t(t)].size; }
std::string_view dtype_name(DType t) { return kTypes[size_t(t)].name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& info : kTypes)
    if (info.name == name) return info.type;
  return std::nullopt;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return bits_to_f32(sign);
    // Subnormal: value = mant * 2^-24, exactly representable in float32.
    float v = float(mant) * 0x1p-24f;
    return sign ? -v : v;
  }
  if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (mant << 13));
  return bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float f) {
  uint32_t u = f32_to_bits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (a < 0x38800000u) {
    // Result is subnormal (or zero): round a * 2^24 to an integer, ties to even.
    float v = bits_to_f32(a) * 0x1p24f;
    float r = std::nearbyint(v);  // default rounding mode is to-nearest-even
    return uint16_t(sign | uint16_t(r));
  }
  // Normal: rebias exponent and round the 13 dropped mantissa bits to nearest even.
  uint32_t m = a + ((uint32_t(15 - 127)) << 23);
  m += 0xfffu + ((m >> 13) & 1u);
  return uint16_t(sign | uint16_t(m >> 13));
}

namespace {
template <typename T>
void ints_to_f32(const void* src, float* dst, size_t n) {
  const T* s = static_cast<const T*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = float(s[i]);
}
template <typename T>
void f32_to_ints(const float* src, void* dst, size_t n) {
  T* d = static_cast<T*>(dst);
  for (size_t i = 0; i < n; ++i) d[i] = T(src[i]);
}
}  // namespace

void to_f32(const void* src, DType t, float* dst, size_t n) {
  switch (t) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    case DType::F64: ints_to_f32<double>(src, dst, n); return;
    case DType::I64: ints_to_f32<int64_t>(src, dst, n); return;
    case DType::I32: ints_to_f32<int32_t>(src, dst, n); return;
    case DType::I16: ints_to_f32<int16_t>(src, dst, n); return;
    case DType::I8: ints_to_f32<int8_t>(src, dst, n); return;
    case DType::U64: ints_to_f32<uint64_t>(src, dst, n); return;
    case DType::U32: ints_to_f32<uint32_t>(src, dst, n); return;
    case DType::U16: ints_to_f32<uint16_t>(src, dst, n); return;
    case DType::U8:
    case DType::Bool: ints_to_f32<uint8_t>(src, dst, n); return;
    default: fail("cannot convert {} to float32", dtype_name(t));
  }
}

void from_f32(const float* src, DType t, void* dst, size_t n) {
  switch (t) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::F16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
    case DType::F64: f32_to_ints<double>(src, dst, n); return;
    case DType::I64: f32_to_ints<int64_t>(src, dst, n); return;
    case DType::I32: f32_to_ints<int32_t>(src, dst, n); return;
    case DType::I16: f32_to_ints<int16_t>(src, dst, n); return;
    case DType::I8: f32_to_ints<int8_t>(src, dst, n); return;
    case DType::U64: f32_to_ints<uint64_t>(src, dst, n); return;
    case DType::U32: f32_to_ints<uint32_t>(src, dst, n); return;
    case DType::U16: f32_to_ints<uint16_t>(src, dst, n); return;
    case DType::U8:
    case DType::Bool: f32_to_ints<uint8_t>(src, dst, n); return;
    default: fail("cannot convert float32 to {}", dtype_name(t));
  }
}

}  // namespace mlx
