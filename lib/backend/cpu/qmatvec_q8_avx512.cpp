// Decode matvec (m = 1) for affine 2-, 4- and 8-bit weights with int8 activations and VNNI integer dot products,
// the way llama.cpp multiplies Q4/Q8 weights with Q8 activations.
//
// x is quantized once per call, per chunk of 32 values: d_c = max|x|/127, x_q = round(x/d_c) in [-127, 127].
// vpdpbusd multiplies the weights' unsigned codes (u8) with x_q (s8) and sums 4 products per 32-bit lane, so a
// 64-byte block of packed weights takes one instruction per 8/bits "streams" (8-bit: 1; 4-bit: low and high nibbles;
// 2-bit: 4 bit pairs), each against x_q of the positions that stream holds. Per block, each lane's integer sum is made
// float and multiplied by its group scale times its chunk's d_c. The bias term Σ b_g·Σx_g uses the exact float sums of
// x (QActs.xsum).
//
// Two levels: the rounding residual t - round(t) (t = x/d_c, |residual| <= 1/2) is coded again in 1/128 steps, so
// x = (d_c/128)·(128·q + q_r) with error <= d_c/256 = max|x|/32512, and the lane sums combine as 128·Σq·q_x + Σq·q_r
// (twice the vpdpbusd per block). The bias term needs no rounding at all.
//
// Precision (bench/NOTES.md, decode perplexity of the demo model at 4-bit): one level moves perplexity by +0.2..0.9 %,
// two levels by < 0.01 %; results differ from the float kernel (and from MLX, which computes in float) by more than
// float rounding either way.
#include <immintrin.h>

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/weight_decode.h"

namespace mlx::cpu::detail {

namespace {

constexpr int L = 16;      // int32 lanes per vector
constexpr int kRows = 2;   // rows per pass (measured: 4 is no faster, slower at 8-bit)
constexpr int kAhead = 4;  // passes ahead to prefetch scales and biases

// Two levels by default (perplexity unchanged, see the header); MLX_CPU_Q8_ACTS=0 keeps float activations.
std::atomic<int>& q8_flag() {
  static std::atomic<int> levels{[] {
    const char* e = std::getenv("MLX_CPU_Q8_ACTS");
    if (e == nullptr) return 2;
    const std::string_view v(e);
    return v == "1" ? 1 : v == "0" ? 0 : 2;
  }()};
  return levels;
}

bool cpu_has_vnni() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") != 0;
  }();
  return has;
}

// A 64-byte block of codes holds NS = 8/bits streams: stream p is bits [p*bits, (p+1)*bits) of every byte.
template <int BITS>
constexpr int streams() {
  return 8 / BITS;
}

// The activations in the layout the kernels read, per thread (rebuilt on every call from QActs.xp): per stream, the
// int8 codes of the values that stream's codes multiply, block by block.
struct Q8Acts {
  std::vector<int8_t> q[4];  // first level, per stream
  std::vector<int8_t> r[4];  // two levels: the residual codes, same layout
  std::vector<float> dl;     // per weight lane of every block: the step of the chunk the lane lies in
};

// Bytes 0..3 of every lane from the low bytes of a, b, c, d.
inline __m512i pack_bytes(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i m = _mm512_set1_epi32(0xff);
  const __m512i ab = _mm512_or_si512(_mm512_and_si512(a, m), _mm512_slli_epi32(_mm512_and_si512(b, m), 8));
  const __m512i cd = _mm512_or_si512(_mm512_and_si512(c, m), _mm512_slli_epi32(d, 8));
  return _mm512_or_si512(ab, _mm512_slli_epi32(cd, 16));
}

