// AVX-512 affine quantization kernel: 16 lanes of the scalar kernel's float32 maths (same operations, same order,
// IEEE division, no fused multiply-add), so its output is byte-identical to affine_rows_scalar.
// GCC 12 reports its own _mm512_undefined_* placeholders inside the intrinsics as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include "quant/affine_kernels.h"
#include "quant/affine_pack_sse.h"
#include "quant/spec.h"

namespace mlx::quant::detail {
namespace {

inline __m512 load16(const void* w, DType dt, int64_t i) {
  switch (dt) {
    case DType::F32: return _mm512_loadu_ps(static_cast<const float*>(w) + i);
    case DType::F16:
      return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i)));
    default: {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i));
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
}

// Round half away from zero: trunc, then step away from zero when the dropped fraction is >= 1/2 (exact: x - trunc(x)
// is representable).
inline __m512 round_away(__m512 x) {
  const __m512 t = _mm512_roundscale_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(x, t));
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(x, _mm512_set1_ps(-0.0f)));  // copysign(1, x)
  return _mm512_mask_add_ps(t, up, t, one);
}

template <Rounding R>
void rows(const AffineJob& job, int64_t r0, int64_t r1) {
  const int64_t n_groups = job.cols / job.group;
  const int64_t row_words = packed_cols(job.cols, job.bits);
  const int64_t group_words = job.group * job.bits / 32;
  const int vecs = job.group / 16;
  const float n_bins = static_cast<float>((1 << job.bits) - 1);
  const __m512 v_bins = _mm512_set1_ps(n_bins);
  const __m512 v_zero = _mm512_setzero_ps();
  __m512 v[8];
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t g = 0; g < n_groups; ++g) {
      const int64_t base = r * job.cols + g * job.group;
      v[0] = load16(job.w, job.dt, base);
      __m512 lo = v[0], hi = v[0];
      for (int k = 1; k < vecs; ++k) {
        v[k] = load16(job.w, job.dt, base + 16 * k);
        lo = _mm512_min_ps(lo, v[k]);
        hi = _mm512_max_ps(hi, v[k]);
      }
      float w_min = _mm512_reduce_min_ps(lo);
      float w_max = _mm512_reduce_max_ps(hi);
      if constexpr (R == Rounding::Gpu) {  // Metal: w_min starts at the dtype's max, w_max at 0
        w_min = std::min(dtype_max(job.dt), w_min);
        w_max = std::max(0.0f, w_max);
      }
      const GroupParams p = group_params(w_min, w_max, job.bits, R);
      const __m512 v_bias = _mm512_set1_ps(p.bias);
      const __m512 v_scale = _mm512_set1_ps(p.scale);
      auto* out = reinterpret_cast<uint8_t*>(job.packed + r * row_words + g * group_words);
      for (int k = 0; k < vecs; ++k) {
        const __m512 x = _mm512_div_ps(_mm512_sub_ps(v[k], v_bias), v_scale);
        __m512 q = R == Rounding::Gpu ? round_away(x) : _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q = _mm512_min_ps(_mm512_max_ps(q, v_zero), v_bins);
        pack16(_mm512_cvtepi32_epi8(_mm512_cvttps_epi32(q)), job.bits, out + 2 * job.bits * k);
      }
      store_param(job.scales, job.dt, r * n_groups + g, p.scale);
      store_param(job.biases, job.dt, r * n_groups + g, p.bias);
    }
  }
}

}  // namespace

void affine_rows_avx512(const AffineJob& job, int64_t r0, int64_t r1) {
  if (job.rounding == Rounding::Gpu)
    rows<Rounding::Gpu>(job, r0, r1);
  else
    rows<Rounding::Cpu>(job, r0, r1);
}

}  // namespace mlx::quant::detail
