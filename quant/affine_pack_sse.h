// Internal to quant/: packing 16 quantized values (one byte each, in a __m128i) into the LSB-first bit stream.
// Included by the AVX2 and AVX-512 kernel files only; internal linkage so each keeps its own ISA's copy.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/affine_kernels.h"

namespace mlx::quant::detail {
namespace {

// Writes 16 values of `bits` bits (2*bits bytes) at out; bytes holds the values in its 16 lanes, in order.
inline void pack16(__m128i bytes, int bits, uint8_t* out) {
  switch (bits) {
    case 8:
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
      return;
    case 4: {
      // Each 16-bit lane holds (v0, v1): v0 | v1 << 4 in its low byte, then narrow to bytes.
      const __m128i t = _mm_and_si128(_mm_or_si128(bytes, _mm_srli_epi16(bytes, 4)), _mm_set1_epi16(0x00FF));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(t, t));
      return;
    }
    case 2: {
      __m128i t = _mm_and_si128(_mm_or_si128(bytes, _mm_srli_epi16(bytes, 6)), _mm_set1_epi16(0x000F));
      t = _mm_packus_epi16(t, t);  // 8 nibbles, each 2 values
      t = _mm_and_si128(_mm_or_si128(t, _mm_srli_epi16(t, 4)), _mm_set1_epi16(0x00FF));
      t = _mm_packus_epi16(t, t);
      const uint32_t word = static_cast<uint32_t>(_mm_cvtsi128_si32(t));
      std::memcpy(out, &word, 4);
      return;
    }
    default: {
      // 3, 5, 6 bits: values straddle bytes; 16 values are a whole number of bytes (6, 10, 12).
      alignas(16) uint8_t q[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(q), bytes);
      uint64_t acc = 0;
      int filled = 0;
      for (int i = 0; i < 16; ++i) {
        acc |= static_cast<uint64_t>(q[i]) << filled;
        filled += bits;
        while (filled >= 8) {
          *out++ = static_cast<uint8_t>(acc);
          acc >>= 8;
          filled -= 8;
        }
      }
      return;
    }
  }
}

}  // namespace
}  // namespace mlx::quant::detail
