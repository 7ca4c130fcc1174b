// Every matmul kernel (ISA x mode x bits x group x scale dtype x m) against a plain float matmul of the weights
// dequantized by quant/ (the oracle), on random data quantized by quant/.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/spin_pool.h"
#include "core/error.h"
#include "quant/affine.h"
#include "quant/fp_formats.h"

namespace mlx::cpu {
namespace {

using detail::Isa;

std::vector<Isa> isas() { return {Isa::Scalar, Isa::Avx2, Isa::Avx512}; }

// Restores the process ISA when a test ends.
struct IsaScope {
  Isa saved;
  explicit IsaScope(Isa isa) : saved(detail::set_isa(isa)) {}
  ~IsaScope() { detail::set_isa(saved); }
};

// These tests hold the float kernels to float rounding: integer activations (the AVX-512 decode default, tested
// against their own specification in q8_acts_test.cpp) are switched off while they run.
struct FloatActs {
  int saved = detail::set_q8_acts_levels(0);
  ~FloatActs() { detail::set_q8_acts_levels(saved); }
};

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& f : v) f = d(rng);
  return v;
}

// The oracle: y = x·Wᵀ in double from the float weights; tolerance scales with Σ|w·x| (the sum's condition).
void expect_matches(const std::vector<float>& x, int64_t m, const std::vector<float>& W, int64_t out, int64_t in,
                    const std::vector<float>& y, const std::string& what) {
  int bad = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = 0; r < out; ++r) {
      double ref = 0, mag = 0;
      for (int64_t j = 0; j < in; ++j) {
        ref += double(W[size_t(r * in + j)]) * x[size_t(i * in + j)];
        mag += std::fabs(double(W[size_t(r * in + j)]) * x[size_t(i * in + j)]);
      }
      const double got = y[size_t(i * out + r)];
      if (!(std::fabs(got - ref) <= 1e-5 * mag + 1e-30) && bad++ < 3)
        ADD_FAILURE() << what << ": y[" << i << "," << r << "] = " << got << ", expected " << ref << " (|w||x| " << mag
                      << ")";
    }
}

struct Case {
  int64_t out, in;
};

std::vector<Case> shapes(int group) {
  // one group; an odd number of groups (partial SIMD blocks); a longer row with out not a multiple of 16.
  return {{19, group}, {5, 3 * group}, {37, 1024}};
}

struct AffineData {
  std::vector<uint32_t> packed;
  std::vector<uint8_t> scales, biases;
  std::vector<float> W;  // dequantized by quant
};

AffineData make_affine(int64_t out, int64_t in, int bits, int group, DType dt, uint32_t seed) {
  auto wf = random_floats(size_t(out * in), seed, 0.05f);
  std::vector<uint8_t> w(size_t(out * in) * dtype_size(dt));
  from_f32(wf.data(), dt, w.data(), wf.size());
  AffineData d;
  d.packed.resize(size_t(out * in * bits / 32));
  d.scales.resize(size_t(out * (in / group)) * dtype_size(dt));
  d.biases.resize(d.scales.size());
  quant::affine_quantize(w.data(), dt, out, in, bits, group, quant::Rounding::Gpu, d.packed.data(), d.scales.data(),
                         d.biases.data());
  d.W.resize(size_t(out * in));
  quant::affine_dequantize(d.packed.data(), d.scales.data(), d.biases.data(), dt, out, in, bits, group, d.W.data());
  return d;
}

TEST(QuantizedMatmul, AffineEveryIsaBitsGroupDtypeAndM) {
  FloatActs float_acts;
  for (Isa isa : isas()) {
    IsaScope scope(isa);
    for (int bits : {2, 3, 4, 5, 6, 8})
      for (int group : {32, 64, 128})
        for (DType dt : {DType::BF16, DType::F16, DType::F32})
          for (const Case& c : shapes(group)) {
            const auto d = make_affine(c.out, c.in, bits, group, dt, uint32_t(bits * 1000 + group + c.in));
            QuantizedWeight w{d.packed.data(), d.scales.data(), d.biases.data(), dt, QuantMode::Affine, bits, group,
                              c.out, c.in};
            for (int64_t m : {1, 3, 17}) {
              const auto x = random_floats(size_t(m * c.in), uint32_t(m + c.out));
              std::vector<float> y(size_t(m * c.out), NAN);
              matmul(x.data(), m, w, y.data());
              expect_matches(x, m, d.W, c.out, c.in, y,
                             std::string(detail::isa_name(detail::active_isa())) + " affine b" + std::to_string(bits) +
                                 " g" + std::to_string(group) + " " + std::string(dtype_name(dt)) + " " +
                                 std::to_string(c.out) + "x" + std::to_string(c.in) + " m" + std::to_string(m));
            }
          }
  }
}

