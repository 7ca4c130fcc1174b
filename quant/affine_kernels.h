// Internal to quant/: the per-ISA affine quantization row kernels and the maths they share.
// The scalar kernel is the specification; the AVX2 / AVX-512 kernels must produce identical bytes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/dtype.h"
#include "quant/affine.h"
#include "quant/half.h"

namespace mlx::quant::detail {

// One affine_quantize call; a kernel quantizes rows [r0, r1) of it.
struct AffineJob {
  const void* w;
  DType dt;
  int64_t cols;
  int bits;
  int group;
  Rounding rounding;
  uint32_t* packed;
  void* scales;
  void* biases;
};

using AffineRowsFn = void (*)(const AffineJob& job, int64_t r0, int64_t r1);

void affine_rows_scalar(const AffineJob& job, int64_t r0, int64_t r1);
void affine_rows_avx2(const AffineJob& job, int64_t r0, int64_t r1);
void affine_rows_avx512(const AffineJob& job, int64_t r0, int64_t r1);

enum class Isa { Scalar, Avx2, Avx512 };
Isa best_isa();                 // what this CPU supports
const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512"
AffineRowsFn affine_kernel(Isa isa);
// Forces the kernel affine_quantize uses (tests and benchmarks); std::nullopt-like reset with best_isa().
void force_isa(Isa isa);
Isa active_isa();

// The helpers below are compiled into every kernel file (each with its own ISA flags), so they have internal
// linkage: the linker must never pick an AVX-512 copy for the scalar path.
namespace {

// Round half away from zero (Metal/CUDA round()) and half to even (std::rint, MLX CPU).
inline float round_gpu(float x) { return std::round(x); }
inline float round_cpu(float x) { return std::rint(x); }

// Per-group scale and bias from the group's min and max (already adjusted for the GPU path: w_max >= 0).
// float32 throughout, exactly as mx:mlx/backend/cpu/quantized.cpp and the Metal affine_quantize kernel.
struct GroupParams {
  float scale;
  float bias;
};

inline GroupParams group_params(float w_min, float w_max, int bits, Rounding rounding) {
  const float n_bins = static_cast<float>((1 << bits) - 1);
  const float eps = 1e-7f;
  const bool side = std::fabs(w_min) > std::fabs(w_max);
  float scale = std::max((w_max - w_min) / n_bins, eps);
  scale = side ? scale : -scale;
  const float edge = side ? w_min : w_max;
  const float ratio = edge / scale;
  const float q0 = rounding == Rounding::Gpu ? round_gpu(ratio) : round_cpu(ratio);
  if (q0 != 0.0f) return {edge / q0, edge};
  return {scale, 0.0f};
}

// The quantized value of one element. GPU: min(round(x), n_bins) then the cast to uint8 (x >= -0.5 always, so
// only -0 reaches the cast and it becomes 0); CPU: clamp(rint(x), 0, n_bins).
inline uint32_t quantize_element(float w, GroupParams p, float n_bins, Rounding rounding) {
  const float x = (w - p.bias) / p.scale;
  float q = rounding == Rounding::Gpu ? round_gpu(x) : round_cpu(x);
  q = std::min(std::max(q, 0.0f), n_bins);
  return static_cast<uint32_t>(q);
}

// The largest finite value of dt: the Metal kernel starts w_min there.
inline float dtype_max(DType dt) {
  switch (dt) {
    case DType::F16: return 65504.0f;
    case DType::BF16: return 3.38953139e38f;
    default: return 3.40282347e38f;
  }
}

// Stores a float32 scale or bias in dt (round to nearest even).
inline void store_param(void* base, DType dt, int64_t index, float v) {
  switch (dt) {
    case DType::F32: static_cast<float*>(base)[index] = v; break;
    case DType::F16: static_cast<uint16_t*>(base)[index] = float_to_half(v); break;
    default: static_cast<uint16_t*>(base)[index] = f32_to_bf16(v); break;
  }
}

// Packs n quantized values (n*bits a multiple of 32) into the LSB-first bit stream at out.
inline void pack_bits(const uint8_t* q, int n, int bits, uint32_t* out) {
  uint64_t acc = 0;
  int filled = 0;
  for (int i = 0; i < n; ++i) {
    acc |= static_cast<uint64_t>(q[i]) << filled;
    filled += bits;
    if (filled >= 32) {
      *out++ = static_cast<uint32_t>(acc);
      acc >>= 32;
      filled -= 32;
    }
  }
}

}  // namespace

}  // namespace mlx::quant::detail
