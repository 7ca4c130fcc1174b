// Affine quantize / dequantize entry points: validation, ISA dispatch, threading, and the scalar reference kernel.
#include "quant/affine.h"

#include <atomic>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/affine_kernels.h"
#include "quant/half.h"
#include "quant/spec.h"

namespace mlx::quant {
namespace detail {

namespace {

float load_element(const void* w, DType dt, int64_t i) {
  switch (dt) {
    case DType::F32: return static_cast<const float*>(w)[i];
    case DType::F16: return half_to_float(static_cast<const uint16_t*>(w)[i]);
    default: return bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
  }
}

std::atomic<int> g_forced{-1};

}  // namespace

// The specification: one group at a time, float32 maths, exactly as MLX's kernels (see affine_kernels.h).
void affine_rows_scalar(const AffineJob& job, int64_t r0, int64_t r1) {
  const int64_t n_groups = job.cols / job.group;
  const int64_t row_words = packed_cols(job.cols, job.bits);
  const int64_t group_words = job.group * job.bits / 32;
  const float n_bins = static_cast<float>((1 << job.bits) - 1);
  float vals[128];
  uint8_t q[128];
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t g = 0; g < n_groups; ++g) {
      const int64_t base = r * job.cols + g * job.group;
      float w_min, w_max;
      if (job.rounding == Rounding::Gpu) {
        w_min = dtype_max(job.dt);
        w_max = 0.0f;
      } else {
        w_min = INFINITY;
        w_max = -INFINITY;
      }
      for (int j = 0; j < job.group; ++j) {
        vals[j] = load_element(job.w, job.dt, base + j);
        w_min = std::min(w_min, vals[j]);
        w_max = std::max(w_max, vals[j]);
      }
      const GroupParams p = group_params(w_min, w_max, job.bits, job.rounding);
      for (int j = 0; j < job.group; ++j) q[j] = static_cast<uint8_t>(quantize_element(vals[j], p, n_bins, job.rounding));
      pack_bits(q, job.group, job.bits, job.packed + r * row_words + g * group_words);
      store_param(job.scales, job.dt, r * n_groups + g, p.scale);
      store_param(job.biases, job.dt, r * n_groups + g, p.bias);
    }
  }
}

Isa best_isa() {
  static const Isa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && mlx::cpu_supports_f16c())
      return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && mlx::cpu_supports_f16c())
      return Isa::Avx2;
    return Isa::Scalar;
  }();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

AffineRowsFn affine_kernel(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return affine_rows_avx512;
    case Isa::Avx2: return affine_rows_avx2;
    default: return affine_rows_scalar;
  }
}

void force_isa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(best_isa())) isa = best_isa();  // never run what the CPU lacks
  g_forced.store(static_cast<int>(isa));
}

Isa active_isa() {
  const int forced = g_forced.load();
  return forced >= 0 ? static_cast<Isa>(forced) : best_isa();
}

}  // namespace detail

namespace {

void check_args(const char* op, DType dt, int64_t rows, int64_t cols, int bits, int group) {
  if (dt != DType::F32 && dt != DType::F16 && dt != DType::BF16)
    fail("[{}] only F32, F16 and BF16 can be quantized, got {}", op, dtype_name(dt));
  if (auto problem = spec_problem({QuantMode::Affine, bits, group})) fail("[{}] {}", op, *problem);
  if (rows < 0 || cols <= 0 || cols % group != 0)
    fail("[{}] the last dimension ({}) must be a positive multiple of the group size {}", op, cols, group);
}

// Rows per parallel task: small tensors stay on the calling thread.
void for_rows(int64_t rows, int64_t cols, const std::function<void(int64_t, int64_t)>& fn) {
  if (rows * cols < (int64_t{1} << 16) || ThreadPool::global().num_threads() <= 1) {
    fn(0, rows);
    return;
  }
  ThreadPool::global().parallel_for(rows, fn);
}

}  // namespace

void affine_quantize(const void* w, DType dt, int64_t rows, int64_t cols, int bits, int group, Rounding rounding,
                     uint32_t* packed, void* scales, void* biases) {
  check_args("quantize", dt, rows, cols, bits, group);
  const detail::AffineJob job{w, dt, cols, bits, group, rounding, packed, scales, biases};
  const detail::AffineRowsFn kernel = detail::affine_kernel(detail::active_isa());
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) { kernel(job, r0, r1); });
}

namespace {

// MLX's dequantize: q (converted to dt) * scale, rounded to dt, + bias, rounded to dt (two ops in dt arithmetic;
// never a fused multiply-add). ToFloat: the same products and sums kept in float32 (no rounding to dt).
template <DType DT, bool ToFloat>
void dequantize_rows(const uint32_t* packed, const void* scales, const void* biases, int64_t cols, int bits,
                     int group, int64_t r0, int64_t r1, void* out) {
  const int64_t row_words = packed_cols(cols, bits);
  const int64_t n_groups = cols / group;
  for (int64_t r = r0; r < r1; ++r) {
    const uint32_t* row = packed + r * row_words;
    for (int64_t g = 0; g < n_groups; ++g) {
      const float scale = detail::load_as_float<DT>(scales, r * n_groups + g);
      const float bias = detail::load_as_float<DT>(biases, r * n_groups + g);
      for (int64_t j = g * group; j < (g + 1) * group; ++j) {
        const float prod = static_cast<float>(extract_bits(row, j, bits)) * scale;
        if constexpr (ToFloat) {
          static_cast<float*>(out)[r * cols + j] = prod + bias;
        } else {
          detail::store_from_float<DT>(out, r * cols + j, detail::round_to<DT>(prod) + bias);
        }
      }
    }
  }
}

template <bool ToFloat>
void dequantize(const uint32_t* packed, const void* scales, const void* biases, DType dt, int64_t rows, int64_t cols,
                int bits, int group, void* out) {
  check_args("dequantize", dt, rows, cols, bits, group);
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    switch (dt) {
      case DType::F32:
        return dequantize_rows<DType::F32, ToFloat>(packed, scales, biases, cols, bits, group, r0, r1, out);
      case DType::F16:
        return dequantize_rows<DType::F16, ToFloat>(packed, scales, biases, cols, bits, group, r0, r1, out);
      default:
        return dequantize_rows<DType::BF16, ToFloat>(packed, scales, biases, cols, bits, group, r0, r1, out);
    }
  });
}

}  // namespace

void affine_dequantize(const uint32_t* packed, const void* scales, const void* biases, DType dt, int64_t rows,
                       int64_t cols, int bits, int group, float* out) {
  dequantize<true>(packed, scales, biases, dt, rows, cols, bits, group, out);
}

void affine_dequantize(const uint32_t* packed, const void* scales, const void* biases, DType dt, int64_t rows,
                       int64_t cols, int bits, int group, void* out) {
  dequantize<false>(packed, scales, biases, dt, rows, cols, bits, group, out);
}

}  // namespace mlx::quant
