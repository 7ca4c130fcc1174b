// The worked example of mlx-reference.md section c (hand-computed, independent of MLX's files), bit packing,
// round trips, specs, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/affine.h"
#include "quant/fp_formats.h"
#include "quant/spec.h"

namespace {

using mlx::DType;
using mlx::quant::QuantMode;
using mlx::quant::QuantSpec;
using mlx::quant::Rounding;

std::vector<float> worked_example_input() {
  std::vector<float> w(32);
  for (int j = 0; j < 32; ++j) w[j] = static_cast<float>(j - 10) * 0.1f;
  return w;
}

TEST(AffineWorkedExample, FourBit) {
  const std::vector<float> w = worked_example_input();
  for (Rounding rounding : {Rounding::Cpu, Rounding::Gpu}) {  // no ties, no negative-only group: both paths agree
    uint32_t packed[4];
    float scale, bias;
    mlx::quant::affine_quantize(w.data(), DType::F32, 1, 32, 4, 32, rounding, packed, &scale, &bias);
    EXPECT_EQ(packed[0], 0xbccddeefu);
    EXPECT_EQ(packed[1], 0x8899aaabu);
    EXPECT_EQ(packed[2], 0x44556677u);
    EXPECT_EQ(packed[3], 0x00112233u);
    EXPECT_NEAR(scale, -0.21f, 1e-7f);
    EXPECT_EQ(bias, w[31]);  // the edge value 2.1 is the bias, exactly
    const int expect_q[32] = {15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 10, 9, 9, 8, 8,
                              7,  7,  6,  6,  5,  5,  4,  4,  3,  3,  2,  2,  1, 1, 0, 0};
    for (int j = 0; j < 32; ++j) EXPECT_EQ(mlx::quant::extract_bits(packed, j, 4), static_cast<uint32_t>(expect_q[j]));
  }
}

TEST(AffineWorkedExample, ThreeBitStraddlesWords) {
  const std::vector<float> w = worked_example_input();
  uint32_t packed[3];
  float scale, bias;
  mlx::quant::affine_quantize(w.data(), DType::F32, 1, 32, 3, 32, Rounding::Cpu, packed, &scale, &bias);
  EXPECT_EQ(packed[0], 0x6ddb6fffu);
  EXPECT_EQ(packed[1], 0x36dc925bu);
  EXPECT_EQ(packed[2], 0x00124a49u);
  EXPECT_NEAR(scale, -0.42f, 1e-7f);
  EXPECT_EQ(bias, w[31]);
  EXPECT_EQ(mlx::quant::extract_bits(packed, 10, 3), 5u);  // q10 = 0b101 split across words 0 and 1
}

// Dequantized values stay close to the input for every bits x group: half a step, plus the clipping that MLX's
// zero-point snapping causes at the far end of a group (less than one step).
TEST(Affine, RoundTripWithinHalfAStep) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t rows = 4, cols = 256;
  std::vector<float> w(rows * cols);
  for (float& x : w) x = normal(rng);
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    for (int group : {32, 64, 128}) {
      std::vector<uint32_t> packed(rows * mlx::quant::packed_cols(cols, bits));
      std::vector<float> scales(rows * cols / group), biases(scales.size()), back(w.size());
      mlx::quant::affine_quantize(w.data(), DType::F32, rows, cols, bits, group, Rounding::Gpu, packed.data(),
                                  scales.data(), biases.data());
      mlx::quant::affine_dequantize(packed.data(), scales.data(), biases.data(), DType::F32, rows, cols, bits, group,
                                    back.data());
      for (int64_t i = 0; i < rows * cols; ++i) {
        const float step = std::fabs(scales[i / group]);
        ASSERT_LE(std::fabs(back[i] - w[i]), 1.5f * step + 1e-6f) << "b" << bits << " g" << group << " @" << i;
      }
    }
  }
}

