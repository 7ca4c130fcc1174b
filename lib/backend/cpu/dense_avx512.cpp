// AVX-512 kernels for float weights (F32 / F16 / BF16): a matvec for small m that converts in registers, and the
// tile conversion prefill feeds to sgemm.
#include <immintrin.h>

#include <algorithm>

#include "backend/cpu/kernels.h"

// GCC 12 reports the deliberately undefined pass-through operand inside its own AVX-512 intrinsics
// (_mm512_undefined_*) as maybe-uninitialized; it is a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace mlx::cpu::detail {

namespace {

template <DType T>
inline __m512 load16(const void* base, int64_t j) {
  if constexpr (T == DType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(base) + j);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + j));
    if constexpr (T == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);  // exact, subnormals / inf / NaN included
  }
}

template <DType T>
inline __m512 load16_masked(const void* base, int64_t j, __mmask16 k) {
  if constexpr (T == DType::F32) {
    return _mm512_maskz_loadu_ps(k, static_cast<const float*>(base) + j);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(k, static_cast<const uint16_t*>(base) + j);
    if constexpr (T == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  }
}

template <DType T, int M>
void rows(const DenseWeight& w, const float* x, int64_t r0, int64_t r1, float* y, int64_t ldy, int64_t i0) {
  const int64_t in = w.in_features;
  const size_t esz = T == DType::F32 ? 4 : 2;
  for (int64_t r = r0; r < r1; ++r) {
    const void* row = static_cast<const char*>(w.data) + size_t(r * in) * esz;
    __m512 a0[M], a1[M];
    for (int i = 0; i < M; ++i) a0[i] = a1[i] = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 32 <= in; j += 32) {
      const __m512 w0 = load16<T>(row, j), w1 = load16<T>(row, j + 16);
      for (int i = 0; i < M; ++i) {
        const float* xi = x + (i0 + i) * in;
        a0[i] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xi + j), a0[i]);
        a1[i] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xi + j + 16), a1[i]);
      }
    }
    for (; j < in; j += 16) {
      const __mmask16 k = in - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (in - j)) - 1);
      const __m512 w0 = load16_masked<T>(row, j, k);
      for (int i = 0; i < M; ++i)
        a0[i] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(k, x + (i0 + i) * in + j), a0[i]);
    }
    for (int i = 0; i < M; ++i) y[(i0 + i) * ldy + r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[i], a1[i]));
  }
}

template <DType T>
void run(const DenseWeight& w, const float* x, int m, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  for (int i0 = 0; i0 < m; i0 += 4) {
    switch (m - i0 < 4 ? m - i0 : 4) {
      case 1: rows<T, 1>(w, x, r0, r1, y, ldy, i0); break;
      case 2: rows<T, 2>(w, x, r0, r1, y, ldy, i0); break;
      case 3: rows<T, 3>(w, x, r0, r1, y, ldy, i0); break;
      default: rows<T, 4>(w, x, r0, r1, y, ldy, i0); break;
    }
  }
}

}  // namespace

void dense_matvec_avx512(const DenseWeight& w, const float* x, int m, int64_t r0, int64_t r1, float* y,
                         int64_t ldy) {
  switch (w.dtype) {
    case DType::F32: return run<DType::F32>(w, x, m, r0, r1, y, ldy);
    case DType::F16: return run<DType::F16>(w, x, m, r0, r1, y, ldy);
    default: return run<DType::BF16>(w, x, m, r0, r1, y, ldy);
  }
}

void convert_rows_avx512(const DenseWeight& w, int64_t r0, int64_t r1, float* out) {
  const int64_t n = (r1 - r0) * w.in_features;
  const size_t off = size_t(r0 * w.in_features);
  if (w.dtype == DType::F32) {
    const float* s = static_cast<const float*>(w.data) + off;
    std::copy(s, s + n, out);
    return;
  }
  const uint16_t* s = static_cast<const uint16_t*>(w.data) + off;
  int64_t j = 0;
  if (w.dtype == DType::BF16) {
    for (; j + 16 <= n; j += 16) _mm512_storeu_ps(out + j, load16<DType::BF16>(s, j));
    for (; j < n; ++j) out[j] = bf16_to_f32(s[j]);
  } else {
    for (; j + 16 <= n; j += 16) _mm512_storeu_ps(out + j, load16<DType::F16>(s, j));
    for (; j < n; ++j) out[j] = f16_to_f32(s[j]);
  }
}

}  // namespace mlx::cpu::detail