TEST(QuantizedMatmul, FpModesEveryIsaAndM) {
  const QuantMode modes[] = {QuantMode::MxFp4, QuantMode::NvFp4, QuantMode::MxFp8};
  for (Isa isa : isas()) {
    IsaScope scope(isa);
    for (QuantMode mode : modes) {
      const int bits = quant::default_bits(mode), group = quant::default_group_size(mode);
      for (const Case& c : shapes(group)) {
        const auto wf = random_floats(size_t(c.out * c.in), uint32_t(c.in + bits), 0.05f);
        std::vector<uint32_t> packed(size_t(c.out * c.in * bits / 32));
        std::vector<uint8_t> scales(size_t(c.out * (c.in / group)));
        quant::fp_quantize(wf.data(), DType::F32, c.out, c.in, mode, packed.data(), scales.data());
        std::vector<float> W(size_t(c.out * c.in));
        quant::fp_dequantize(packed.data(), scales.data(), mode, c.out, c.in, W.data());
        for (float global : {0.0f, 3.0f}) {
          if (global != 0.0f && mode != QuantMode::NvFp4) continue;
          QuantizedWeight w{packed.data(), scales.data(), nullptr, DType::U8, mode, bits, group, c.out, c.in, global};
          std::vector<float> Wg = W;
          if (global != 0.0f)
            for (auto& v : Wg) v *= global / (448.0f * 6.0f);
          for (int64_t m : {1, 3, 17}) {
            const auto x = random_floats(size_t(m * c.in), uint32_t(m * 7 + c.out));
            std::vector<float> y(size_t(m * c.out), NAN);
            matmul(x.data(), m, w, y.data());
            expect_matches(x, m, Wg, c.out, c.in, y,
                           std::string(detail::isa_name(detail::active_isa())) + " " + quant::quant_mode_name(mode) +
                               " " + std::to_string(c.out) + "x" + std::to_string(c.in) + " m" + std::to_string(m) +
                               " global " + std::to_string(global));
          }
        }
      }
    }
  }
}

TEST(DenseMatmul, EveryDtypeAndM) {
  for (Isa isa : isas()) {
    IsaScope scope(isa);
    for (DType dt : {DType::F32, DType::F16, DType::BF16})
      for (const Case& c : std::vector<Case>{{1, 1}, {19, 7}, {37, 1000}}) {
        auto wf = random_floats(size_t(c.out * c.in), uint32_t(c.in), 0.1f);
        std::vector<uint8_t> w(wf.size() * dtype_size(dt));
        from_f32(wf.data(), dt, w.data(), wf.size());
        to_f32(w.data(), dt, wf.data(), wf.size());  // the weights as the kernel sees them
        DenseWeight dw{w.data(), dt, c.out, c.in};
        for (int64_t m : {1, 3, 17}) {
          const auto x = random_floats(size_t(m * c.in), uint32_t(m));
          std::vector<float> y(size_t(m * c.out), NAN);
          matmul(x.data(), m, dw, y.data());
          expect_matches(x, m, wf, c.out, c.in, y,
                         std::string(detail::isa_name(detail::active_isa())) + " dense " + std::string(dtype_name(dt)) +
                             " m" + std::to_string(m));
        }
      }
  }
}

TEST(QuantizedMatmul, ReferenceKernelMatchesOracle) {
  const auto d = make_affine(7, 96, 3, 32, DType::BF16, 5);
  QuantizedWeight w{d.packed.data(), d.scales.data(), d.biases.data(), DType::BF16, QuantMode::Affine, 3, 32, 7, 96};
  const auto x = random_floats(2 * 96, 9);
  std::vector<float> y(2 * 7);
  matmul_reference(x.data(), 2, w, y.data());
  expect_matches(x, 2, d.W, 7, 96, y, "reference");
}

