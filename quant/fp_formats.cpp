// mxfp4 / nvfp4 / mxfp8 quantize and dequantize, bit-exact with MLX's ops.cpp fallback (the path mx.quantize
// takes on the CPU). That code is a graph of array ops evaluated in the input dtype T, so every intermediate is
// rounded to T: we keep values in float32 and round with `round_to` after each op that MLX evaluates in T.
#include "quant/fp_formats.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"

namespace mlx::quant {
namespace {

// Rounds a float32 result of one MLX op to its dtype (float32: no-op).
float round_to(DType dt, float x) {
  switch (dt) {
    case DType::F16: return f16_to_f32(f32_to_f16(x));
    case DType::BF16: return bf16_to_f32(f32_to_bf16(x));
    default: return x;
  }
}

float load(const void* w, DType dt, int64_t i) {
  switch (dt) {
    case DType::F32: return static_cast<const float*>(w)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(w)[i]);
    default: return bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
  }
}

void store(void* out, DType dt, int64_t i, float v) {
  switch (dt) {
    case DType::F32: static_cast<float*>(out)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(out)[i] = f32_to_f16(v); break;
    default: static_cast<uint16_t*>(out)[i] = f32_to_bf16(v); break;
  }
}

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

// Nibble of the LUT entry nearest to x, with MLX's arithmetic: |x - LUT[k]| computed in T, argmin keeping the
// first minimum.
uint8_t nearest_e2m1(DType dt, float x) {
  uint8_t best = 0;
  float best_d = std::fabs(round_to(dt, x - kE2M1Values[0]));
  for (uint8_t k = 1; k < 16; ++k) {
    const float d = std::fabs(round_to(dt, x - kE2M1Values[k]));
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

void quantize_rows(const void* w, DType dt, int64_t cols, QuantMode mode, int64_t r0, int64_t r1, uint32_t* packed,
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
      for (int j = 0; j < info.group; ++j) amax = std::max(amax, std::fabs(load(w, dt, base + j)));
      const float s = round_to(dt, amax / maxval);
      float divisor;
      uint8_t scale_byte;
      if (mode == QuantMode::NvFp4) {
        scale_byte = float_to_e4m3(s);
        divisor = round_to(dt, e4m3_to_float(scale_byte));
      } else {
        // e = round(log2(s)) with log2 and round evaluated in T; s == 0 gives e = 0.
        const int e = s == 0.0f ? 0 : static_cast<int>(std::rint(round_to(dt, std::log2(s))));
        divisor = round_to(dt, std::exp2(static_cast<float>(e)));
        scale_byte = static_cast<uint8_t>(e + 127);
      }
      scales[r * n_groups + g] = scale_byte;
      for (int j = 0; j < info.group; ++j) wq[j] = round_to(dt, load(w, dt, base + j) / divisor);
      uint32_t* out = packed + r * row_words + g * (info.group * info.bits / 32);
      if (info.bits == 4) {
        for (int j = 0; j < info.group; j += 8) {
          uint32_t word = 0;
          for (int k = 0; k < 8; ++k) word |= static_cast<uint32_t>(nearest_e2m1(dt, wq[j + k])) << (4 * k);
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

template <typename Store>
void dequantize_rows(const uint32_t* packed, const uint8_t* scales, QuantMode mode, int64_t cols, DType out_dt,
                     int64_t r0, int64_t r1, Store st) {
  const ModeInfo info = mode_info("dequantize", mode);
  const int64_t n_groups = cols / info.group;
  const int64_t row_words = cols * info.bits / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint32_t* row = packed + r * row_words;
    for (int64_t g = 0; g < n_groups; ++g) {
      const uint8_t sb = scales[r * n_groups + g];
      // nvfp4: from_fp8(s) in T; mx: power(2, T(s) - 127) in T.
      const float scale = mode == QuantMode::NvFp4
                              ? round_to(out_dt, e4m3_to_float(sb))
                              : round_to(out_dt, std::exp2(static_cast<float>(static_cast<int>(sb) - 127)));
      for (int64_t j = g * info.group; j < (g + 1) * info.group; ++j) {
        float v;
        if (info.bits == 4) {
          v = e2m1_to_float(static_cast<uint8_t>((row[j >> 3] >> (4 * (j & 7))) & 0xF));
        } else {
          v = round_to(out_dt, e4m3_to_float(static_cast<uint8_t>(row[j >> 2] >> (8 * (j & 3)))));
        }
        st(r * cols + j, round_to(out_dt, v * scale));
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
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) { quantize_rows(w, dt, cols, mode, r0, r1, packed, scales); });
}

void fp_dequantize(const uint32_t* packed, const uint8_t* scales, QuantMode mode, int64_t rows, int64_t cols,
                   DType out_dt, void* out) {
  check_dtype("dequantize", out_dt);
  const ModeInfo info = mode_info("dequantize", mode);
  check_cols("dequantize", mode, rows, cols, info.group);
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    dequantize_rows(packed, scales, mode, cols, out_dt, r0, r1,
                    [out, out_dt](int64_t i, float v) { store(out, out_dt, i, v); });
  });
}

void fp_dequantize(const uint32_t* packed, const uint8_t* scales, QuantMode mode, int64_t rows, int64_t cols,
                   float* out) {
  fp_dequantize(packed, scales, mode, rows, cols, DType::F32, out);
}

}  // namespace mlx::quant
