// AVX-512 affine quantization kernel: the shared SIMD kernel (affine_simd_impl.h) over 16 float lanes.
// GCC 12 reports its own _mm512_undefined_* placeholders inside the intrinsics as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include "quant/affine_simd_impl.h"

namespace mlx::quant::detail {
namespace {

struct Avx512Ops {
  using F = __m512;
  static constexpr int N = 16;

  static F load(const void* w, DType dt, int64_t i) {
    switch (dt) {
      case DType::F32: return _mm512_loadu_ps(static_cast<const float*>(w) + i);
      case DType::F16:
        return _mm512_cvtph_ps(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i)));
      default: {  // bf16 is the top half of a float32
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
      }
    }
  }
  static F loadf(const float* p) { return _mm512_load_ps(p); }
  static void storef(float* p, F v) { _mm512_store_ps(p, v); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F max_keep_first(F a, F b) { return _mm512_max_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F abs(F a) { return _mm512_abs_ps(a); }
  static F neg(F a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }
  static __mmask16 gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static __mmask16 ne(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
  // Lanes where m is set take b, the others a.
  static F blend(__mmask16 m, F a, F b) { return _mm512_mask_blend_ps(m, a, b); }
  static F rint(F x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F trunc(F x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }
  static __mmask16 le(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static bool any(__mmask16 m) { return m != 0; }
  // Half away from zero given t = trunc(x) and frac = |x - t| (exact): one step away from zero when frac >= 1/2.
  static F round_away(F x, F t, F frac) {
    const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const F one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(x, _mm512_set1_ps(-0.0f)));  // copysign(1, x)
    return _mm512_mask_add_ps(t, up, t, one);
  }
  static float reduce_min(F v) { return _mm512_reduce_min_ps(v); }
  static float reduce_max(F v) { return _mm512_reduce_max_ps(v); }
  // 16 integral values in [0, 255] -> 16 bytes.
  static __m128i bytes16(const F* q) { return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(q[0])); }
};

}  // namespace

void affine_rows_avx512(const AffineJob& job, int64_t r0, int64_t r1) { affine_rows_simd<Avx512Ops>(job, r0, r1); }

}  // namespace mlx::quant::detail
