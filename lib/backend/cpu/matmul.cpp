// matmul dispatch: small m (decode) runs the SIMD quantized matvec kernels straight on the packed weights;
// large m (prefill) dequantizes tiles of W to float and hands them to OpenBLAS sgemm.
#include "backend/cpu/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/spin_pool.h"
#include "backend/cpu/weight_decode.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace mlx::cpu {

using namespace detail;

namespace {

// We parallelize over output rows ourselves; OpenBLAS must not start its own threads inside ours.
void single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

// Rows per sgemm tile: wide enough that sgemm amortizes packing x (it repacks it on every call).
int64_t tile_rows(int64_t out, int64_t in, int64_t threads) {
  int64_t t = (2048 * 1024) / (in * 4);  // measured: 2 MiB tiles run sgemm ~20 % faster than 256 KiB ones
  t = std::min(t, (out + 2 * threads - 1) / (2 * threads));  // at least two tiles per thread when possible
  t = std::clamp<int64_t>(t, 16, 512);
  return t - t % 16;
}

int64_t padded_in(const QuantizedWeight& w, int lanes) {
  const int64_t block = int64_t(tuple_values_for(w.bits)) * lanes;
  return (w.in_features + block - 1) / block * block;
}

// x [m, in] into the permuted tuple layout of kernels.h ([m, in_pad], zero-padded); value k of each tuple is
// multiplied by kscale[k].
void permute_x(const float* x, int64_t m, int64_t in, int V, int lanes, const float* kscale, float* xp) {
  const int64_t block = int64_t(V) * lanes, in_pad = (in + block - 1) / block * block;
  std::fill(xp, xp + m * in_pad, 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * in;
    float* o = xp + i * in_pad;
    // Block by block, lane by lane (no divisions: this runs for every decode step).
    for (int64_t b0 = 0; b0 < in; b0 += block) {
      const int64_t n = std::min(block, in - b0);
      float* ob = o + b0;
      for (int64_t l = 0; l * V < n; ++l)
        for (int64_t k = 0; k < V && l * V + k < n; ++k) ob[k * lanes + l] = xi[b0 + l * V + k] * kscale[k];
    }
  }
}

// Activations for the small-m kernels: permuted x plus per-group sums.
void prepare_acts(const float* x, int64_t m, const QuantizedWeight& w, int lanes, std::vector<float>& xp,
                  std::vector<float>& xsum, QActs& acts) {
  const int V = tuple_values_for(w.bits);
  const int64_t in = w.in_features, in_pad = padded_in(w, lanes), G = w.group_size, ng = in / G;
  // Affine kernels (AVX-512) keep value k in place in its lane, so x is prescaled by 2^-(k*bits) (exact).
  float kscale[32];
  for (int k = 0; k < V; ++k)
    kscale[k] = (w.mode == QuantMode::Affine && lanes == 16) ? std::ldexp(1.0f, -k * w.bits) : 1.0f;
  xp.resize(size_t(m * in_pad));
  permute_x(x, m, in, V, lanes, kscale, xp.data());
  xsum.assign(size_t(m * ng), 0.0f);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t g = 0; g < ng; ++g) {
      // 16 independent partial sums (G is a multiple of 16) so the compiler can vectorize without reassociating.
      float part[16] = {};
      const float* xg = x + i * in + g * G;
      for (int64_t j = 0; j < G; j += 16)
        for (int l = 0; l < 16; ++l) part[l] += xg[j + l];
      float s = 0.0f;
      for (float p : part) s += p;
      xsum[size_t(i * ng + g)] = s;
    }
  acts = QActs{xp.data(), xsum.data(), in_pad, ng, int(m)};
}

void small_m_scalar(const float* x, int64_t m, const QuantizedWeight& w, float* y) {
  parallel_for(w.out_features, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(size_t(w.in_features));
    for (int64_t r = r0; r < r1; ++r) {
      dequantize_rows(w, r, r + 1, row.data());
      for (int64_t i = 0; i < m; ++i) {
        float acc = 0.0f;
        for (int64_t j = 0; j < w.in_features; ++j) acc += row[size_t(j)] * x[i * w.in_features + j];
        y[i * w.out_features + r] = acc;
      }
    }
  });
}