// Straight from QActs.xp, where block b holds row k = x[b*BV + V*j + k] * 2^-(k*bits) in lane j (kernels.h): a
// lane's V values are the V values its weight lane (one packed word) multiplies; value k sits in byte k/NS of the
// word, stream k%NS, so byte u of stream p's lane j is row u*NS + p. A 32-value chunk is 32/V adjacent lanes.
template <int BITS, int LEVELS>
void prepare(const QActs& a, Q8Acts& q) {
  constexpr int V = 32 / BITS, BV = V * L, NS = streams<BITS>(), CL = 32 / V;
  const int64_t nblk = a.in_pad / BV;
  for (int p = 0; p < NS; ++p) {
    q.q[p].resize(size_t(nblk * 64));
    q.r[p].resize(size_t(LEVELS == 2 ? nblk * 64 : 0));
  }
  q.dl.resize(size_t(nblk * L));
  const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  __m512 up[V];  // undoes the 2^-(k*bits) prescale (exact)
  for (int k = 0; k < V; ++k) up[k] = _mm512_castsi512_ps(_mm512_set1_epi32((127 + k * BITS) << 23));
  for (int64_t b = 0; b < nblk; ++b) {
    __m512 r[V];
    __m512 m = _mm512_setzero_ps();
    for (int k = 0; k < V; ++k) {
      r[k] = _mm512_mul_ps(_mm512_loadu_ps(a.xp + b * BV + k * L), up[k]);
      m = _mm512_max_ps(m, _mm512_and_ps(r[k], absmask));
    }
    // Max over each chunk's CL lanes (2, 4 or 8 adjacent lanes).
    m = _mm512_max_ps(m, _mm512_permute_ps(m, _MM_SHUFFLE(2, 3, 0, 1)));
    if constexpr (CL >= 4) m = _mm512_max_ps(m, _mm512_permute_ps(m, _MM_SHUFFLE(1, 0, 3, 2)));
    if constexpr (CL >= 8) m = _mm512_max_ps(m, _mm512_shuffle_f32x4(m, m, _MM_SHUFFLE(2, 3, 0, 1)));
    // d = max/127; two levels: x = (d/128)·(128·q + q_r), the kernel's integer sums combine as 128·hi + lo.
    _mm512_storeu_ps(q.dl.data() + b * L, _mm512_div_ps(m, _mm512_set1_ps(LEVELS == 2 ? 127.0f * 128.0f : 127.0f)));
    const __m512 inv =
        _mm512_maskz_div_ps(_mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_set1_ps(127.0f), m);
    __m512i c[V], e[V];
    for (int k = 0; k < V; ++k) {
      const __m512 t = _mm512_mul_ps(r[k], inv);
      c[k] = _mm512_cvtps_epi32(t);  // round to nearest even
      // t - q is exact (|t - q| <= 1/2, same binade or q = 0); its code in 1/128 steps is within [-64, 64].
      if constexpr (LEVELS == 2)
        e[k] = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_sub_ps(t, _mm512_cvtepi32_ps(c[k])), _mm512_set1_ps(128.0f)));
      else
        e[k] = c[k];
    }
    for (int p = 0; p < NS; ++p) {
      _mm512_storeu_si512(q.q[p].data() + b * 64, pack_bytes(c[p], c[NS + p], c[2 * NS + p], c[3 * NS + p]));
      if constexpr (LEVELS == 2)
        _mm512_storeu_si512(q.r[p].data() + b * 64, pack_bytes(e[p], e[NS + p], e[2 * NS + p], e[3 * NS + p]));
    }
  }
}

// Row r's scales and biases widened to float into s[] and bi[] (ng values, zero-padded to ng + 16).
void widen_row(const QuantizedWeight& w, int64_t r, int64_t ng, float* s, float* bi) {
  const int64_t off = r * ng;
  if (w.scale_dtype == DType::F32) {
    std::memcpy(s, static_cast<const float*>(w.scales) + off, size_t(ng) * 4);
    std::memcpy(bi, static_cast<const float*>(w.biases) + off, size_t(ng) * 4);
    return;
  }
  const uint16_t* sp = static_cast<const uint16_t*>(w.scales) + off;
  const uint16_t* bp = static_cast<const uint16_t*>(w.biases) + off;
  const bool bf16 = w.scale_dtype == DType::BF16;
  for (int64_t g = 0; g < ng; g += 16) {
    const __mmask16 mk = ng - g >= 16 ? __mmask16(0xffff) : __mmask16((1u << (ng - g)) - 1);
    const __m256i sh = _mm256_maskz_loadu_epi16(mk, sp + g), bh = _mm256_maskz_loadu_epi16(mk, bp + g);
    if (bf16) {
      _mm512_storeu_ps(s + g, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(sh), 16)));
      _mm512_storeu_ps(bi + g, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bh), 16)));
    } else {
      _mm512_storeu_ps(s + g, _mm512_cvtph_ps(sh));
      _mm512_storeu_ps(bi + g, _mm512_cvtph_ps(bh));
    }
  }
}

// Raw pointers to the prepared activations (kept in registers by the hot loop, not re-read from thread_local).
struct XView {
  const int8_t* q[4];
  const int8_t* r[4];
  const float* dl;
};

