// The int8-activation decode path (MLX_CPU_Q8_ACTS, qmatvec_q8_avx512.cpp) against its specification computed here
// in double: x rounded to int8 per 32 values (d = max|x|/127, q = round-half-even(x * (127/max|x|)) in float), then
// Σ_g s_g·d·Σ q_w·q_x + b_g·Σx_g. Also against the float oracle within the bound the rounding of x allows, and that
// every other path (m > 1, other bits, AVX2, scalar) ignores the setting.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/spin_pool.h"
#include "quant/affine.h"

namespace mlx::cpu {
namespace {

using detail::Isa;

struct Q8Scope {
  int saved;
  explicit Q8Scope(int levels) : saved(detail::set_q8_acts_levels(levels)) {}
  ~Q8Scope() { detail::set_q8_acts_levels(saved); }
};

struct IsaScope {
  Isa saved;
  explicit IsaScope(Isa isa) : saved(detail::set_isa(isa)) {}
  ~IsaScope() { detail::set_isa(saved); }
};

std::vector<float> normal(size_t n, uint32_t seed, float sd) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (auto& f : v) f = d(rng);
  return v;
}

struct Weight {
  std::vector<uint32_t> packed;
  std::vector<uint8_t> scales, biases;
  std::vector<float> s, b;  // scales and biases as float
  std::vector<float> W;     // dequantized by quant/
  QuantizedWeight view;
};

Weight make(int64_t out, int64_t in, int bits, int group, DType dt, uint32_t seed) {
  Weight w;
  const auto wf = normal(size_t(out * in), seed, 0.05f);
  std::vector<uint8_t> raw(size_t(out * in) * dtype_size(dt));
  from_f32(wf.data(), dt, raw.data(), wf.size());
  const int64_t ng = out * (in / group);
  w.packed.resize(size_t(out * in * bits / 32));
  w.scales.resize(size_t(ng) * dtype_size(dt));
  w.biases.resize(w.scales.size());
  quant::affine_quantize(raw.data(), dt, out, in, bits, group, quant::Rounding::Gpu, w.packed.data(), w.scales.data(),
                         w.biases.data());
  w.W.resize(size_t(out * in));
  quant::affine_dequantize(w.packed.data(), w.scales.data(), w.biases.data(), dt, out, in, bits, group, w.W.data());
  w.s.resize(size_t(ng));
  w.b.resize(size_t(ng));
  to_f32(w.scales.data(), dt, w.s.data(), size_t(ng));
  to_f32(w.biases.data(), dt, w.b.data(), size_t(ng));
  w.view =
      QuantizedWeight{w.packed.data(), w.scales.data(), w.biases.data(), dt, QuantMode::Affine, bits, group, out, in};
  return w;
}

uint32_t code(const Weight& w, int64_t r, int64_t j) {
  const int bits = w.view.bits;
  const uint32_t* row = w.packed.data() + r * w.view.in_features * bits / 32;
  return (row[j * bits / 32] >> ((j * bits) % 32)) & ((1u << bits) - 1);  // bits 2, 4, 8 never straddle words
}

// x rounded the specified way: x ≈ xq[j] * d[j / 32]. One level: xq = round(x·127/max) in [-127, 127],
// d = max/127; two levels: t = x·127/max, xq = 128·round(t) + round((t - round(t))·128), d = max/(127·128).
void quantize_x(const std::vector<float>& x, int levels, std::vector<int>& xq, std::vector<float>& d) {
  const size_t n = x.size();
  xq.assign(n, 0);
  d.assign(n / 32, 0.0f);
  for (size_t c = 0; c < n / 32; ++c) {
    float amax = 0.0f;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[c * 32 + j]));
    d[c] = amax / (levels == 2 ? 127.0f * 128.0f : 127.0f);
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (size_t j = 0; j < 32; ++j) {
      const float t = x[c * 32 + j] * inv, q = std::nearbyint(t);
      xq[c * 32 + j] = levels == 2 ? 128 * int(q) + int(std::nearbyint((t - q) * 128.0f)) : int(q);
    }
  }
}

void check(const Weight& w, int levels, const std::vector<float>& x, const std::vector<float>& y,
           const std::string& what) {
  const int64_t out = w.view.out_features, in = w.view.in_features, G = w.view.group_size, ng = in / G;
  std::vector<int> xq;
  std::vector<float> d;
  quantize_x(x, levels, xq, d);
  int bad = 0;
  for (int64_t r = 0; r < out && bad < 3; ++r) {
    double spec = 0, mag = 0, oracle = 0, bound = 0;
    for (int64_t g = 0; g < ng; ++g) {
      const double s = w.s[size_t(r * ng + g)], b = w.b[size_t(r * ng + g)];
      double xs = 0;
      for (int64_t j = g * G; j < (g + 1) * G; ++j) {
        const double q = code(w, r, j), xd = double(xq[size_t(j)]) * d[size_t(j / 32)];
        spec += s * q * xd;
        mag += std::fabs(s * q * xd);
        xs += x[size_t(j)];
        oracle += double(w.W[size_t(r * in + j)]) * x[size_t(j)];
        bound += std::fabs(s * q) * d[size_t(j / 32)] * 0.5;  // |x - xq·d| <= d/2 (either level count)
      }
      spec += b * xs;
      mag += std::fabs(b * xs);
    }
    const double got = y[size_t(r)];
    if (!(std::fabs(got - spec) <= 2e-5 * mag + 1e-30)) {
      ++bad;
      ADD_FAILURE() << what << ": y[" << r << "] = " << got << ", spec " << spec << " (Σ|terms| " << mag << ")";
    }
    if (!(std::fabs(got - oracle) <= bound * 1.001 + 2e-5 * mag + 1e-30)) {
      ++bad;
      ADD_FAILURE() << what << ": y[" << r << "] = " << got << ", float oracle " << oracle << ", bound " << bound;
    }
  }
}

