// AVX2 quantized matvec for small m (decode): the AVX-512 kernel's scheme (see qmatvec_avx512.cpp) on 8 lanes.
// The packed weights are unpacked and dequantized in registers and multiplied with x in the permuted layout of
// kernels.h (QActs).
//
// Unpacking. Every 32-bit lane holds V consecutive values ("V-tuple") of the row's LSB-first bit stream:
//   bits 2, 4, 8: V = 32/bits, the tuple is exactly one packed word, so a block is 16 words loaded as they are.
//   bits 3, 5, 6: V = 4; a 32-value block is 4*bits bytes; two 16-byte loads give 128-bit lane i the bytes from
//   2*bits*i, vpshufb moves the 3-4 bytes holding tuple j into dword j, and for odd bits a vpsrlvd
//   drops the half byte the tuple starts at. Then value k of every tuple is (lane >> k*bits) & mask.
// Scales. Σ(q·s+b)·x over a group = s·Σq·x + b·Σx: the block's Σq·x per lane is multiplied by a vector holding
// each lane's group scale, and the bias term is one dot product of the row's biases with the per-group sums of x.
#include <immintrin.h>


#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/weight_decode.h"

namespace mlx::cpu::detail {

namespace {

constexpr int L = 8;  // lanes

enum class Kind { Affine, Fp4, Fp8 };

template <int BITS>
constexpr int tuple_values() {
  return tuple_values_for(BITS);
}

// Constants for the unaligned (3/5/6-bit) unpack.
template <int BITS>
struct Straddle {
  __m256i bytes, shifts;
  Straddle() {
    alignas(32) uint8_t b[32];
    alignas(32) uint32_t s[8];
    for (int lane = 0; lane < 2; ++lane)
      for (int j = 0; j < 4; ++j)
        for (int t = 0; t < 4; ++t) b[lane * 16 + j * 4 + t] = uint8_t((BITS * j) / 2 + t);
    for (int l = 0; l < 8; ++l) s[l] = uint32_t((4 * BITS * (l % 4)) % 8);
    bytes = _mm256_load_si256(reinterpret_cast<const __m256i*>(b));
    shifts = _mm256_load_si256(reinterpret_cast<const __m256i*>(s));
  }
};

// Bytes a block load touches (the straddle load reads 16 bytes from 2*bits, past the block's 4*bits).
template <int BITS>
constexpr int read_bytes() {
  return tuple_values<BITS>() * BITS == 32 ? 32 : 2 * BITS + 16;
}

// The 8 tuples of one block starting at `src` (read_bytes readable).
template <int BITS>
inline __m256i load_tuples(const uint8_t* src, const Straddle<BITS>& c) {
  if constexpr (tuple_values<BITS>() * BITS == 32) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  } else {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * BITS));
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    v = _mm256_shuffle_epi8(v, c.bytes);
    if constexpr (BITS % 2 == 1) v = _mm256_srlv_epi32(v, c.shifts);
    return v;
  }
}

// Value k of every tuple, as float (before the group scale).
template <Kind K, int BITS, int k>
inline __m256 decode(__m256i v, __m256 lut) {
  constexpr int V = tuple_values<BITS>();
  const __m256i t = k == 0 ? v : _mm256_srli_epi32(v, k * BITS);
  if constexpr (K == Kind::Fp4) {
    // E2M1: magnitude from the 8-entry LUT (low 3 bits), sign bit 3 moved to bit 31.
    const __m256 mag = _mm256_permutevar8x32_ps(lut, t);
    const __m256i sign = _mm256_and_si256(_mm256_slli_epi32(t, 28), _mm256_set1_epi32(int(0x80000000u)));
    return _mm256_xor_ps(mag, _mm256_castsi256_ps(sign));
  } else if constexpr (K == Kind::Fp8) {
    const __m256i mag = _mm256_and_si256(_mm256_slli_epi32(t, 20), _mm256_set1_epi32(0x07F00000));
    const __m256i sign = _mm256_and_si256(_mm256_slli_epi32(t, 24), _mm256_set1_epi32(int(0x80000000u)));
    return _mm256_mul_ps(_mm256_castsi256_ps(_mm256_or_si256(mag, sign)), _mm256_set1_ps(0x1p120f));
  } else {
    const __m256i q = (k == V - 1 && V * BITS == 32) ? t : _mm256_and_si256(t, _mm256_set1_epi32((1 << BITS) - 1));
    return _mm256_cvtepi32_ps(q);
  }
}

