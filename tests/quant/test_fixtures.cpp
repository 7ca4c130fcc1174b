// Bit-exactness against MLX's own output: every key of every quant reference file found (shipped and held back).
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "quant/affine.h"
#include "quant/affine_kernels.h"
#include "quant/fp_formats.h"
#include "quant_fixtures.h"

namespace {

using mlx::DType;
using mlx::quant::Rounding;
using mlx::quant::detail::Isa;
using namespace mlx::test;

struct AffineResult {
  std::string w, scales, biases;
};

AffineResult run_affine(const LiteTensor& in, DType dt, int bits, int group, Rounding rounding) {
  const int64_t rows = in.numel() / in.shape.back();
  const int64_t cols = in.shape.back();
  const size_t psize = mlx::dtype_size(dt);
  AffineResult r;
  r.w.resize(rows * mlx::quant::packed_cols(cols, bits) * 4);
  r.scales.resize(rows * mlx::quant::groups(cols, group) * psize);
  r.biases.resize(r.scales.size());
  mlx::quant::affine_quantize(in.bytes.data(), dt, rows, cols, bits, group, rounding,
                              reinterpret_cast<uint32_t*>(r.w.data()), r.scales.data(), r.biases.data());
  return r;
}

// Mismatching elements of one key (w + scales + biases) under `rounding`; explains the first one in *why.
int64_t affine_key_diffs(const LiteFile& file, const AffineKey& k, Rounding rounding, std::string* why) {
  const AffineResult got = run_affine(file.at("in_" + k.dt_name), k.dt, k.bits, k.group, rounding);
  const size_t psize = mlx::dtype_size(k.dt);
  int64_t total = 0;
  for (auto [name, mine, elem] : {std::tuple{"_w", &got.w, size_t{4}}, std::tuple{"_scales", &got.scales, psize},
                                  std::tuple{"_biases", &got.biases, psize}}) {
    int64_t first = -1;
    const int64_t n = count_diffs(*mine, file.at(k.prefix + name).bytes, elem, &first);
    if (n != 0 && why && why->empty()) *why = k.prefix + name + ": " + std::to_string(n) + " differ, first at " +
                                              std::to_string(first);
    total += n < 0 ? 1 : n;
  }
  return total;
}

TEST(QuantFixtures, FilesExist) {
  EXPECT_FALSE(quant_fixture_files().empty()) << "no quant reference files under tests/data/quant";
}

// The path a file was made with reproduces it bit for bit; the other path must fail on at least one key
// (otherwise the test cannot tell the two paths apart).
TEST(QuantFixtures, AffineBitExactOnTheRightPathOnly) {
  for (const auto& path : quant_fixture_files()) {
    SCOPED_TRACE(path.string());
    const LiteFile file = read_safetensors_lite(path);
    const auto rounding = file_rounding(path, file);
    ASSERT_TRUE(rounding.has_value()) << "cannot tell which MLX path made " << path;
    const Rounding other = *rounding == Rounding::Gpu ? Rounding::Cpu : Rounding::Gpu;
    const auto keys = affine_keys(file);
    EXPECT_FALSE(keys.empty());
    int64_t other_failures = 0;
    for (const auto& k : keys) {
      for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {  // every kernel this CPU can run
        if (static_cast<int>(isa) > static_cast<int>(mlx::quant::detail::best_isa())) continue;
        mlx::quant::detail::force_isa(isa);
        std::string why;
        EXPECT_EQ(affine_key_diffs(file, k, *rounding, &why), 0) << mlx::quant::detail::isa_name(isa) << ": " << why;
      }
      mlx::quant::detail::force_isa(mlx::quant::detail::best_isa());
      if (affine_key_diffs(file, k, other, nullptr) != 0) ++other_failures;
    }
    EXPECT_GT(other_failures, 0) << "the other rounding also reproduces every key";
    std::cout << path.filename().string() << ": " << keys.size() << " affine keys; the other rounding differs on "
              << other_failures << "\n";
  }
}

// mx.dequantize of MLX's own quantized tensors, to the stored dtype and to float32.
TEST(QuantFixtures, AffineDequantizeBitExact) {
  int checked = 0;
  for (const auto& path : quant_fixture_files()) {
    SCOPED_TRACE(path.string());
    const LiteFile file = read_safetensors_lite(path);
    for (const auto& k : affine_keys(file)) {
      if (!file.has(k.prefix + "_dequant")) continue;
      SCOPED_TRACE(k.prefix);
      const LiteTensor& ref = file.at(k.prefix + "_dequant");
      const int64_t cols = ref.shape.back();
      const int64_t rows = ref.numel() / cols;
      std::string out(ref.bytes.size(), '\0');
      const auto* w = reinterpret_cast<const uint32_t*>(file.at(k.prefix + "_w").bytes.data());
      const void* s = file.at(k.prefix + "_scales").bytes.data();
      const void* b = file.at(k.prefix + "_biases").bytes.data();
      mlx::quant::affine_dequantize(w, s, b, k.dt, rows, cols, k.bits, k.group, static_cast<void*>(out.data()));
      int64_t first = -1;
      EXPECT_EQ(count_diffs(out, ref.bytes, mlx::dtype_size(k.dt), &first), 0) << "first at " << first;
      if (k.dt == DType::F32) {
        std::vector<float> f(rows * cols);
        mlx::quant::affine_dequantize(w, s, b, k.dt, rows, cols, k.bits, k.group, f.data());
        EXPECT_EQ(std::memcmp(f.data(), ref.bytes.data(), ref.bytes.size()), 0);
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no _dequant keys found";
}

TEST(QuantFixtures, FpModesBitExact) {
  int checked = 0;
  for (const auto& path : quant_fixture_files()) {
    SCOPED_TRACE(path.string());
    const LiteFile file = read_safetensors_lite(path);
    for (const auto& k : fp_keys(file)) {
      SCOPED_TRACE(k.prefix);
      const LiteTensor& in = file.at("in_" + k.dt_name);
      const LiteTensor& ref_w = file.at(k.prefix + "_w");
      const LiteTensor& ref_s = file.at(k.prefix + "_scales");
      const int64_t cols = in.shape.back();
      const int64_t rows = in.numel() / cols;
      std::string w(ref_w.bytes.size(), '\0'), s(ref_s.bytes.size(), '\0');
      mlx::quant::fp_quantize(in.bytes.data(), k.dt, rows, cols, k.mode, reinterpret_cast<uint32_t*>(w.data()),
                              reinterpret_cast<uint8_t*>(s.data()));
      int64_t first = -1;
      EXPECT_EQ(count_diffs(s, ref_s.bytes, 1, &first), 0) << "scales, first at " << first;
      EXPECT_EQ(count_diffs(w, ref_w.bytes, 4, &first), 0) << "words, first at " << first;
      if (file.has(k.prefix + "_dequant")) {
        const LiteTensor& ref = file.at(k.prefix + "_dequant");
        const DType out_dt = *mlx::parse_dtype(ref.dtype);
        std::string out(ref.bytes.size(), '\0');
        mlx::quant::fp_dequantize(reinterpret_cast<const uint32_t*>(ref_w.bytes.data()),
                                  reinterpret_cast<const uint8_t*>(ref_s.bytes.data()), k.mode, rows, cols, out_dt,
                                  static_cast<void*>(out.data()));
        EXPECT_EQ(count_diffs(out, ref.bytes, mlx::dtype_size(out_dt), &first), 0) << "dequant, first at " << first;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no fp-mode keys found";
  std::cout << checked << " fp-mode keys checked\n";
}

}  // namespace
