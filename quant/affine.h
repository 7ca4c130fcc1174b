// MLX affine group quantization (2/3/4/5/6/8 bits, groups of 32/64/128), bit-exact with MLX's GPU and CPU paths.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace mlx::quant {

// Which MLX implementation to reproduce bit for bit (they differ on ties and on all-negative groups).
//   Gpu: Metal/CUDA `affine_quantize` kernel: round half away from zero, w_max starts at 0, clamp at the top only.
//        This is how checkpoints published from Apple silicon were made, so it is the default.
//   Cpu: MLX's CPU kernel: rint (half to even), true max, clamp to [0, 2^bits-1].
enum class Rounding { Gpu, Cpu };

// Quantizes a row-major [rows, cols] matrix `w` of dtype `dt` (F32, F16 or BF16) along its rows.
//   packed: rows * packed_cols(cols, bits) uint32 words, LSB-first bit stream per row.
//   scales, biases: rows * cols/group values written in `dt`.
// cols must be a multiple of `group`. Multithreaded over rows (mlx::ThreadPool), SIMD by CPUID.
// Throws mlx::Error on an unsupported dtype / bits / group / shape.
void affine_quantize(const void* w, DType dt, int64_t rows, int64_t cols, int bits, int group, Rounding rounding,
                     uint32_t* packed, void* scales, void* biases);

// The inverse, as MLX's dequantize computes it: scales/biases are in `dt` (F32, F16 or BF16).
// To float32: out = float(scale) * q + float(bias) (exact MLX result for dt = F32; for F16/BF16 MLX rounds to dt,
// use the overload below to get its bit patterns).
void affine_dequantize(const uint32_t* packed, const void* scales, const void* biases, DType dt, int64_t rows,
                       int64_t cols, int bits, int group, float* out);
// To `dt` itself, bit-exact with mx.dequantize (result dtype = scales dtype).
void affine_dequantize(const uint32_t* packed, const void* scales, const void* biases, DType dt, int64_t rows,
                       int64_t cols, int bits, int group, void* out);

// Element j of a packed row (LSB-first bit stream; 3/5/6-bit values may straddle words). For kernels and tests;
// static so that kernel files built with other ISA flags each keep their own copy.
static inline uint32_t extract_bits(const uint32_t* row, int64_t j, int bits) {
  const int64_t bit = j * bits;
  const int64_t word = bit >> 5;
  const int shift = static_cast<int>(bit & 31);
  uint64_t v = row[word] >> shift;
  if (shift + bits > 32) v |= static_cast<uint64_t>(row[word + 1]) << (32 - shift);
  return static_cast<uint32_t>(v) & ((1u << bits) - 1u);
}

}  // namespace mlx::quant
