// Matrix products of float activations with float or MLX-quantized weights: the CPU backend's hot path.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "quant/spec.h"

namespace mlx::cpu {

using quant::QuantMode;

// A float weight W [out, in], row-major, F32 / F16 / BF16 (used straight from the safetensors mmap).
struct DenseWeight {
  const void* data;
  DType dtype;
  int64_t out_features, in_features;
};

// An MLX-quantized weight W [out, in]:
//   packed: uint32 [out, in*bits/32], each row an LSB-first bit stream.
//   affine: scales and biases [out, in/group] in scale_dtype (F32/F16/BF16); w = q*scale + bias.
//   mxfp4 / mxfp8: scales uint8 E8M0 [out, in/group], biases = nullptr; w = v * 2^(s-127).
//   nvfp4: scales uint8 E4M3 [out, in/16], biases = nullptr; w = v * fp8(s) (* global_scale/(448*6) if given).
struct QuantizedWeight {
  const uint32_t* packed;
  const void* scales;
  const void* biases;
  DType scale_dtype;  // affine only (fp modes: scales are uint8)
  QuantMode mode;
  int bits;
  int group_size;
  int64_t out_features, in_features;
  float global_scale = 0.0f;  // nvfp4 only: the tensor's global_scale, 0 = none
};

// y[m, out] = x[m, in] · Wᵀ ; x and y float32 row-major (y is overwritten). Multithreaded over output rows
// (mlx::ThreadPool). Accumulates in float32; quantized weights are dequantized in registers, never materialized
// whole. Exception: the m == 1 affine 2/4/8-bit path on AVX-512 VNNI CPUs rounds x to int8 per 32 values with a
// second int8 level for the remainder (|error| <= max|x|/32512; decode perplexity unchanged, bench/NOTES.md) and
// multiplies integer codes; MLX_CPU_Q8_ACTS=0 (or detail::set_q8_acts_levels(0)) keeps x in float32, as the .mlxfn
// replay does for parity with MLX. Throws mlx::Error on an unsupported dtype / bits / group / mode.
void matmul(const float* x, int64_t m, const DenseWeight& w, float* y);
void matmul(const float* x, int64_t m, const QuantizedWeight& w, float* y);

// Embedding lookup: row `row` of W as float (dequantized) into out[in_features].
void gather_row(const DenseWeight& w, int64_t row, float* out);
void gather_row(const QuantizedWeight& w, int64_t row, float* out);

// View of expert e of a stacked [E, out, in] weight (MoE: only the selected experts are touched).
DenseWeight expert(const DenseWeight& stacked, int64_t e, int64_t out, int64_t in);
QuantizedWeight expert(const QuantizedWeight& stacked, int64_t e, int64_t out, int64_t in);

// Rows [row_begin, row_end) of W dequantized to float into out[(row_end-row_begin) * in_features]
// (exactly the values matmul multiplies with: float(scale) * q + float(bias) for affine).
void dequantize_rows(const QuantizedWeight& w, int64_t row_begin, int64_t row_end, float* out);

// The plain scalar kernels (the spec and the test oracle); single-threaded.
void matmul_reference(const float* x, int64_t m, const DenseWeight& w, float* y);
void matmul_reference(const float* x, int64_t m, const QuantizedWeight& w, float* y);

}  // namespace mlx::cpu
