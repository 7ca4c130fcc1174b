// The plain scalar kernels: one weight at a time, straight from the spec (mlx-reference.md §c). They are the
// fallback on CPUs without AVX2 and the oracle the SIMD kernels are tested against.
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu/weight_decode.h"
#include "core/error.h"
#include "quant/affine.h"

namespace mlx::cpu {
namespace detail {

namespace {
float load_float(const void* p, DType dt, int64_t i) {
  switch (dt) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default: fail("[matmul] unsupported weight dtype {}", dtype_name(dt));
  }
}
}  // namespace

float group_scale(const QuantizedWeight& w, int64_t row, int64_t g) {
  const int64_t i = row * groups_per_row(w) + g;
  const uint8_t s = w.mode == QuantMode::Affine ? 0 : static_cast<const uint8_t*>(w.scales)[i];
  switch (w.mode) {
    case QuantMode::Affine: return load_float(w.scales, w.scale_dtype, i);
    case QuantMode::MxFp4:
    case QuantMode::MxFp8: return e8m0_to_f32(s);
    case QuantMode::NvFp4: {
      float v = e4m3_to_f32(s);
      return w.global_scale != 0.0f ? v * (w.global_scale / (448.0f * 6.0f)) : v;
    }
  }
  return 0.0f;
}

float group_bias(const QuantizedWeight& w, int64_t row, int64_t g) {
  if (w.mode != QuantMode::Affine) return 0.0f;
  return load_float(w.biases, w.scale_dtype, row * groups_per_row(w) + g);
}

void validate(const DenseWeight& w) {
  if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16)
    fail("[matmul] unsupported weight dtype {} (expected F32, F16 or BF16)", dtype_name(w.dtype));
  if (w.out_features < 0 || w.in_features < 0)
    fail("[matmul] negative weight shape [{}, {}]", w.out_features, w.in_features);
}

void validate(const QuantizedWeight& w) {
  const quant::QuantSpec spec{w.mode, w.bits, w.group_size};
  if (auto problem = quant::spec_problem(spec)) fail("[quantized_matmul] {}", *problem);
  if (w.out_features < 0 || w.in_features <= 0 || w.in_features % w.group_size != 0)
    fail("[quantized_matmul] weight shape [{}, {}]: in_features must be a positive multiple of the group size {}",
         w.out_features, w.in_features, w.group_size);
  if (w.mode == QuantMode::Affine) {
    if (w.scale_dtype != DType::F32 && w.scale_dtype != DType::F16 && w.scale_dtype != DType::BF16)
      fail("[quantized_matmul] unsupported scales dtype {} (expected F32, F16 or BF16)", dtype_name(w.scale_dtype));
    if (w.biases == nullptr) fail("[quantized_matmul] affine quantization needs biases");
  }
}

}  // namespace detail

using namespace detail;

void dequantize_rows(const QuantizedWeight& w, int64_t row_begin, int64_t row_end, float* out) {
  const int64_t in = w.in_features, words = packed_row_words(w), G = w.group_size;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint32_t* packed = w.packed + r * words;
    float* o = out + (r - row_begin) * in;
    for (int64_t g = 0; g < in / G; ++g) {
      const float s = group_scale(w, r, g), b = group_bias(w, r, g);
      for (int64_t j = g * G; j < (g + 1) * G; ++j) {
        const uint32_t q = quant::extract_bits(packed, j, w.bits);
        switch (w.mode) {
          case QuantMode::Affine: o[j] = s * float(q) + b; break;
          case QuantMode::MxFp4:
          case QuantMode::NvFp4: o[j] = kE2M1[q] * s; break;
          case QuantMode::MxFp8: o[j] = e4m3_to_f32(uint8_t(q)) * s; break;
        }
      }
    }
  }
}

void gather_row(const DenseWeight& w, int64_t row, float* out) {
  validate(w);
  if (row < 0 || row >= w.out_features) fail("[gather] row {} out of range [0, {})", row, w.out_features);
  const size_t esz = dtype_size(w.dtype);
  to_f32(static_cast<const char*>(w.data) + size_t(row) * size_t(w.in_features) * esz, w.dtype, out,
         size_t(w.in_features));
}

void gather_row(const QuantizedWeight& w, int64_t row, float* out) {
  validate(w);
  if (row < 0 || row >= w.out_features) fail("[gather] row {} out of range [0, {})", row, w.out_features);
  dequantize_rows(w, row, row + 1, out);
}

DenseWeight expert(const DenseWeight& stacked, int64_t e, int64_t out, int64_t in) {
  DenseWeight v = stacked;
  v.data = static_cast<const char*>(stacked.data) + size_t(e) * size_t(out) * size_t(in) * dtype_size(stacked.dtype);
  v.out_features = out;
  v.in_features = in;
  return v;
}

QuantizedWeight expert(const QuantizedWeight& stacked, int64_t e, int64_t out, int64_t in) {
  QuantizedWeight v = stacked;
  v.out_features = out;
  v.in_features = in;
  v.packed = stacked.packed + e * out * (in * stacked.bits / 32);
  const size_t ssz = stacked.mode == QuantMode::Affine ? dtype_size(stacked.scale_dtype) : 1;
  const size_t soff = size_t(e) * size_t(out) * size_t(in / stacked.group_size) * ssz;
  v.scales = static_cast<const char*>(stacked.scales) + soff;
  if (stacked.biases) v.biases = static_cast<const char*>(stacked.biases) + soff;
  return v;
}

void matmul_reference(const float* x, int64_t m, const DenseWeight& w, float* y) {
  validate(w);
  std::vector<float> row(size_t(w.in_features));
  for (int64_t r = 0; r < w.out_features; ++r) {
    gather_row(w, r, row.data());
    for (int64_t i = 0; i < m; ++i) {
      float acc = 0.0f;
      for (int64_t j = 0; j < w.in_features; ++j) acc += row[j] * x[i * w.in_features + j];
      y[i * w.out_features + r] = acc;
    }
  }
}

void matmul_reference(const float* x, int64_t m, const QuantizedWeight& w, float* y) {
  validate(w);
  std::vector<float> row(size_t(w.in_features));
  for (int64_t r = 0; r < w.out_features; ++r) {
    dequantize_rows(w, r, r + 1, row.data());
    for (int64_t i = 0; i < m; ++i) {
      float acc = 0.0f;
      for (int64_t j = 0; j < w.in_features; ++j) acc += row[j] * x[i * w.in_features + j];
      y[i * w.out_features + r] = acc;
    }
  }
}

}  // namespace mlx::cpu