TEST(Q8Acts, MatchesItsSpecForEveryGroupDtypeAndOddShape) {
  {
    Q8Scope probe(1);
    if (!detail::q8_acts_applies(make(1, 64, 4, 64, DType::BF16, 1).view, 1))
      GTEST_SKIP() << "CPU without AVX-512 VNNI: the int8 path is never taken";
  }
  IsaScope isa(Isa::Avx512);
  for (int levels : {1, 2})
    for (int threads : {1, 2, 3}) {
      Q8Scope on(levels);
      SpinPool::global().set_num_threads(threads);
      for (int bits : {2, 4, 8})
        for (int group : {32, 64, 128})
          for (DType dt : {DType::BF16, DType::F16, DType::F32})
            // in: one group, a multiple of 32 that is not one of 128/256 (partial blocks), a long row; odd outs.
            for (auto [out, in] : std::vector<std::pair<int64_t, int64_t>>{
                     {7, group}, {33, 3 * group}, {5, 2048 + group}, {37, 1056 / group * group}}) {
              const Weight w = make(out, in, bits, group, dt, uint32_t(bits * 7 + group + in + out));
              ASSERT_TRUE(detail::q8_acts_applies(w.view, 1));
              auto x = normal(size_t(in), uint32_t(in + out + threads), 1.0f);
              if (in >= 64) x[size_t(in / 2)] = 40.0f;  // an outlier: its chunk's scale grows
              for (int64_t j = 0; j < std::min<int64_t>(in, 32); ++j) x[size_t(j)] = 0.0f;  // an all-zero chunk
              std::vector<float> y(size_t(out), NAN);
              matmul(x.data(), 1, w.view, y.data());
              check(w, levels, x, y,
                    "x" + std::to_string(levels) + " b" + std::to_string(bits) + " g" + std::to_string(group) + " " +
                        std::string(dtype_name(dt)) + " " + std::to_string(out) + "x" + std::to_string(in) +
                        " threads " + std::to_string(threads));
            }
    }
  SpinPool::global().set_num_threads(0);
}

// A NaN or infinite activation must not vanish in the rounding to int8 (its code is meaningless): the exact float
// bias term Σ b·Σx carries it into every output, as the float kernel would.
TEST(Q8Acts, NonFiniteActivationsPropagate) {
  IsaScope isa(Isa::Avx512);
  Q8Scope on(2);
  for (int bits : {2, 4, 8}) {
    const Weight w = make(6, 256, bits, 64, DType::BF16, uint32_t(bits));
    for (float bad : {NAN, INFINITY}) {
      auto x = normal(256, 3, 1.0f);
      x[100] = bad;
      std::vector<float> y(6, 0.0f);
      matmul(x.data(), 1, w.view, y.data());
      for (float v : y) EXPECT_FALSE(std::isfinite(v)) << "b" << bits << " x[100] = " << bad;
    }
  }
}

// With the setting on, m > 1, 2/3/5/6 bits, AVX2 and scalar all keep float activations: float-rounding agreement.
TEST(Q8Acts, OtherPathsIgnoreTheSetting) {
  Q8Scope on(2);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    IsaScope scope(isa);
    for (int bits : {3, 4, 8})
      for (int64_t m : {1, 2}) {
        if (detail::active_isa() == Isa::Avx512 && m == 1 && bits != 3) continue;  // the integer path itself
        const int64_t out = 9, in = 160;
        const Weight w = make(out, in, bits, 32, DType::BF16, uint32_t(bits + m));
        const auto x = normal(size_t(m * in), uint32_t(m), 1.0f);
        std::vector<float> y(size_t(m * out), NAN);
        matmul(x.data(), m, w.view, y.data());
        for (int64_t i = 0; i < m; ++i)
          for (int64_t r = 0; r < out; ++r) {
            double ref = 0, mag = 0;
            for (int64_t j = 0; j < in; ++j) {
              ref += double(w.W[size_t(r * in + j)]) * x[size_t(i * in + j)];
              mag += std::fabs(double(w.W[size_t(r * in + j)]) * x[size_t(i * in + j)]);
            }
            EXPECT_NEAR(y[size_t(i * out + r)], ref, 1e-5 * mag)
                << detail::isa_name(detail::active_isa()) << " b" << bits << " m" << m << " r" << r;
          }
      }
  }
}

}  // namespace
}  // namespace mlx::cpu
