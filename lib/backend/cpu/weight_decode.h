// Scalar decoding of one weight row to float: the spec every SIMD kernel is tested against (private to cpu/).
#pragma once

#include <cstdint>

#include "backend/cpu/matmul.h"
#include "quant/fp_formats.h"

namespace mlx::cpu::detail {

// The scalar codecs are quant's (quant/fp_formats.h): E2M1 elements, E4M3 elements/scales, E8M0 scales.
inline constexpr const float* kE2M1 = quant::kE2M1Values;
inline float e4m3_to_f32(uint8_t b) { return quant::e4m3_to_float(b); }
inline float e8m0_to_f32(uint8_t s) { return quant::e8m0_to_float(s); }

// Scale or bias `g` of row `row` as float (affine: in scale_dtype; fp modes: the decoded uint8 multiplier).
float group_scale(const QuantizedWeight& w, int64_t row, int64_t g);
float group_bias(const QuantizedWeight& w, int64_t row, int64_t g);
// Throws mlx::Error unless mode, bits, group, dtypes and shape are a combination the kernels handle.
void validate(const QuantizedWeight& w);
void validate(const DenseWeight& w);

inline int64_t packed_row_words(const QuantizedWeight& w) { return w.in_features * w.bits / 32; }
inline int64_t groups_per_row(const QuantizedWeight& w) { return w.in_features / w.group_size; }

}  // namespace mlx::cpu::detail
