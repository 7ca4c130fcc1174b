// The per-ISA quantized matvec kernels and how matmul.cpp picks one (private to cpu/).
#pragma once

#include <cstdint>

#include "backend/cpu/matmul.h"

namespace mlx::cpu::detail {

enum class Isa { Scalar, Avx2, Avx512 };

// The best ISA this CPU supports, capped by the MLX_CPU_ISA environment variable (scalar|avx2|avx512) so that
// tests can run every kernel on one machine. Read once.
Isa active_isa();
const char* isa_name(Isa isa);
// Overrides the choice for this process (tests); returns the previous one. An ISA the CPU lacks is capped.
Isa set_isa(Isa isa);

// The small-m kernels unpack V consecutive values of the bit stream per 32-bit lane: a whole packed word for
// bits 2, 4, 8 (V = 32/bits), 4 values for bits 3, 5, 6.
constexpr int tuple_values_for(int bits) { return (bits == 2 || bits == 4 || bits == 8) ? 32 / bits : 4; }

// Activations prepared once per call for the small-m kernels, x permuted to match the lanes: for blocks of V*L
// values (L = 16 lanes for AVX-512, 8 for AVX2), xp[b*V*L + k*L + j] = x[b*V*L + V*j + k], zero-padded to whole
// blocks.
struct QActs {
  const float* xp;    // [m][in_pad]
  const float* xsum;  // [m][groups] sum of x over each group (affine bias term: Σ(q·s+b)·x = s·Σq·x + b·Σx)
  int64_t in_pad;
  int64_t groups;
  int m;
};

// y[i*ldy + r] = Σ_j W[r, j] x[i, j] for rows r in [r0, r1) and i < acts.m (m <= kMaxSmallM).
inline constexpr int kMaxSmallM = 8;
void qmatvec_avx512(const QuantizedWeight& w, const QActs& acts, int64_t r0, int64_t r1, float* y, int64_t ldy);
void qmatvec_avx2(const QuantizedWeight& w, const QActs& acts, int64_t r0, int64_t r1, float* y, int64_t ldy);

// Decode with integer activations (qmatvec_q8_avx512.cpp): x rounded per 32 values to int8 (1 level, as llama.cpp's
// Q8 activations) or to int8 plus an int8 residual (2 levels, error <= max|x|/32512), VNNI dot products with the
// codes. Default 2 levels; MLX_CPU_Q8_ACTS=0|1|2 or set_q8_acts_levels() (0 = float activations).
int q8_acts_levels();
int set_q8_acts_levels(int levels);  // process-wide (all threads); returns the previous setting
// Whether qmatvec_avx512 takes the int8 path for this weight and m: enabled, m == 1, affine 2/4/8-bit, CPU has VNNI.
bool q8_acts_applies(const QuantizedWeight& w, int m);
void qmatvec_q8_avx512(const QuantizedWeight& w, const QActs& acts, int64_t r0, int64_t r1, float* y);

// Rows [r0, r1) of W dequantized to float in the same permuted layout as QActs.xp (without the 2^-(k*bits)
// prescale), zero weights' tails padded: out[(r - r0) * in_pad + ...]. For prefill: sgemm against x permuted alike.
void dequant_tuples_avx512(const QuantizedWeight& w, int64_t r0, int64_t r1, float* out, int64_t in_pad);
void dequant_tuples_avx2(const QuantizedWeight& w, int64_t r0, int64_t r1, float* out, int64_t in_pad);

// Float weights: y[i*ldy + r] = W[r]·x[i] for r in [r0, r1), i < m (m <= kMaxSmallM), converting in registers;
// and rows [r0, r1) converted to float (prefill tiles).
void dense_matvec_avx512(const DenseWeight& w, const float* x, int m, int64_t r0, int64_t r1, float* y, int64_t ldy);
void convert_rows_avx512(const DenseWeight& w, int64_t r0, int64_t r1, float* out);

// Row r's scales (and biases) as float into out[groups] (the multiplier of each group, decoded).
void decode_scales(const QuantizedWeight& w, int64_t r, float* scales, float* biases);

}  // namespace mlx::cpu::detail