// One block of NR rows: acc[i] += (s_g(lane) · d(lane)) · Σ q·x_q per lane.
template <int BITS, int LEVELS, int NR>
inline void block_q8(const uint8_t* const* rows, const float* const* scales, int64_t b, __mmask64 mk, bool full,
                     const XView& x, __m512i gidx, int gshift, __m512* acc) {
  constexpr int V = 32 / BITS, BV = V * L, NS = streams<BITS>();
  __m512i xq[NS], xr[NS];
  for (int p = 0; p < NS; ++p) {
    xq[p] = _mm512_loadu_si512(x.q[p] + b * 64);
    xr[p] = LEVELS == 2 ? _mm512_loadu_si512(x.r[p] + b * 64) : xq[p];
  }
  const __m512 dl = _mm512_loadu_ps(x.dl + b * L);
#pragma GCC unroll 2
  for (int i = 0; i < NR; ++i) {
    const uint8_t* src = rows[i] + b * 64;
    const __m512i v = full ? _mm512_loadu_si512(src) : _mm512_maskz_loadu_epi8(mk, src);
    __m512i hi = _mm512_setzero_si512(), lo = _mm512_setzero_si512();
    for (int p = 0; p < NS; ++p) {
      // Stream p as unsigned bytes (the 16-bit shift pulls bits of the next byte in above the mask).
      const __m512i c = NS == 1 ? v
                                : _mm512_and_si512(p == 0 ? v : _mm512_srli_epi16(v, p * BITS),
                                                   _mm512_set1_epi8(char((1 << BITS) - 1)));
      hi = _mm512_dpbusd_epi32(hi, c, xq[p]);
      if constexpr (LEVELS == 2) lo = _mm512_dpbusd_epi32(lo, c, xr[p]);
    }
    const __m512i isum = LEVELS == 2 ? _mm512_add_epi32(_mm512_slli_epi32(hi, 7), lo) : hi;
    const __m512 sv = _mm512_permutexvar_ps(gidx, _mm512_loadu_ps(scales[i] + ((b * BV) >> gshift)));
    acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(sv, dl), acc[i]);
  }
}

// Σ s_g·Σ q·x + Σ b_g·Σx_g over NR consecutive rows.
template <int BITS, int LEVELS, int NR>
void rows_q8(const uint8_t* const* rows_in, const float* const* scales_in, const float* const* biases,
             const float* xsum, int64_t ng, int64_t row_bytes, XView x, __m512i gidx, int gshift, float* out) {
  const uint8_t* rows[NR];
  const float* scales[NR];
  __m512 acc[NR];
  for (int i = 0; i < NR; ++i) {
    rows[i] = rows_in[i];
    scales[i] = scales_in[i];
    acc[i] = _mm512_setzero_ps();
  }
  const int64_t nfull = row_bytes / 64;
  // Two blocks per step into separate accumulators: twice the independent dependency chains in flight.
  __m512 acc2[NR];
  for (int i = 0; i < NR; ++i) acc2[i] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nfull; b += 2) {
    for (int i = 0; i < NR; ++i) _mm_prefetch(reinterpret_cast<const char*>(rows[i] + b * 64) + 1024, _MM_HINT_T0);
    block_q8<BITS, LEVELS, NR>(rows, scales, b, ~__mmask64(0), true, x, gidx, gshift, acc);
    block_q8<BITS, LEVELS, NR>(rows, scales, b + 1, ~__mmask64(0), true, x, gidx, gshift, acc2);
  }
  for (; b < nfull; ++b) block_q8<BITS, LEVELS, NR>(rows, scales, b, ~__mmask64(0), true, x, gidx, gshift, acc);
  for (int i = 0; i < NR; ++i) acc[i] = _mm512_add_ps(acc[i], acc2[i]);
  if (nfull * 64 < row_bytes)  // a partial last block: masked loads never read past the row
    block_q8<BITS, LEVELS, NR>(rows, scales, nfull, (__mmask64(1) << (row_bytes - nfull * 64)) - 1, false, x, gidx,
                               gshift, acc);
  // The bias term joins the same accumulators (biases are zero-padded to a multiple of 16).
  for (int64_t g = 0; g < ng; g += 16) {
    const __mmask16 mk = ng - g >= 16 ? __mmask16(0xffff) : __mmask16((1u << (ng - g)) - 1);
    const __m512 xs = _mm512_maskz_loadu_ps(mk, xsum + g);
    for (int i = 0; i < NR; ++i) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(biases[i] + g), xs, acc[i]);
  }
  for (int i = 0; i < NR; ++i) out[i] = _mm512_reduce_add_ps(acc[i]);
}