template <Kind K, int BITS, int M, int... ks>
inline void block_dots(__m256i v, __m256 lut, const float* const* xb, __m256* t0, __m256* t1,
                       std::integer_sequence<int, ks...>) {
  (
      [&] {
        const __m256 wv = decode<K, BITS, ks>(v, lut);
        for (int i = 0; i < M; ++i) {
          const __m256 xv = _mm256_loadu_ps(xb[i] + ks * L);
          if constexpr (ks == 0) t0[i] = _mm256_mul_ps(wv, xv);
          else if constexpr (ks == 1) t1[i] = _mm256_mul_ps(wv, xv);
          else if constexpr (ks % 2 == 0) t0[i] = _mm256_fmadd_ps(wv, xv, t0[i]);
          else t1[i] = _mm256_fmadd_ps(wv, xv, t1[i]);
        }
      }(),
      ...);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

struct RowCtx {
  const uint8_t* row;      // packed row
  int64_t row_bytes;
  const float* scales;     // decoded, zero-padded by >= 8
  const __m256i* gidx;     // lane -> group offset inside the block
  int64_t nblk;
};

// Σ_j w_j x_i[j] without the bias term, for M vectors.
template <Kind K, int BITS, int M>
void row_dots(const RowCtx& c, const float* const* x, int64_t in_pad, const Straddle<BITS>& st, __m256 lut,
              int group, float* out) {
  const int gshift = __builtin_ctz(unsigned(group));  // group sizes are powers of two: no division per block
  constexpr int V = tuple_values<BITS>();
  constexpr int BV = V * L;              // values per block
  constexpr int BB = BV * BITS / 8;      // bytes per block
  (void)in_pad;
  __m256 acc[M];
  for (int i = 0; i < M; ++i) acc[i] = _mm256_setzero_ps();
  alignas(64) uint8_t tail[128];
  for (int64_t b = 0; b < c.nblk; ++b) {
    const uint8_t* src = c.row + b * BB;
    if (b * BB + read_bytes<BITS>() > c.row_bytes) {  // never read past the row
      std::memset(tail, 0, sizeof tail);
      std::memcpy(tail, src, size_t(c.row_bytes - b * BB));
      src = tail;
    } else {
      _mm_prefetch(reinterpret_cast<const char*>(src) + 1024, _MM_HINT_T0);
    }
    const __m256i v = load_tuples<BITS>(src, st);
    const __m256 sv = _mm256_permutevar8x32_ps(_mm256_loadu_ps(c.scales + ((b * BV) >> gshift)), *c.gidx);
    const float* xb[M];
    for (int i = 0; i < M; ++i) xb[i] = x[i] + b * BV;
    __m256 t0[M], t1[M];
    block_dots<K, BITS, M>(v, lut, xb, t0, t1, std::make_integer_sequence<int, V>{});
    for (int i = 0; i < M; ++i) acc[i] = _mm256_fmadd_ps(_mm256_add_ps(t0[i], t1[i]), sv, acc[i]);
  }
  for (int i = 0; i < M; ++i) out[i] = hsum(acc[i]);
}

inline float dot(const float* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc);
  float s = hsum(acc);
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}

template <Kind K, int BITS>
void run(const QuantizedWeight& w, const QActs& a, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  constexpr int V = tuple_values<BITS>();
  constexpr int BV = V * L;
  const Straddle<BITS> st;
  const int G = w.group_size;
  alignas(32) int32_t gi[8];
  for (int l = 0; l < 8; ++l) gi[l] = (V * l) / G;  // lane -> group within the block
  const __m256i gidx = _mm256_load_si256(reinterpret_cast<const __m256i*>(gi));
  const __m256 lut = _mm256_loadu_ps(kE2M1);  // the 8 non-negative E2M1 values
  const int64_t ng = groups_per_row(w), row_bytes = w.in_features * BITS / 8;
  const int64_t nblk = (w.in_features + BV - 1) / BV;
  thread_local std::vector<float> scales, biases;
  scales.assign(size_t(ng + 16), 0.0f);
  biases.assign(size_t(ng + 16), 0.0f);
  const float* xs[kMaxSmallM];
  for (int i = 0; i < a.m; ++i) xs[i] = a.xp + i * a.in_pad;
  for (int64_t r = r0; r < r1; ++r) {
    decode_scales(w, r, scales.data(), biases.data());
    const RowCtx c{reinterpret_cast<const uint8_t*>(w.packed) + r * row_bytes, row_bytes, scales.data(), &gidx, nblk};
    float d[4];
    for (int i0 = 0; i0 < a.m; i0 += 4) {
      const int mm = a.m - i0 < 4 ? a.m - i0 : 4;
      switch (mm) {
        case 1: row_dots<K, BITS, 1>(c, xs + i0, a.in_pad, st, lut, G, d); break;
        case 2: row_dots<K, BITS, 2>(c, xs + i0, a.in_pad, st, lut, G, d); break;
        case 3: row_dots<K, BITS, 3>(c, xs + i0, a.in_pad, st, lut, G, d); break;
        default: row_dots<K, BITS, 4>(c, xs + i0, a.in_pad, st, lut, G, d); break;
      }
      for (int i = 0; i < mm; ++i) {
        float v = d[i];
        if constexpr (K == Kind::Affine) v += dot(biases.data(), a.xsum + (i0 + i) * a.groups, ng);
        y[(i0 + i) * ldy + r] = v;
      }
    }
  }
}