// Prefill: per thread, tiles of rows are made float (by `to_float`) and multiplied with sgemm.
template <typename ToFloat>
void tiled_sgemm(const float* x, int64_t m, int64_t out, int64_t in, float* y, ToFloat to_float) {
  single_threaded_blas();
  const int64_t T = tile_rows(out, in, ThreadPool::global().num_threads());
  const int64_t tiles = (out + T - 1) / T;
  parallel_for(tiles, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> buf;  // reused across calls: no 2 MiB allocation and zero-fill per call
    if (buf.size() < size_t(T * in)) buf.resize(size_t(T * in));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * T, r1 = std::min(out, r0 + T);
      to_float(r0, r1, buf.data());
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(r1 - r0), int(in), 1.0f, x, int(in),
                  buf.data(), int(in), 0.0f, y + r0, int(out));
    }
  });
}

}  // namespace

void matmul(const float* x, int64_t m, const QuantizedWeight& w, float* y) {
  validate(w);
  if (m <= 0 || w.out_features == 0) return;
  const Isa isa = active_isa();
  if (m <= kMaxSmallM) {
    if (isa == Isa::Scalar) return small_m_scalar(x, m, w, y);
    thread_local std::vector<float> xp, xsum;
    QActs acts{};
    prepare_acts(x, m, w, isa == Isa::Avx512 ? 16 : 8, xp, xsum, acts);
    SpinPool::global().parallel_for(w.out_features, [&](int64_t r0, int64_t r1) {
      if (isa == Isa::Avx512) qmatvec_avx512(w, acts, r0, r1, y, w.out_features);
      else qmatvec_avx2(w, acts, r0, r1, y, w.out_features);
    });
    return;
  }
  if (isa == Isa::Scalar) {
    tiled_sgemm(x, m, w.out_features, w.in_features, y,
                [&](int64_t r0, int64_t r1, float* buf) { dequantize_rows(w, r0, r1, buf); });
    return;
  }
  // SIMD dequantization writes W's rows in the kernels' permuted order; permuting x's columns the same way leaves
  // the product unchanged.
  const int lanes = isa == Isa::Avx512 ? 16 : 8;
  const int64_t in_pad = padded_in(w, lanes);
  std::vector<float> xp(size_t(m * in_pad));
  const float ones[32] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  permute_x(x, m, w.in_features, tuple_values_for(w.bits), lanes, ones, xp.data());
  tiled_sgemm(xp.data(), m, w.out_features, in_pad, y, [&](int64_t r0, int64_t r1, float* buf) {
    if (isa == Isa::Avx512) dequant_tuples_avx512(w, r0, r1, buf, in_pad);
    else dequant_tuples_avx2(w, r0, r1, buf, in_pad);
  });
}

void matmul(const float* x, int64_t m, const DenseWeight& w, float* y) {
  validate(w);
  if (m <= 0 || w.out_features == 0) return;
  const int64_t in = w.in_features, out = w.out_features;
  if (in == 0) {
    std::fill(y, y + m * out, 0.0f);
    return;
  }
  const Isa isa = active_isa();
  if (m <= kMaxSmallM && isa == Isa::Avx512) {
    SpinPool::global().parallel_for(out, [&](int64_t r0, int64_t r1) { dense_matvec_avx512(w, x, int(m), r0, r1, y, out); });
    return;
  }
  if (w.dtype == DType::F32) {
    single_threaded_blas();
    const float* W = static_cast<const float*>(w.data);
    parallel_for(out, [&](int64_t r0, int64_t r1) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(r1 - r0), int(in), 1.0f, x, int(in),
                  W + r0 * in, int(in), 0.0f, y + r0, int(out));
    });
    return;
  }
  const size_t esz = dtype_size(w.dtype);
  auto convert = [&](int64_t r0, int64_t r1, float* buf) {
    if (isa == Isa::Avx512) return convert_rows_avx512(w, r0, r1, buf);
    to_f32(static_cast<const char*>(w.data) + size_t(r0 * in) * esz, w.dtype, buf, size_t((r1 - r0) * in));
  };
  tiled_sgemm(x, m, out, in, y, convert);
}

}  // namespace mlx::cpu
