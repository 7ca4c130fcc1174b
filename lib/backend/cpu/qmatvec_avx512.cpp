// AVX-512 quantized matvec for small m (decode): the packed weights are unpacked and dequantized in registers,
// 16 lanes at a time, and multiplied with x stored in the matching permuted layout (kernels.h, QActs).
//
// Unpacking. Every 32-bit lane holds V consecutive values ("V-tuple") of the row's LSB-first bit stream:
//   bits 2, 4, 8: V = 32/bits, the tuple is exactly one packed word, so a block is 16 words loaded as they are.
//   bits 3, 5, 6: V = 4; a 64-value block is 8*bits bytes; vpermw gives each 128-bit lane the 16 bytes starting
//   at byte 2*bits*lane, vpshufb moves the 3-4 bytes holding tuple j into dword j, and for odd bits a vpsrlvd
//   drops the half byte the tuple starts at. Then value k of every tuple is (lane >> k*bits) & mask.
// Scales. Σ(q·s+b)·x over a group = s·Σq·x + b·Σx: the block's Σq·x per lane is multiplied by a vector holding
// each lane's group scale, and the bias term is one dot product of the row's biases with the per-group sums of x.
#include <immintrin.h>

// GCC 12 reports the deliberately undefined pass-through operand inside its own AVX-512 intrinsics
// (_mm512_undefined_*) as maybe-uninitialized; it is a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <cstring>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/weight_decode.h"

