// mxfp4 / nvfp4 / mxfp8 quantize and dequantize, bit-exact with MLX's ops.cpp fallback (the path mx.quantize
// takes on the CPU). That code is a graph of array ops evaluated in the input dtype T, so every intermediate is
// rounded to T: we keep values in float32 and round with `round_to<T>` after each op that MLX evaluates in T.
#include "quant/fp_formats.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/half.h"

namespace mlx::quant {
namespace {

using detail::load_as_float;
using detail::round_to;
using detail::store_from_float;

struct ModeInfo {
  int group;
  int bits;
};

ModeInfo mode_info(const char* op, QuantMode mode) {
  switch (mode) {
    case QuantMode::MxFp4: return {32, 4};
    case QuantMode::NvFp4: return {16, 4};
    case QuantMode::MxFp8: return {32, 8};
    default: fail("[{}] mode {} is not a floating-point mode", op, quant_mode_name(mode));
  }
}

void check_dtype(const char* op, DType dt) {
  if (dt != DType::F32 && dt != DType::F16 && dt != DType::BF16)
    fail("[{}] only F32, F16 and BF16 are supported, got {}", op, dtype_name(dt));
}

void check_cols(const char* op, QuantMode mode, int64_t rows, int64_t cols, int group) {
  if (rows < 0 || cols <= 0 || cols % group != 0)
    fail("[{}] {} needs the last dimension ({}) to be a positive multiple of {}", op, quant_mode_name(mode), cols,
         group);
}

}  // namespace

namespace detail {

// MLX's choice, literally: argmin_k |x - LUT[k]| with the subtraction rounded to DT, first minimum wins.
template <DType DT>
uint8_t nearest_e2m1_reference(float x) {
  uint8_t best = 0;
  float best_d = std::fabs(round_to<DT>(x - kE2M1Values[0]));
  for (uint8_t k = 1; k < 16; ++k) {
    const float d = std::fabs(round_to<DT>(x - kE2M1Values[k]));
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

// The same choice without the 16-way search. For x >= 0 (and -0) a negative entry is never closer than the
// positive one of the same magnitude and loses ties (higher index); for x < 0 the mirror holds except at
// magnitude 0, where +0 (index 0) wins the tie. Distances are unimodal along the sorted magnitudes and rounding
// to DT is monotone, so only the two neighbours of |x| compete, the lower one winning a tie. Beyond |x| = 16
// rounding could merge distances of non-neighbours, so those (never produced by the quantizer, whose |x| <= ~8.5)
// take the literal search. tests/quant/test_fp_formats.cpp compares both on every f16 / bf16 value.
template <DType DT>
uint8_t nearest_e2m1(float x) {
  const float a = std::fabs(x);
  if (!(a <= 16.0f)) return nearest_e2m1_reference<DT>(x);  // also NaN
  // Branch-free (the data decides every comparison): lo = index of the largest magnitude <= a; the entry past 6
  // is +inf so that a >= 6 never moves up.
  static constexpr float kMag[9] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f, INFINITY};
  const int lo = (a >= 0.5f) + (a >= 1.0f) + (a >= 1.5f) + (a >= 2.0f) + (a >= 3.0f) + (a >= 4.0f) + (a >= 6.0f);
  const float d_lo = round_to<DT>(a - kMag[lo]);
  const float d_hi = round_to<DT>(kMag[lo + 1] - a);
  const int k = lo + (d_hi < d_lo);
  return static_cast<uint8_t>(x < 0.0f && k != 0 ? k + 8 : k);
}

template uint8_t nearest_e2m1_reference<DType::F32>(float);
template uint8_t nearest_e2m1_reference<DType::F16>(float);
template uint8_t nearest_e2m1_reference<DType::BF16>(float);
template uint8_t nearest_e2m1<DType::F32>(float);
template uint8_t nearest_e2m1<DType::F16>(float);
template uint8_t nearest_e2m1<DType::BF16>(float);

}  // namespace detail

namespace {

template <DType DT>
void quantize_rows(const void* w, int64_t cols, QuantMode mode, int64_t r0, int64_t r1, uint32_t* packed,
                   uint8_t* scales) {
  const ModeInfo info = mode_info("quantize", mode);
  const int64_t n_groups = cols / info.group;
  const int64_t row_words = cols * info.bits / 32;
  const float maxval = info.bits == 4 ? 6.0f : 448.0f;
  float wq[32];
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t g = 0; g < n_groups; ++g) {
      const int64_t base = r * cols + g * info.group;
      float amax = 0.0f;
      for (int j = 0; j < info.group; ++j) amax = std::max(amax, std::fabs(load_as_float<DT>(w, base + j)));
      const float s = round_to<DT>(amax / maxval);
      float divisor;
      uint8_t scale_byte;
      if (mode == QuantMode::NvFp4) {
        scale_byte = float_to_e4m3(s);
        divisor = round_to<DT>(e4m3_to_float(scale_byte));
      } else {
        // e = round(log2(s)) with log2 and round evaluated in T; s == 0 gives e = 0.
        const int e = s == 0.0f ? 0 : static_cast<int>(std::rint(round_to<DT>(std::log2(s))));
        divisor = round_to<DT>(std::exp2(static_cast<float>(e)));
        scale_byte = static_cast<uint8_t>(e + 127);
      }
      scales[r * n_groups + g] = scale_byte;
      for (int j = 0; j < info.group; ++j) wq[j] = round_to<DT>(load_as_float<DT>(w, base + j) / divisor);
      uint32_t* out = packed + r * row_words + g * (info.group * info.bits / 32);
      if (info.bits == 4) {
        for (int j = 0; j < info.group; j += 8) {
          uint32_t word = 0;
          for (int k = 0; k < 8; ++k) word |= static_cast<uint32_t>(detail::nearest_e2m1<DT>(wq[j + k])) << (4 * k);
          *out++ = word;
        }
      } else {
        for (int j = 0; j < info.group; j += 4) {
          uint32_t word = 0;
          for (int k = 0; k < 4; ++k) word |= static_cast<uint32_t>(float_to_e4m3(wq[j + k])) << (8 * k);
          *out++ = word;
        }
      }
    }
  }
}

template <DType DT>
void dequantize_rows(const uint32_t* packed, const uint8_t* scales, QuantMode mode, int64_t cols, int64_t r0,
                     int64_t r1, void* out) {
  const ModeInfo info = mode_info("dequantize", mode);
  const int64_t n_groups = cols / info.group;
  const int64_t row_words = cols * info.bits / 32;
  // The E4M3 codes widened to DT (exact for all three dtypes), once.
  float fp8[256];
  for (int b = 0; b < 256; ++b) fp8[b] = round_to<DT>(e4m3_to_float(static_cast<uint8_t>(b)));
  for (int64_t r = r0; r < r1; ++r) {
    const uint32_t* row = packed + r * row_words;
    for (int64_t g = 0; g < n_groups; ++g) {
      const uint8_t sb = scales[r * n_groups + g];
      // nvfp4: from_fp8(s) in T; mx: power(2, T(s) - 127) in T.
      const float scale = mode == QuantMode::NvFp4 ? fp8[sb]
                                                   : round_to<DT>(std::exp2(static_cast<float>(static_cast<int>(sb) - 127)));
      for (int64_t j = g * info.group; j < (g + 1) * info.group; ++j) {
        const float v = info.bits == 4 ? e2m1_to_float(static_cast<uint8_t>((row[j >> 3] >> (4 * (j & 7))) & 0xF))
                                       : fp8[(row[j >> 2] >> (8 * (j & 3))) & 0xFF];
        store_from_float<DT>(out, r * cols + j, v * scale);
      }
    }
  }
}

void for_rows(int64_t rows, int64_t cols, const std::function<void(int64_t, int64_t)>& fn) {
  if (rows * cols < (int64_t{1} << 16) || ThreadPool::global().num_threads() <= 1) {
    fn(0, rows);
    return;
  }
  ThreadPool::global().parallel_for(rows, fn);
}

}  // namespace

