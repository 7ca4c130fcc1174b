// AVX2 affine quantization kernel: the shared SIMD kernel (affine_simd_impl.h) over 8 float lanes.
#include <immintrin.h>

#include "quant/affine_simd_impl.h"

namespace mlx::quant::detail {
namespace {

struct Avx2Ops {
  using F = __m256;
  static constexpr int N = 8;

  static F load(const void* w, DType dt, int64_t i) {
    switch (dt) {
      case DType::F32: return _mm256_loadu_ps(static_cast<const float*>(w) + i);
      case DType::F16:
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i)));
      default: {  // bf16 is the top half of a float32
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
      }
    }
  }
  static F loadf(const float* p) { return _mm256_load_ps(p); }
  static void storef(float* p, F v) { _mm256_store_ps(p, v); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F max_keep_first(F a, F b) { return _mm256_max_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F abs(F a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static F neg(F a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
  static F gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static F ne(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
  // Lanes where m is set take b, the others a.
  static F blend(F m, F a, F b) { return _mm256_blendv_ps(a, b, m); }
  static F rint(F x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F trunc(F x) { return _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }
  static F le(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static bool any(F m) { return _mm256_movemask_ps(m) != 0; }
  // Half away from zero given t = trunc(x) and frac = |x - t| (exact): one step away from zero when frac >= 1/2.
  static F round_away(F x, F t, F frac) {
    const F up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const F one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));  // copysign(1, x)
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
  }
  static float reduce_min(F v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_min_ss(m, _mm_movehdup_ps(m)));
  }
  static float reduce_max(F v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
  }
  // Two vectors of 8 integral values in [0, 255] -> 16 bytes in order.
  static __m128i bytes16(const F* q) {
    const __m256i a = _mm256_cvttps_epi32(q[0]), b = _mm256_cvttps_epi32(q[1]);
    const __m128i wa = _mm_packus_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    const __m128i wb = _mm_packus_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    return _mm_packus_epi16(wa, wb);
  }
};

}  // namespace

void affine_rows_avx2(const AffineJob& job, int64_t r0, int64_t r1) { affine_rows_simd<Avx2Ops>(job, r0, r1); }

}  // namespace mlx::quant::detail
