// The AVX2 / AVX-512 kernels against the scalar kernel (the spec) on random and tie-heavy inputs, for every
// dtype x bits x group x rounding, single- and multi-threaded.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "quant/affine.h"
#include "quant/affine_kernels.h"
#include "quant/spec.h"

namespace {

using mlx::DType;
using mlx::quant::Rounding;
using mlx::quant::detail::Isa;

// Rows of several kinds: normal, shifted, all-negative, all-positive, tiny, constant, exact .5 ties, mixed ties,
// near-ties.
std::vector<float> make_input(int64_t rows, int64_t cols, int bits, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int n_bins = (1 << bits) - 1;
  std::vector<float> w(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = w.data() + r * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const float z = normal(rng);
      switch (r % 10) {
        case 0: row[j] = z * 0.05f; break;
        case 1: row[j] = z + 3.0f; break;
        case 2: row[j] = -std::fabs(z) - 0.25f; break;
        case 3: row[j] = std::fabs(z) + 0.5f; break;
        case 4: row[j] = z * 1e-9f; break;
        case 5: row[j] = -0.75f; break;
        case 6: row[j] = static_cast<float>(rng() % (2 * n_bins + 1)) * 0.5f; break;  // (w-bias)/scale hits .5
        case 7: row[j] = -static_cast<float>(rng() % (2 * n_bins + 1)) * 0.25f; break;
        case 8: row[j] = static_cast<float>(static_cast<int>(rng() % 17) - 8) * 0.125f; break;
        default: {  // within a few ulp of the .5 ties: the kernels' multiply-by-reciprocal must defer to division
          float v = static_cast<float>(rng() % (2 * n_bins + 1)) * 0.3f;
          for (int s = static_cast<int>(rng() % 7) - 3; s != 0; s += s > 0 ? -1 : 1)
            v = std::nextafter(v, s > 0 ? INFINITY : -INFINITY);
          row[j] = v;
          break;
        }
      }
    }
  }
  return w;
}

std::string to_dtype(const std::vector<float>& w, DType dt) {
  std::string out(w.size() * mlx::dtype_size(dt), '\0');
  mlx::from_f32(w.data(), dt, out.data(), w.size());
  return out;
}

struct Out {
  std::vector<uint32_t> packed;
  std::string scales, biases;
  bool operator==(const Out&) const = default;
};

Out quantize(const std::string& w, DType dt, int64_t rows, int64_t cols, int bits, int group, Rounding rounding) {
  Out o;
  o.packed.resize(rows * mlx::quant::packed_cols(cols, bits));
  o.scales.resize(rows * mlx::quant::groups(cols, group) * mlx::dtype_size(dt));
  o.biases.resize(o.scales.size());
  mlx::quant::affine_quantize(w.data(), dt, rows, cols, bits, group, rounding, o.packed.data(), o.scales.data(),
                              o.biases.data());
  return o;
}

class SimdMatchesScalar : public ::testing::TestWithParam<Isa> {
 protected:
  void TearDown() override { mlx::quant::detail::force_isa(mlx::quant::detail::best_isa()); }
};

TEST_P(SimdMatchesScalar, EveryDtypeBitsGroupRounding) {
  const Isa isa = GetParam();
  if (static_cast<int>(isa) > static_cast<int>(mlx::quant::detail::best_isa()))
    GTEST_SKIP() << mlx::quant::detail::isa_name(isa) << " not supported on this CPU";
  const int64_t rows = 40, cols = 384;  // 4 x 10 row kinds; 384 = 3 groups of 128
  int cases = 0;
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    for (int bits : {2, 3, 4, 5, 6, 8}) {
      const std::string w = to_dtype(make_input(rows, cols, bits, 1234u + bits), dt);
      for (int group : {32, 64, 128}) {
        for (Rounding rounding : {Rounding::Gpu, Rounding::Cpu}) {
          SCOPED_TRACE(std::string(mlx::dtype_name(dt)) + " b" + std::to_string(bits) + " g" + std::to_string(group) +
                       (rounding == Rounding::Gpu ? " gpu" : " cpu"));
          mlx::quant::detail::force_isa(Isa::Scalar);
          const Out want = quantize(w, dt, rows, cols, bits, group, rounding);
          mlx::quant::detail::force_isa(isa);
          const Out got = quantize(w, dt, rows, cols, bits, group, rounding);
          EXPECT_TRUE(got.packed == want.packed) << "packed words differ";
          EXPECT_EQ(got.scales, want.scales);
          EXPECT_EQ(got.biases, want.biases);
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 3 * 6 * 3 * 2);
}

// A matrix large enough to go through the thread pool gives the same bytes as the single-threaded scalar kernel.
TEST_P(SimdMatchesScalar, MultithreadedLargeMatrix) {
  const Isa isa = GetParam();
  if (static_cast<int>(isa) > static_cast<int>(mlx::quant::detail::best_isa())) GTEST_SKIP();
  const int64_t rows = 300, cols = 1024;
  const std::string w = to_dtype(make_input(rows, cols, 4, 99u), DType::BF16);
  mlx::quant::detail::force_isa(Isa::Scalar);
  Out want;
  want.packed.resize(rows * cols / 8);
  want.scales.resize(rows * cols / 64 * 2);
  want.biases.resize(want.scales.size());
  const mlx::quant::detail::AffineJob job{w.data(), DType::BF16, cols, 4, 64, Rounding::Gpu,
                                          want.packed.data(), want.scales.data(), want.biases.data()};
  mlx::quant::detail::affine_rows_scalar(job, 0, rows);  // no threads
  mlx::quant::detail::force_isa(isa);
  EXPECT_TRUE(quantize(w, DType::BF16, rows, cols, 4, 64, Rounding::Gpu) == want);
}

INSTANTIATE_TEST_SUITE_P(Isas, SimdMatchesScalar, ::testing::Values(Isa::Avx2, Isa::Avx512),
                         [](const auto& info) { return std::string(mlx::quant::detail::isa_name(info.param)); });

}  // namespace