TEST(GatherRow, QuantizedAndDenseRowsAreTheDequantizedRows) {
  const auto d = make_affine(6, 128, 5, 64, DType::F16, 11);
  QuantizedWeight w{d.packed.data(), d.scales.data(), d.biases.data(), DType::F16, QuantMode::Affine, 5, 64, 6, 128};
  std::vector<float> row(128);
  for (int64_t r = 0; r < 6; ++r) {
    gather_row(w, r, row.data());
    for (int j = 0; j < 128; ++j) ASSERT_EQ(row[size_t(j)], d.W[size_t(r * 128 + j)]) << r << "," << j;
  }
  const auto wf = random_floats(6 * 10, 3);
  DenseWeight dw{wf.data(), DType::F32, 6, 10};
  gather_row(dw, 4, row.data());
  for (int j = 0; j < 10; ++j) ASSERT_EQ(row[size_t(j)], wf[size_t(40 + j)]);
  EXPECT_THROW(gather_row(dw, 6, row.data()), mlx::Error);
  EXPECT_THROW(gather_row(w, -1, row.data()), mlx::Error);
}

TEST(Expert, ViewSelectsOneExpertOfAStack) {
  FloatActs float_acts;
  const int64_t E = 3, out = 16, in = 64;
  const auto d = make_affine(E * out, in, 4, 32, DType::BF16, 21);
  QuantizedWeight stacked{d.packed.data(), d.scales.data(), d.biases.data(), DType::BF16, QuantMode::Affine, 4, 32,
                          E * out, in};
  const auto x = random_floats(size_t(in), 2);
  for (int64_t e = 0; e < E; ++e) {
    QuantizedWeight w = expert(stacked, e, out, in);
    std::vector<float> y(static_cast<size_t>(out));
    matmul(x.data(), 1, w, y.data());
    std::vector<float> We(d.W.begin() + e * out * in, d.W.begin() + (e + 1) * out * in);
    expect_matches(x, 1, We, out, in, y, "expert " + std::to_string(e));
  }
  const auto wf = random_floats(size_t(E * out * in), 4);
  DenseWeight dstack{wf.data(), DType::F32, E * out, in};
  DenseWeight d1 = expert(dstack, 1, out, in);
  EXPECT_EQ(static_cast<const float*>(d1.data), wf.data() + out * in);
}

TEST(QuantizedMatmul, RejectsUnsupportedCombinations) {
  std::vector<uint32_t> packed(64);
  std::vector<uint16_t> s(64);
  std::vector<float> x(64), y(64);
  QuantizedWeight w{packed.data(), s.data(), s.data(), DType::BF16, QuantMode::Affine, 7, 64, 1, 64};
  EXPECT_THROW(matmul(x.data(), 1, w, y.data()), mlx::Error);  // 7 bits
  w.bits = 4;
  w.group_size = 48;
  EXPECT_THROW(matmul(x.data(), 1, w, y.data()), mlx::Error);  // group 48
  w.group_size = 32;
  w.in_features = 48;
  EXPECT_THROW(matmul(x.data(), 1, w, y.data()), mlx::Error);  // in not a multiple of the group
  w.in_features = 64;
  w.scale_dtype = DType::I32;
  EXPECT_THROW(matmul(x.data(), 1, w, y.data()), mlx::Error);  // scales dtype
  DenseWeight dw{x.data(), DType::I8, 1, 64};
  EXPECT_THROW(matmul(x.data(), 1, dw, y.data()), mlx::Error);
}

}  // namespace
}  // namespace mlx::cpu

namespace mlx::cpu {
namespace {

TEST(SpinPool, CoversEveryItemOnceAndRethrows) {
  for (int threads : {1, 2, 3}) {
    SpinPool::global().set_num_threads(threads);
    for (int64_t n : {1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      SpinPool::global().parallel_for(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
    EXPECT_THROW(SpinPool::global().parallel_for(
                     100, [](int64_t b, int64_t) { if (b > 0) throw mlx::Error("slice failed"); else throw mlx::Error("first"); }),
                 mlx::Error);
  }
  SpinPool::global().set_num_threads(0);
}

}  // namespace
}  // namespace mlx::cpu