TEST(Spec, NamesAndDefaults) {
  for (QuantMode m : {QuantMode::Affine, QuantMode::MxFp4, QuantMode::NvFp4, QuantMode::MxFp8}) {
    EXPECT_EQ(mlx::quant::parse_quant_mode(mlx::quant::quant_mode_name(m)), m);
    EXPECT_FALSE(mlx::quant::spec_problem(mlx::quant::default_spec(m)).has_value());
  }
  EXPECT_FALSE(mlx::quant::parse_quant_mode("int4").has_value());
  EXPECT_EQ(mlx::quant::default_spec(QuantMode::Affine), (QuantSpec{QuantMode::Affine, 4, 64}));
  EXPECT_EQ(mlx::quant::default_spec(QuantMode::NvFp4), (QuantSpec{QuantMode::NvFp4, 4, 16}));
  EXPECT_EQ(mlx::quant::default_spec(QuantMode::MxFp8), (QuantSpec{QuantMode::MxFp8, 8, 32}));
  EXPECT_EQ(mlx::quant::packed_cols(384, 3), 36);
  EXPECT_EQ(mlx::quant::groups(384, 128), 3);
}

TEST(Spec, MlxValidityRules) {
  int valid = 0;
  for (int bits = 1; bits <= 9; ++bits)
    for (int group : {16, 32, 48, 64, 128, 256})
      if (!mlx::quant::spec_problem({QuantMode::Affine, bits, group})) ++valid;
  EXPECT_EQ(valid, 6 * 3);  // bits {2,3,4,5,6,8} x group {32,64,128}
  EXPECT_TRUE(mlx::quant::spec_problem({QuantMode::MxFp4, 4, 64}).has_value());
  EXPECT_TRUE(mlx::quant::spec_problem({QuantMode::MxFp8, 4, 32}).has_value());
  EXPECT_TRUE(mlx::quant::spec_problem({QuantMode::NvFp4, 4, 32}).has_value());
  const auto msg = mlx::quant::spec_problem({QuantMode::Affine, 7, 64});
  ASSERT_TRUE(msg.has_value());
  EXPECT_NE(msg->find("bits=7"), std::string::npos);
  EXPECT_NE(msg->find("group_size=64"), std::string::npos);
  EXPECT_EQ(msg->find('\n'), std::string::npos);
  EXPECT_THROW(mlx::quant::validate_spec({QuantMode::NvFp4, 4, 32}), mlx::Error);
}

TEST(AffineBadInput, RejectedWithOneLineError) {
  std::vector<float> w(64, 1.0f), out(64);
  std::vector<uint32_t> packed(64);
  std::vector<float> s(8), b(8);
  auto expect_error = [](auto&& fn, const char* needle) {
    try {
      fn();
      ADD_FAILURE() << "no error for " << needle;
    } catch (const mlx::Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  expect_error([&] { mlx::quant::affine_quantize(w.data(), DType::I32, 1, 64, 4, 32, Rounding::Gpu, packed.data(), s.data(), b.data()); }, "I32");
  expect_error([&] { mlx::quant::affine_quantize(w.data(), DType::F32, 1, 64, 7, 32, Rounding::Gpu, packed.data(), s.data(), b.data()); }, "bits=7");
  expect_error([&] { mlx::quant::affine_quantize(w.data(), DType::F32, 1, 64, 4, 48, Rounding::Gpu, packed.data(), s.data(), b.data()); }, "group_size=48");
  expect_error([&] { mlx::quant::affine_quantize(w.data(), DType::F32, 2, 48, 4, 32, Rounding::Gpu, packed.data(), s.data(), b.data()); }, "48");
  expect_error([&] { mlx::quant::affine_dequantize(packed.data(), s.data(), b.data(), DType::U8, 1, 64, 4, 32, out.data()); }, "U8");
  std::vector<uint8_t> fs(8);
  expect_error([&] { mlx::quant::fp_quantize(w.data(), DType::F32, 1, 64, QuantMode::Affine, packed.data(), fs.data()); }, "affine");
  expect_error([&] { mlx::quant::fp_quantize(w.data(), DType::F32, 2, 40, QuantMode::MxFp4, packed.data(), fs.data()); }, "40");
  expect_error([&] { mlx::quant::fp_quantize(w.data(), DType::I8, 1, 64, QuantMode::MxFp8, packed.data(), fs.data()); }, "I8");
}

}  // namespace
