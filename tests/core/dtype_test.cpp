// Float conversions checked against the CPU's own F16C instructions and IEEE definitions, not against ourselves.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>

#include "core/dtype.h"

using namespace mlx;

TEST(DType, NamesRoundTrip) {
  for (auto name : {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL",
                    "F8_E4M3", "F8_E8M0"}) {
    auto t = parse_dtype(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_EQ(dtype_name(*t), name);
  }
  EXPECT_FALSE(parse_dtype("F8_E5M2").has_value());
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::F64), 8u);
}

#ifdef __F16C__
TEST(DType, F16WideningMatchesHardwareForAllPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float ours = f16_to_f32(uint16_t(h));
    float hw = _cvtsh_ss(uint16_t(h));
    if (std::isnan(hw)) {
      EXPECT_TRUE(std::isnan(ours)) << h;
    } else {
      EXPECT_EQ(f32_to_bits(ours), f32_to_bits(hw)) << h;
    }
  }
}

TEST(DType, F16NarrowingMatchesHardwareRoundNearestEven) {
  // Every float16 value, the midpoints between neighbours (ties) and points just either side of them.
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    float lo = f16_to_f32(uint16_t(h)), hi = f16_to_f32(uint16_t(h + 1));
    float mid = (lo + hi) / 2;  // exact in float32
    for (float v : {lo, mid, std::nextafter(mid, 0.f), std::nextafter(mid, 1e9f), -lo, -mid}) {
      uint16_t hw = _cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT);
      EXPECT_EQ(f32_to_f16(v), hw) << v;
    }
  }
  EXPECT_EQ(f32_to_f16(1e6f), _cvtss_sh(1e6f, _MM_FROUND_TO_NEAREST_INT));
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
}
#endif

TEST(DType, BF16IsTopHalfWithRoundNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
  // 1 + 3*2^-8 is halfway between 1.0078125 (odd mantissa) and 1.015625: ties to even (up).
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
}

TEST(DType, BulkConversions) {
  float src[4] = {1.5f, -2.25f, 0.0f, 65504.0f};
  uint16_t half[4];
  float back[4];
  from_f32(src, DType::F16, half, 4);
  to_f32(half, DType::F16, back, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back[i], src[i]);
  from_f32(src, DType::BF16, half, 4);
  to_f32(half, DType::BF16, back, 4);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(back[i], src[i]);
  int32_t ints[2] = {-7, 12};
  to_f32(ints, DType::I32, back, 2);
  EXPECT_EQ(back[0], -7.0f);
  EXPECT_EQ(back[1], 12.0f);
}
