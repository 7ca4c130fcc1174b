// The small-float codecs (E2M1, E4M3, E8M0) against their definitions, independent of MLX's files.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "quant/fp_formats.h"

namespace {

using namespace mlx::quant;

TEST(E4M3, EveryCodeDecodesAndReencodes) {
  int finite = 0;
  for (int b = 0; b < 256; ++b) {
    const float v = e4m3_to_float(static_cast<uint8_t>(b));
    if ((b & 0x7F) == 0x7F) {
      EXPECT_TRUE(std::isnan(v)) << b;
      continue;
    }
    EXPECT_EQ(float_to_e4m3(v), b) << "code " << b << " value " << v;
    ++finite;
  }
  EXPECT_EQ(finite, 254);
}

TEST(E4M3, KnownValuesRoundingAndSaturation) {
  EXPECT_EQ(e4m3_to_float(0x7E), 448.0f);
  EXPECT_EQ(e4m3_to_float(0x38), 1.0f);
  EXPECT_EQ(e4m3_to_float(0x08), 0x1p-6f);  // smallest normal
  EXPECT_EQ(e4m3_to_float(0x01), 0x1p-9f);  // smallest subnormal
  EXPECT_EQ(e4m3_to_float(0xB8), -1.0f);
  EXPECT_EQ(float_to_e4m3(1.0625f), 0x38);   // tie between 1.0 and 1.125 -> even mantissa (1.0)
  EXPECT_EQ(float_to_e4m3(1.1875f), 0x3A);   // tie between 1.125 and 1.25 -> 1.25
  EXPECT_EQ(float_to_e4m3(0x1p-10f), 0x00);  // half the smallest subnormal -> even (0)
  EXPECT_EQ(float_to_e4m3(3 * 0x1p-10f), 0x02);
  EXPECT_EQ(float_to_e4m3(460.0f), 0x7E);    // below the midpoint 464 -> 448
  EXPECT_EQ(float_to_e4m3(464.0f), 0x7E);    // MLX saturates instead of producing NaN
  EXPECT_EQ(float_to_e4m3(1e9f), 0x7E);
  EXPECT_EQ(float_to_e4m3(-1e9f), 0xFE);
  EXPECT_EQ(float_to_e4m3(INFINITY), 0x7E);
  EXPECT_EQ(float_to_e4m3(-0.0f), 0x80);
}

TEST(E2M1, NearestWithTiesToTheLowerIndex) {
  for (int k = 0; k < 16; ++k) EXPECT_EQ(float_to_e2m1(e2m1_to_float(static_cast<uint8_t>(k))), k == 8 ? 0 : k);
  EXPECT_EQ(float_to_e2m1(0.25f), 0);   // tie 0 / 0.5
  EXPECT_EQ(float_to_e2m1(0.75f), 1);   // tie 0.5 / 1
  EXPECT_EQ(float_to_e2m1(2.5f), 4);    // tie 2 / 3
  EXPECT_EQ(float_to_e2m1(3.5f), 5);    // tie 3 / 4
  EXPECT_EQ(float_to_e2m1(5.0f), 6);    // tie 4 / 6
  EXPECT_EQ(float_to_e2m1(-2.5f), 12);  // -2
  EXPECT_EQ(float_to_e2m1(-0.1f), 0);   // +0 comes first in the table
  EXPECT_EQ(float_to_e2m1(100.0f), 7);
  EXPECT_EQ(float_to_e2m1(-100.0f), 15);
}

TEST(E8M0, PowersOfTwo) {
  EXPECT_EQ(e8m0_to_float(127), 1.0f);
  EXPECT_EQ(e8m0_to_float(128), 2.0f);
  EXPECT_EQ(e8m0_to_float(120), 0x1p-7f);
  EXPECT_EQ(e8m0_to_float(1), 0x1p-126f);
  EXPECT_EQ(e8m0_to_float(0), 0x1p-127f);  // MLX's CPU decoding of the zero code
  EXPECT_TRUE(std::isinf(e8m0_to_float(255)));
}

// One hand-computed mxfp4 group: max |w| = 12 -> s = 2 -> e = round(log2 2) = 1, w / 2 picks the nearest E2M1.
TEST(MxFp4, HandComputedGroup) {
  std::vector<float> w(32, 0.0f);
  w[0] = 12.0f;   // /2 = 6    -> 0x7
  w[1] = -3.0f;   // /2 = -1.5 -> 0xB
  w[2] = 5.0f;    // /2 = 2.5  -> tie 2/3 -> 2 (0x4)
  w[3] = 0.4f;    // /2 = 0.2  -> 0
  w[4] = -7.0f;   // /2 = -3.5 -> tie -3/-4 -> -3 (0xD)
  uint32_t packed[4];
  uint8_t scale;
  fp_quantize(w.data(), mlx::DType::F32, 1, 32, QuantMode::MxFp4, packed, &scale);
  EXPECT_EQ(scale, 128);
  EXPECT_EQ(packed[0] & 0xFFFFF, 0xD04B7u);
  std::vector<float> back(32);
  fp_dequantize(packed, &scale, QuantMode::MxFp4, 1, 32, back.data());
  EXPECT_EQ(back[0], 12.0f);
  EXPECT_EQ(back[1], -3.0f);
  EXPECT_EQ(back[2], 4.0f);
  EXPECT_EQ(back[4], -6.0f);
}

// nvfp4: s = max|w| / 6 stored as E4M3; w / s picks the nearest E2M1.
TEST(NvFp4, HandComputedGroup) {
  std::vector<float> w(16, 0.0f);
  w[0] = 3.0f;   // s = 0.5 (0x30), 3 / 0.5 = 6 -> 0x7
  w[1] = -0.5f;  // -1 -> 0xA
  uint32_t packed[2];
  uint8_t scale;
  fp_quantize(w.data(), mlx::DType::F32, 1, 16, QuantMode::NvFp4, packed, &scale);
  EXPECT_EQ(scale, 0x30);
  EXPECT_EQ(e4m3_to_float(scale), 0.5f);
  EXPECT_EQ(packed[0], 0xA7u);
  EXPECT_EQ(packed[1], 0u);
}

}  // namespace

namespace {

// The fast E2M1 search equals MLX's literal argmin on every f16 and bf16 value and on float32 values around
// every tie and boundary.
TEST(E2M1, FastSearchEqualsLiteralArgmin) {
  using mlx::DType;
  using mlx::quant::detail::nearest_e2m1;
  using mlx::quant::detail::nearest_e2m1_reference;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f16 = mlx::f16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(nearest_e2m1<DType::F16>(f16), nearest_e2m1_reference<DType::F16>(f16)) << f16;
    const float bf = mlx::bf16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(nearest_e2m1<DType::BF16>(bf), nearest_e2m1_reference<DType::BF16>(bf)) << bf;
  }
  for (float center = -20.0f; center <= 20.0f; center += 0.25f) {
    float x = center;
    for (int i = 0; i < 64; ++i) x = std::nextafter(x, -INFINITY);
    for (int i = 0; i < 128; ++i, x = std::nextafter(x, INFINITY))
      ASSERT_EQ(nearest_e2m1<DType::F32>(x), nearest_e2m1_reference<DType::F32>(x)) << x;
  }
}

}  // namespace
