// AVX2 affine quantization kernel: 8 lanes of the scalar kernel's float32 maths (same operations, same order,
// IEEE division, no fused multiply-add), so its output is byte-identical to affine_rows_scalar.
#include <immintrin.h>

#include "quant/affine_kernels.h"
#include "quant/affine_pack_sse.h"
#include "quant/spec.h"

namespace mlx::quant::detail {
namespace {

inline __m256 load8(const void* w, DType dt, int64_t i) {
  switch (dt) {
    case DType::F32: return _mm256_loadu_ps(static_cast<const float*>(w) + i);
    case DType::F16:
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i)));
    default: {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
  }
}

inline float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// Round half away from zero: trunc, then step away from zero when the dropped fraction is >= 1/2.
inline __m256 round_away(__m256 x) {
  const __m256 t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(x, t));
  const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 step = _mm256_and_ps(up, _mm256_or_ps(_mm256_set1_ps(1.0f), sign));
  return _mm256_add_ps(t, step);
}

// Two vectors of 8 integral floats in [0, 255] -> 16 bytes in order.
inline __m128i to_bytes(__m256 a, __m256 b) {
  const __m256i ia = _mm256_cvttps_epi32(a), ib = _mm256_cvttps_epi32(b);
  const __m128i wa = _mm_packus_epi32(_mm256_castsi256_si128(ia), _mm256_extracti128_si256(ia, 1));
  const __m128i wb = _mm_packus_epi32(_mm256_castsi256_si128(ib), _mm256_extracti128_si256(ib, 1));
  return _mm_packus_epi16(wa, wb);
}

template <Rounding R>
void rows(const AffineJob& job, int64_t r0, int64_t r1) {
  const int64_t n_groups = job.cols / job.group;
  const int64_t row_words = packed_cols(job.cols, job.bits);
  const int64_t group_words = job.group * job.bits / 32;
  const int vecs = job.group / 8;
  const float n_bins = static_cast<float>((1 << job.bits) - 1);
  const __m256 v_bins = _mm256_set1_ps(n_bins);
  const __m256 v_zero = _mm256_setzero_ps();
  __m256 v[16];
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t g = 0; g < n_groups; ++g) {
      const int64_t base = r * job.cols + g * job.group;
      v[0] = load8(job.w, job.dt, base);
      __m256 lo = v[0], hi = v[0];
      for (int k = 1; k < vecs; ++k) {
        v[k] = load8(job.w, job.dt, base + 8 * k);
        lo = _mm256_min_ps(lo, v[k]);
        hi = _mm256_max_ps(hi, v[k]);
      }
      float w_min = hmin(lo);
      float w_max = hmax(hi);
      if constexpr (R == Rounding::Gpu) {  // Metal: w_min starts at the dtype's max, w_max at 0
        w_min = std::min(dtype_max(job.dt), w_min);
        w_max = std::max(0.0f, w_max);
      }
      const GroupParams p = group_params(w_min, w_max, job.bits, R);
      const __m256 v_bias = _mm256_set1_ps(p.bias);
      const __m256 v_scale = _mm256_set1_ps(p.scale);
      auto* out = reinterpret_cast<uint8_t*>(job.packed + r * row_words + g * group_words);
      __m256 q[2];
      for (int k = 0; k < vecs; ++k) {
        const __m256 x = _mm256_div_ps(_mm256_sub_ps(v[k], v_bias), v_scale);
        __m256 qk = R == Rounding::Gpu ? round_away(x) : _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q[k & 1] = _mm256_min_ps(_mm256_max_ps(qk, v_zero), v_bins);
        if (k & 1) pack16(to_bytes(q[0], q[1]), job.bits, out + 2 * job.bits * (k >> 1));
      }
      store_param(job.scales, job.dt, r * n_groups + g, p.scale);
      store_param(job.biases, job.dt, r * n_groups + g, p.bias);
    }
  }
}

}  // namespace

void affine_rows_avx2(const AffineJob& job, int64_t r0, int64_t r1) {
  if (job.rounding == Rounding::Gpu)
    rows<Rounding::Gpu>(job, r0, r1);
  else
    rows<Rounding::Cpu>(job, r0, r1);
}

}  // namespace mlx::quant::detail
