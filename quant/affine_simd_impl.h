// Internal to quant/: the SIMD affine quantization kernel, written once over a small vector interface `V`
// (Avx2Ops in affine_avx2.cpp, Avx512Ops in affine_avx512.cpp). Each file includes it with its own ISA flags, so
// everything here has internal linkage.
//
// A row is done in three passes over data that stays in L1:
//   A. per group: min and max (vector min/max, then one horizontal reduction);
//   B. per 16/8 groups at once: MLX's scale / edge / q0 / bias maths, lane-wise, as group_params does in scalar;
//   C. per group: q = clamp(round((w - bias) / scale)) and the bit packing.
// Every float operation is the scalar kernel's operation in the same order with IEEE semantics (division, no
// fused multiply-add), so the bytes are identical to affine_rows_scalar's.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "quant/affine_kernels.h"
#include "quant/affine_pack_sse.h"
#include "quant/spec.h"

namespace mlx::quant::detail {
namespace {

constexpr int kMaxGroupsPerRow = 512;  // rows longer than 512 groups are done in chunks of 512 groups

template <class V, Rounding R, int BITS, int GROUP>
void quantize_row_chunk(const AffineJob& job, int64_t r, int64_t g0, int64_t ng) {
  using F = typename V::F;
  constexpr int N = V::N;
  constexpr int VECS = GROUP / N;
  constexpr float kBins = static_cast<float>((1 << BITS) - 1);
  alignas(64) float mins[kMaxGroupsPerRow + 16], maxs[kMaxGroupsPerRow + 16];
  alignas(64) float scales[kMaxGroupsPerRow + 16], biases[kMaxGroupsPerRow + 16];
  const int64_t row_base = r * job.cols;

  // A. min / max per group.
  for (int64_t g = 0; g < ng; ++g) {
    const int64_t base = row_base + (g0 + g) * GROUP;
    F lo = V::load(job.w, job.dt, base), hi = lo;
    for (int k = 1; k < VECS; ++k) {
      const F v = V::load(job.w, job.dt, base + k * N);
      lo = V::min(lo, v);
      hi = V::max(hi, v);
    }
    mins[g] = V::reduce_min(lo);
    maxs[g] = V::reduce_max(hi);
  }
  const int64_t ng_pad = (ng + N - 1) / N * N;
  for (int64_t g = ng; g < ng_pad; ++g) mins[g] = maxs[g] = 0.0f;

  // B. scale and bias for N groups at a time (group_params, lane-wise).
  const F bins = V::set1(kBins), eps = V::set1(1e-7f), zero = V::set1(0.0f);
  for (int64_t g = 0; g < ng_pad; g += N) {
    F w_min = V::loadf(mins + g), w_max = V::loadf(maxs + g);
    if constexpr (R == Rounding::Gpu) {  // Metal: w_min starts at the dtype's max, w_max at 0
      w_min = V::min(V::set1(dtype_max(job.dt)), w_min);
      w_max = V::max(zero, w_max);
    }
    const auto side = V::gt(V::abs(w_min), V::abs(w_max));
    F scale = V::max_keep_first(V::div(V::sub(w_max, w_min), bins), eps);
    scale = V::blend(side, V::neg(scale), scale);
    const F edge = V::blend(side, w_max, w_min);
    const F ratio = V::div(edge, scale);
    const F ratio_t = V::trunc(ratio);
    const F q0 = R == Rounding::Gpu ? V::round_away(ratio, ratio_t, V::abs(V::sub(ratio, ratio_t))) : V::rint(ratio);
    const auto nonzero = V::ne(q0, zero);
    V::storef(scales + g, V::blend(nonzero, scale, V::div(edge, q0)));
    V::storef(biases + g, V::blend(nonzero, zero, edge));
  }
  const int64_t n_groups_row = job.cols / GROUP;
  for (int64_t g = 0; g < ng; ++g) {
    store_param(job.scales, job.dt, r * n_groups_row + g0 + g, scales[g]);
    store_param(job.biases, job.dt, r * n_groups_row + g0 + g, biases[g]);
  }

  // C. quantize and pack. MLX divides, (w - bias) / scale; a division per element would cap the kernel at the
  // divider's throughput, so we multiply by 1/scale instead and redo the exact division only for vectors with an
  // element near a rounding boundary. Why that is exact: y = (w - bias) * fl(1/scale) is within 3 ulp of the true
  // quotient and MLX's x = fl((w - bias) / scale) within half an ulp, so unless y lies within 4 ulp of a
  // half-integer (the only places where round / rint change value), round(y) == round(x). We test 8 ulp (|y|*2^-21).
  // Far outside [0, n_bins] both clamp to the same end, so large |y| needs no care.
  constexpr int kGroupBytes = GROUP * BITS / 8;
  auto* out = reinterpret_cast<uint8_t*>(job.packed + r * packed_cols(job.cols, BITS)) + g0 * kGroupBytes;
  const F half = V::set1(0.5f), tol = V::set1(0x1p-21f);
  for (int64_t g = 0; g < ng; ++g) {
    const int64_t base = row_base + (g0 + g) * GROUP;
    const F bias = V::set1(biases[g]), scale = V::set1(scales[g]);
    const F inv = V::div(V::set1(1.0f), scale);
    // 1/scale loses relative precision once it is subnormal: such (absurd) groups always divide.
    const bool always_divide = !(std::fabs(scales[g]) < 0x1p125f);
    F q[VECS];
    for (int k = 0; k < VECS; ++k) {
      const F a = V::sub(V::load(job.w, job.dt, base + k * N), bias);
      F x = V::mul(a, inv);
      F t = V::trunc(x);
      F frac = V::abs(V::sub(x, t));
      if (always_divide || V::any(V::le(V::abs(V::sub(frac, half)), V::mul(V::abs(x), tol)))) {
        x = V::div(a, scale);  // near a boundary: MLX's exact quotient
        t = V::trunc(x);
        frac = V::abs(V::sub(x, t));
      }
      const F rounded = R == Rounding::Gpu ? V::round_away(x, t, frac) : V::rint(x);
      q[k] = V::min(V::max(rounded, zero), bins);
    }
    for (int k = 0; k < VECS; k += 16 / N) pack16(V::bytes16(q + k), BITS, out + g * kGroupBytes + k * N * BITS / 8);
  }
}

template <class V, Rounding R, int BITS, int GROUP>
void quantize_rows(const AffineJob& job, int64_t r0, int64_t r1) {
  const int64_t n_groups = job.cols / GROUP;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t g0 = 0; g0 < n_groups; g0 += kMaxGroupsPerRow)
      quantize_row_chunk<V, R, BITS, GROUP>(job, r, g0, std::min<int64_t>(kMaxGroupsPerRow, n_groups - g0));
}

template <class V, Rounding R, int BITS>
void dispatch_group(const AffineJob& job, int64_t r0, int64_t r1) {
  switch (job.group) {
    case 32: return quantize_rows<V, R, BITS, 32>(job, r0, r1);
    case 64: return quantize_rows<V, R, BITS, 64>(job, r0, r1);
    default: return quantize_rows<V, R, BITS, 128>(job, r0, r1);
  }
}

template <class V, Rounding R>
void dispatch_bits(const AffineJob& job, int64_t r0, int64_t r1) {
  switch (job.bits) {
    case 2: return dispatch_group<V, R, 2>(job, r0, r1);
    case 3: return dispatch_group<V, R, 3>(job, r0, r1);
    case 4: return dispatch_group<V, R, 4>(job, r0, r1);
    case 5: return dispatch_group<V, R, 5>(job, r0, r1);
    case 6: return dispatch_group<V, R, 6>(job, r0, r1);
    default: return dispatch_group<V, R, 8>(job, r0, r1);
  }
}

// Entry point used by the ISA file: bits / group / rounding become compile-time constants.
template <class V>
void affine_rows_simd(const AffineJob& job, int64_t r0, int64_t r1) {
  if (job.rounding == Rounding::Gpu)
    dispatch_bits<V, Rounding::Gpu>(job, r0, r1);
  else
    dispatch_bits<V, Rounding::Cpu>(job, r0, r1);
}

}  // namespace
}  // namespace mlx::quant::detail