// Rows [r0, r1) as float in the tuple layout (kernels.h), out[(r - r0) * in_pad + ...]: w = q*s + b.
template <Kind K, int BITS>
void dequant(const QuantizedWeight& w, int64_t r0, int64_t r1, float* out, int64_t in_pad) {
  constexpr int V = tuple_values<BITS>(), BV = V * L, BB = BV * BITS / 8;
  const Straddle<BITS> st;
  const int G = w.group_size, gshift = __builtin_ctz(unsigned(G));
  alignas(32) int32_t gi[8];
  for (int l = 0; l < 8; ++l) gi[l] = (V * l) / G;
  const __m256i gidx = _mm256_load_si256(reinterpret_cast<const __m256i*>(gi));
  const __m256 lut = _mm256_loadu_ps(kE2M1);
  const int64_t ng = groups_per_row(w), row_bytes = w.in_features * BITS / 8;
  const int64_t nblk = in_pad / BV;
  std::vector<float> scales(size_t(ng + 16), 0.0f), biases(size_t(ng + 16), 0.0f);
  alignas(64) uint8_t tail[128];
  for (int64_t r = r0; r < r1; ++r) {
    decode_scales(w, r, scales.data(), biases.data());
    const uint8_t* row = reinterpret_cast<const uint8_t*>(w.packed) + r * row_bytes;
    float* o = out + (r - r0) * in_pad;
    for (int64_t b = 0; b < nblk; ++b) {
      const uint8_t* src = row + b * BB;
      if (b * BB + read_bytes<BITS>() > row_bytes) {
        std::memset(tail, 0, sizeof tail);
        if (row_bytes > b * BB) std::memcpy(tail, src, size_t(std::min<int64_t>(row_bytes - b * BB, 64)));
        src = tail;
      }
      const __m256i v = load_tuples<BITS>(src, st);
      const __m256 sv = _mm256_permutevar8x32_ps(_mm256_loadu_ps(scales.data() + ((b * BV) >> gshift)), gidx);
      const __m256 bv = _mm256_permutevar8x32_ps(_mm256_loadu_ps(biases.data() + ((b * BV) >> gshift)), gidx);
      [&]<int... ks>(std::integer_sequence<int, ks...>) {
        ((_mm256_storeu_ps(o + b * BV + ks * L, K == Kind::Affine ? _mm256_fmadd_ps(decode<K, BITS, ks>(v, lut), sv, bv)
                                                                  : _mm256_mul_ps(decode<K, BITS, ks>(v, lut), sv))),
         ...);
      }(std::make_integer_sequence<int, V>{});
    }
  }
}

}  // namespace

void dequant_tuples_avx2(const QuantizedWeight& w, int64_t r0, int64_t r1, float* out, int64_t in_pad) {
  switch (w.mode) {
    case QuantMode::MxFp4:
    case QuantMode::NvFp4: return dequant<Kind::Fp4, 4>(w, r0, r1, out, in_pad);
    case QuantMode::MxFp8: return dequant<Kind::Fp8, 8>(w, r0, r1, out, in_pad);
    case QuantMode::Affine: break;
  }
  switch (w.bits) {
    case 2: return dequant<Kind::Affine, 2>(w, r0, r1, out, in_pad);
    case 3: return dequant<Kind::Affine, 3>(w, r0, r1, out, in_pad);
    case 4: return dequant<Kind::Affine, 4>(w, r0, r1, out, in_pad);
    case 5: return dequant<Kind::Affine, 5>(w, r0, r1, out, in_pad);
    case 6: return dequant<Kind::Affine, 6>(w, r0, r1, out, in_pad);
    default: return dequant<Kind::Affine, 8>(w, r0, r1, out, in_pad);
  }
}

void qmatvec_avx2(const QuantizedWeight& w, const QActs& a, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  switch (w.mode) {
    case QuantMode::MxFp4:
    case QuantMode::NvFp4: return run<Kind::Fp4, 4>(w, a, r0, r1, y, ldy);
    case QuantMode::MxFp8: return run<Kind::Fp8, 8>(w, a, r0, r1, y, ldy);
    case QuantMode::Affine: break;
  }
  switch (w.bits) {
    case 2: return run<Kind::Affine, 2>(w, a, r0, r1, y, ldy);
    case 3: return run<Kind::Affine, 3>(w, a, r0, r1, y, ldy);
    case 4: return run<Kind::Affine, 4>(w, a, r0, r1, y, ldy);
    case 5: return run<Kind::Affine, 5>(w, a, r0, r1, y, ldy);
    case 6: return run<Kind::Affine, 6>(w, a, r0, r1, y, ldy);
    default: return run<Kind::Affine, 8>(w, a, r0, r1, y, ldy);
  }
}

}  // namespace mlx::cpu::detail