template <int BITS, int LEVELS>
void run_q8(const QuantizedWeight& w, const QActs& a, int64_t r0, int64_t r1, float* y) {
  constexpr int V = 32 / BITS;
  thread_local Q8Acts q;
  prepare<BITS, LEVELS>(a, q);
  XView xv{};
  for (int p = 0; p < streams<BITS>(); ++p) {
    xv.q[p] = q.q[p].data();
    xv.r[p] = q.r[p].data();
  }
  xv.dl = q.dl.data();
  const int G = w.group_size, gshift = __builtin_ctz(unsigned(G));  // group sizes are powers of two
  alignas(64) int32_t gi[16];
  for (int l = 0; l < 16; ++l) gi[l] = (V * l) / G;
  const __m512i gidx = _mm512_load_si512(gi);
  const int64_t ng = groups_per_row(w), row_bytes = w.in_features * BITS / 8;
  // Scales are read 16 at a time from the block's first group: pad so that the last block stays inside.
  thread_local std::vector<float> buf;
  const int64_t stride = ng + 32;
  buf.assign(size_t(2 * kRows * stride), 0.0f);
  float* s[kRows];
  float* bi[kRows];
  for (int i = 0; i < kRows; ++i) {
    s[i] = buf.data() + i * stride;
    bi[i] = buf.data() + (kRows + i) * stride;
  }
  const uint8_t* packed = reinterpret_cast<const uint8_t*>(w.packed);
  // Scales and biases are separate streams of small reads that the hardware prefetcher misses (a profile showed the
  // row's first scale load stalling): fetch those of the rows kAhead passes on now.
  const size_t sbytes = size_t(ng) * dtype_size(w.scale_dtype);
  const char* sbase = static_cast<const char*>(w.scales);
  const char* bbase = static_cast<const char*>(w.biases);
  auto pass = [&]<int NR>(int64_t r) {
    if (r + kAhead * kRows < r1)
      for (size_t o = 0; o < NR * sbytes; o += 64) {
        _mm_prefetch(sbase + size_t(r + kAhead * kRows) * sbytes + o, _MM_HINT_T0);
        _mm_prefetch(bbase + size_t(r + kAhead * kRows) * sbytes + o, _MM_HINT_T0);
      }
    const uint8_t* rows[NR];
    const float* sc[NR];
    const float* bc[NR];
    for (int i = 0; i < NR; ++i) {
      widen_row(w, r + i, ng, s[i], bi[i]);
      rows[i] = packed + (r + i) * row_bytes;
      sc[i] = s[i];
      bc[i] = bi[i];
    }
    rows_q8<BITS, LEVELS, NR>(rows, sc, bc, a.xsum, ng, row_bytes, xv, gidx, gshift, y + r);
  };
  // kRows rows per pass share every activation load; the rest one at a time.
  int64_t r = r0;
  for (; r + kRows <= r1; r += kRows) pass.template operator()<kRows>(r);
  for (; r < r1; ++r) pass.template operator()<1>(r);
}

}  // namespace

int q8_acts_levels() { return q8_flag().load(std::memory_order_relaxed); }

int set_q8_acts_levels(int levels) { return q8_flag().exchange(levels == 1 || levels == 2 ? levels : 0); }

bool q8_acts_applies(const QuantizedWeight& w, int m) {
  const bool bits_ok = w.bits == 2 || w.bits == 4 || w.bits == 8;
  return m == 1 && w.mode == QuantMode::Affine && bits_ok && q8_acts_levels() != 0 && cpu_has_vnni();
}

void qmatvec_q8_avx512(const QuantizedWeight& w, const QActs& a, int64_t r0, int64_t r1, float* y) {
  // Read again here: if another thread switched the setting since q8_acts_applies, the more exact kernel runs.
  const bool two = q8_acts_levels() != 1;
  switch (w.bits) {
    case 2:
      return two ? run_q8<2, 2>(w, a, r0, r1, y) : run_q8<2, 1>(w, a, r0, r1, y);
    case 4:
      return two ? run_q8<4, 2>(w, a, r0, r1, y) : run_q8<4, 1>(w, a, r0, r1, y);
    default:
      return two ? run_q8<8, 2>(w, a, r0, r1, y) : run_q8<8, 1>(w, a, r0, r1, y);
  }
}

}  // namespace mlx::cpu::detail