void fp_quantize(const void* w, DType dt, int64_t rows, int64_t cols, QuantMode mode, uint32_t* packed,
                 uint8_t* scales) {
  check_dtype("quantize", dt);
  const ModeInfo info = mode_info("quantize", mode);
  check_cols("quantize", mode, rows, cols, info.group);
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    switch (dt) {
      case DType::F32: return quantize_rows<DType::F32>(w, cols, mode, r0, r1, packed, scales);
      case DType::F16: return quantize_rows<DType::F16>(w, cols, mode, r0, r1, packed, scales);
      default: return quantize_rows<DType::BF16>(w, cols, mode, r0, r1, packed, scales);
    }
  });
}

void fp_dequantize(const uint32_t* packed, const uint8_t* scales, QuantMode mode, int64_t rows, int64_t cols,
                   DType out_dt, void* out) {
  check_dtype("dequantize", out_dt);
  const ModeInfo info = mode_info("dequantize", mode);
  check_cols("dequantize", mode, rows, cols, info.group);
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    switch (out_dt) {
      case DType::F32: return dequantize_rows<DType::F32>(packed, scales, mode, cols, r0, r1, out);
      case DType::F16: return dequantize_rows<DType::F16>(packed, scales, mode, cols, r0, r1, out);
      default: return dequantize_rows<DType::BF16>(packed, scales, mode, cols, r0, r1, out);
    }
  });
}

void fp_dequantize(const uint32_t* packed, const uint8_t* scales, QuantMode mode, int64_t rows, int64_t cols,
                   float* out) {
  fp_dequantize(packed, scales, mode, rows, cols, DType::F32, out);
}

}  // namespace mlx::quant
