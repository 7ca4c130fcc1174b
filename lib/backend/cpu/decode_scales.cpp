// Per-row scale/bias decoding shared by the SIMD kernels: one row's group multipliers as float.
#include <array>

#include "backend/cpu/kernels.h"
#include "backend/cpu/weight_decode.h"

namespace mlx::cpu::detail {

namespace {
const std::array<float, 256>& e4m3_table() {
  static const std::array<float, 256> t = [] {
    std::array<float, 256> a{};
    for (int i = 0; i < 256; ++i) a[size_t(i)] = e4m3_to_f32(uint8_t(i));
    return a;
  }();
  return t;
}
}  // namespace

void decode_scales(const QuantizedWeight& w, int64_t r, float* scales, float* biases) {
  const int64_t n = groups_per_row(w), off = r * n;
  if (w.mode == QuantMode::Affine) {
    if (w.scale_dtype == DType::BF16) {
      const uint16_t* s = static_cast<const uint16_t*>(w.scales) + off;
      const uint16_t* b = static_cast<const uint16_t*>(w.biases) + off;
      for (int64_t g = 0; g < n; ++g) scales[g] = bits_to_f32(uint32_t(s[g]) << 16);
      for (int64_t g = 0; g < n; ++g) biases[g] = bits_to_f32(uint32_t(b[g]) << 16);
    } else {
      to_f32(static_cast<const char*>(w.scales) + size_t(off) * dtype_size(w.scale_dtype), w.scale_dtype, scales,
             size_t(n));
      to_f32(static_cast<const char*>(w.biases) + size_t(off) * dtype_size(w.scale_dtype), w.scale_dtype, biases,
             size_t(n));
    }
    return;
  }
  const uint8_t* s = static_cast<const uint8_t*>(w.scales) + off;
  if (w.mode == QuantMode::NvFp4) {
    const auto& t = e4m3_table();
    const float k = w.global_scale != 0.0f ? w.global_scale / (448.0f * 6.0f) : 1.0f;
    for (int64_t g = 0; g < n; ++g) scales[g] = t[s[g]] * k;
  } else {
    for (int64_t g = 0; g < n; ++g) scales[g] = e8m0_to_f32(s[g]);
  }
  if (biases) for (int64_t g = 0; g < n; ++g) biases[g] = 0.0f;
}

}  // namespace mlx::cpu::detail