namespace mlx::cpu::detail {

namespace {

constexpr int L = 16;  // lanes

enum class Kind { Affine, Fp4, Fp8 };

template <int BITS>
constexpr int tuple_values() {
  return tuple_values_for(BITS);
}

// Constants for the unaligned (3/5/6-bit) unpack.
template <int BITS>
struct Straddle {
  __m512i words, bytes, shifts;
  Straddle() {
    alignas(64) uint16_t w[32];
    alignas(64) uint8_t b[64];
    alignas(64) uint32_t s[16];
    for (int lane = 0; lane < 4; ++lane)
      for (int i = 0; i < 8; ++i) w[lane * 8 + i] = uint16_t(BITS * lane + i);
    for (int lane = 0; lane < 4; ++lane)
      for (int j = 0; j < 4; ++j)
        for (int t = 0; t < 4; ++t) b[lane * 16 + j * 4 + t] = uint8_t((BITS * j) / 2 + t);
    for (int l = 0; l < 16; ++l) s[l] = uint32_t((4 * BITS * (l % 4)) % 8);
    words = _mm512_load_si512(w);
    bytes = _mm512_load_si512(b);
    shifts = _mm512_load_si512(s);
  }
};

// The 16 tuples of one block starting at `src` (full block readable).
template <int BITS>
inline __m512i load_tuples(const uint8_t* src, const Straddle<BITS>& c) {
  if constexpr (tuple_values<BITS>() * BITS == 32) {
    return _mm512_loadu_si512(src);
  } else {
    const __m512i raw = _mm512_maskz_loadu_epi16((__mmask32)((1ull << (4 * BITS)) - 1), src);
    __m512i v = _mm512_permutexvar_epi16(c.words, raw);
    v = _mm512_shuffle_epi8(v, c.bytes);
    if constexpr (BITS % 2 == 1) v = _mm512_srlv_epi32(v, c.shifts);
    return v;
  }
}

// Value k of every tuple, as float (before the group scale).
// InPlace (affine only): value k is left at bit k*bits, i.e. scaled by 2^(k*bits).
template <Kind K, int BITS, int k, bool InPlace = true>
inline __m512 decode(__m512i v, __m512 lut) {
  const __m512i t = (k == 0 || (K == Kind::Affine && InPlace)) ? v : _mm512_srli_epi32(v, k * BITS);
  if constexpr (K == Kind::Fp4) {
    return _mm512_permutexvar_ps(t, lut);  // uses the low 4 bits only
  } else if constexpr (K == Kind::Fp8) {
    // E4M3 -> f32: exponent/mantissa moved into place as a float is exact up to a factor 2^-120 (also for the
    // subnormals); the sign goes to bit 31.
    const __m512i mag = _mm512_and_si512(_mm512_slli_epi32(t, 20), _mm512_set1_epi32(0x07F00000));
    const __m512i sign = _mm512_and_si512(_mm512_slli_epi32(t, 24), _mm512_set1_epi32(int(0x80000000u)));
    return _mm512_mul_ps(_mm512_castsi512_ps(_mm512_or_si512(mag, sign)), _mm512_set1_ps(0x1p120f));
  } else if constexpr (!InPlace) {
    return _mm512_cvtepi32_ps(_mm512_and_si512(t, _mm512_set1_epi32((1 << BITS) - 1)));
  } else {
    // Affine: value k is masked in place, not shifted down; x was prescaled by 2^-(k*bits) to match (exact).
    (void)t;
    return _mm512_cvtepu32_ps(_mm512_and_si512(v, _mm512_set1_epi32(int(((1u << BITS) - 1u) << (k * BITS)))));
  }
}

template <Kind K, int BITS, int M, int... ks>
inline void block_dots(__m512i v, __m512 lut, const float* const* xb, __m512* t0, __m512* t1,
                       std::integer_sequence<int, ks...>) {
  // Two partial chains per vector keep the FMA latency off the critical path.
  (
      [&] {
        const __m512 wv = decode<K, BITS, ks>(v, lut);
        for (int i = 0; i < M; ++i) {
          const __m512 xv = _mm512_loadu_ps(xb[i] + ks * L);
          if constexpr (ks == 0) t0[i] = _mm512_mul_ps(wv, xv);
          else if constexpr (ks == 1) t1[i] = _mm512_mul_ps(wv, xv);
          else if constexpr (ks % 2 == 0) t0[i] = _mm512_fmadd_ps(wv, xv, t0[i]);
          else t1[i] = _mm512_fmadd_ps(wv, xv, t1[i]);
        }
      }(),
      ...);
}

struct RowCtx {
  const uint8_t* row;      // packed row
  int64_t row_bytes;
  const float* scales;     // decoded, zero-padded by >= 8
  const __m512i* gidx;     // lane -> group offset inside the block
  int64_t nblk;
};

// Σ_j w_j x_i[j] without the bias term, for M vectors.
template <Kind K, int BITS, int M>
void row_dots(const RowCtx& c, const float* const* x, int64_t in_pad, const Straddle<BITS>& st, __m512 lut,
              int group, float* out) {
  const int gshift = __builtin_ctz(unsigned(group));  // group sizes are powers of two: no division per block
  constexpr int V = tuple_values<BITS>();
  constexpr int BV = V * L;              // values per block
  constexpr int BB = BV * BITS / 8;      // bytes per block
  (void)in_pad;
  __m512 acc[M];
  for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
  alignas(64) uint8_t tail[128];
  for (int64_t b = 0; b < c.nblk; ++b) {
    const uint8_t* src = c.row + b * BB;
    if (b * BB + BB > c.row_bytes) {  // a partial last block: never read past the row
      std::memset(tail, 0, sizeof tail);
      std::memcpy(tail, src, size_t(c.row_bytes - b * BB));
      src = tail;
    } else {
      _mm_prefetch(reinterpret_cast<const char*>(src) + 1024, _MM_HINT_T0);
    }
    const __m512i v = load_tuples<BITS>(src, st);
    const __m512 sv = _mm512_permutexvar_ps(*c.gidx, _mm512_castps256_ps512(_mm256_loadu_ps(c.scales + ((b * BV) >> gshift))));
    const float* xb[M];
    for (int i = 0; i < M; ++i) xb[i] = x[i] + b * BV;
    __m512 t0[M], t1[M];
    block_dots<K, BITS, M>(v, lut, xb, t0, t1, std::make_integer_sequence<int, V>{});
    for (int i = 0; i < M; ++i) acc[i] = _mm512_fmadd_ps(_mm512_add_ps(t0[i], t1[i]), sv, acc[i]);
  }
  for (int i = 0; i < M; ++i) out[i] = _mm512_reduce_add_ps(acc[i]);
}

// m = 1, two rows at once: every x load feeds both rows, and the two rows are independent FMA chains.
template <Kind K, int BITS>
void row_pair_dots(const RowCtx& c0, const RowCtx& c1, const float* x, const Straddle<BITS>& st, __m512 lut,
                   int group, float* out) {
  const int gshift = __builtin_ctz(unsigned(group));  // group sizes are powers of two: no division per block
  constexpr int V = tuple_values<BITS>();
  constexpr int BV = V * L;
  constexpr int BB = BV * BITS / 8;
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  const int64_t nfull = c0.row_bytes / BB;
  alignas(64) uint8_t tail0[128], tail1[128];
  for (int64_t b = 0; b < c0.nblk; ++b) {
    const uint8_t* src0 = c0.row + b * BB;
    const uint8_t* src1 = c1.row + b * BB;
    if (b >= nfull) {  // a partial last block: never read past the row
      std::memset(tail0, 0, sizeof tail0);
      std::memset(tail1, 0, sizeof tail1);
      std::memcpy(tail0, src0, size_t(c0.row_bytes - b * BB));
      std::memcpy(tail1, src1, size_t(c1.row_bytes - b * BB));
      src0 = tail0;
      src1 = tail1;
    } else {
      _mm_prefetch(reinterpret_cast<const char*>(src0) + 1024, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(src1) + 1024, _MM_HINT_T0);
    }
    const __m512i v0 = load_tuples<BITS>(src0, st), v1 = load_tuples<BITS>(src1, st);
    const __m512 s0 = _mm512_permutexvar_ps(*c0.gidx, _mm512_castps256_ps512(_mm256_loadu_ps(c0.scales + ((b * BV) >> gshift))));
    const __m512 s1 = _mm512_permutexvar_ps(*c0.gidx, _mm512_castps256_ps512(_mm256_loadu_ps(c1.scales + ((b * BV) >> gshift))));
    const float* xb = x + b * BV;
    __m512 t0, t1;
    [&]<int... ks>(std::integer_sequence<int, ks...>) {
      (
          [&] {
            const __m512 xv = _mm512_loadu_ps(xb + ks * L);
            const __m512 w0 = decode<K, BITS, ks>(v0, lut), w1 = decode<K, BITS, ks>(v1, lut);
            if constexpr (ks == 0) {
              t0 = _mm512_mul_ps(w0, xv);
              t1 = _mm512_mul_ps(w1, xv);
            } else {
              t0 = _mm512_fmadd_ps(w0, xv, t0);
              t1 = _mm512_fmadd_ps(w1, xv, t1);
            }
          }(),
          ...);
    }(std::make_integer_sequence<int, V>{});
    acc0 = _mm512_fmadd_ps(t0, s0, acc0);
    acc1 = _mm512_fmadd_ps(t1, s1, acc1);
  }
  out[0] = _mm512_reduce_add_ps(acc0);
  out[1] = _mm512_reduce_add_ps(acc1);
}

inline float dot(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), acc);
  if (j < n) {
    const __mmask16 mk = __mmask16((1u << (n - j)) - 1);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + j), _mm512_maskz_loadu_ps(mk, b + j), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

template <Kind K, int BITS>
void run(const QuantizedWeight& w, const QActs& a, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  constexpr int V = tuple_values<BITS>();
  constexpr int BV = V * L;
  const Straddle<BITS> st;
  const int G = w.group_size;
  alignas(64) int32_t gi[16];
  for (int l = 0; l < 16; ++l) gi[l] = (V * l) / G;  // G >= 64 with V*16 <= G: all lanes in group 0
  const __m512i gidx = _mm512_load_si512(gi);
  const __m512 lut = _mm512_loadu_ps(kE2M1);
  const int64_t ng = groups_per_row(w), row_bytes = w.in_features * BITS / 8;
  const int64_t nblk = (w.in_features + BV - 1) / BV;
  thread_local std::vector<float> scales, biases;
  scales.assign(size_t(ng + 16), 0.0f);
  biases.assign(size_t(ng + 16), 0.0f);
  const float* xs[kMaxSmallM];
  for (int i = 0; i < a.m; ++i) xs[i] = a.xp + i * a.in_pad;
  const uint8_t* packed = reinterpret_cast<const uint8_t*>(w.packed);
  // The scales and biases of rows a few ahead: small separate reads the hardware prefetcher misses.
  const size_t sbytes = size_t(ng) * (w.mode == QuantMode::Affine ? dtype_size(w.scale_dtype) : 1);
  auto prefetch_scales = [&](int64_t row, int n) {
    if (row + n > r1) return;
    for (size_t o = 0; o < size_t(n) * sbytes; o += 64) {
      _mm_prefetch(static_cast<const char*>(w.scales) + size_t(row) * sbytes + o, _MM_HINT_T0);
      if (w.biases) _mm_prefetch(static_cast<const char*>(w.biases) + size_t(row) * sbytes + o, _MM_HINT_T0);
    }
  };
  int64_t r = r0;
  if (a.m == 1) {
    thread_local std::vector<float> scales1, biases1;
    scales1.assign(size_t(ng + 16), 0.0f);
    biases1.assign(size_t(ng + 16), 0.0f);
    for (; r + 2 <= r1; r += 2) {
      prefetch_scales(r + 8, 2);
      decode_scales(w, r, scales.data(), biases.data());
      decode_scales(w, r + 1, scales1.data(), biases1.data());
      const RowCtx c0{packed + r * row_bytes, row_bytes, scales.data(), &gidx, nblk};
      const RowCtx c1{packed + (r + 1) * row_bytes, row_bytes, scales1.data(), &gidx, nblk};
      float d[2];
      row_pair_dots<K, BITS>(c0, c1, xs[0], st, lut, G, d);
      if constexpr (K == Kind::Affine) {
        d[0] += dot(biases.data(), a.xsum, ng);
        d[1] += dot(biases1.data(), a.xsum, ng);
      }
      y[r] = d[0];
      y[r + 1] = d[1];
    }
  }
  for (; r < r1; ++r) {
    prefetch_scales(r + 4, 1);
    decode_scales(w, r, scales.data(), biases.data());
    const RowCtx c{packed + r * row_bytes, row_bytes, scales.data(), &gidx, nblk};
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
  alignas(64) int32_t gi[16];
  for (int l = 0; l < 16; ++l) gi[l] = (V * l) / G;
  const __m512i gidx = _mm512_load_si512(gi);
  const __m512 lut = _mm512_loadu_ps(kE2M1);
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
      if (b * BB + BB > row_bytes) {
        std::memset(tail, 0, sizeof tail);
        if (row_bytes > b * BB) std::memcpy(tail, src, size_t(row_bytes - b * BB));
        src = tail;
      }
      const __m512i v = load_tuples<BITS>(src, st);
      const __m512 sv = _mm512_permutexvar_ps(gidx, _mm512_castps256_ps512(_mm256_loadu_ps(scales.data() + ((b * BV) >> gshift))));
      const __m512 bv = _mm512_permutexvar_ps(gidx, _mm512_castps256_ps512(_mm256_loadu_ps(biases.data() + ((b * BV) >> gshift))));
      [&]<int... ks>(std::integer_sequence<int, ks...>) {
        ((_mm512_storeu_ps(o + b * BV + ks * L, K == Kind::Affine
                                                    ? _mm512_fmadd_ps(decode<K, BITS, ks, false>(v, lut), sv, bv)
                                                    : _mm512_mul_ps(decode<K, BITS, ks, false>(v, lut), sv))),
         ...);
      }(std::make_integer_sequence<int, V>{});
    }
  }
}

}  // namespace

void dequant_tuples_avx512(const QuantizedWeight& w, int64_t r0, int64_t r1, float* out, int64_t in_pad) {
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

void qmatvec_avx512(const QuantizedWeight& w, const QActs& a, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  if (q8_acts_applies(w, a.m)) return qmatvec_q8_avx512(w, a, r0, r1, y);
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
