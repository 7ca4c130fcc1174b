// fast:: primitives (RMSNorm, LayerNorm, RoPE, ScaledDotProductAttention) and QuantizedMatmul: MLX serializes no
// fallback for the fast ones, so these are native kernels with MLX's semantics.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "graph/kernels_impl.h"
#include "quant/fp_formats.h"

namespace mlx::graph::detail {

namespace {

// Dequantizes an affine-quantized [rows, cols*bits/32] uint32 matrix (LSB-first bit stream per row).
std::vector<double> dequantize_affine(const Tensor& w, const Tensor& scales, const Tensor& biases, int64_t gs,
                                      int64_t bits, int64_t& rows, int64_t& cols, const Ctx& c) {
  if (w.shape.size() != 2) fail("{}: QuantizedMatmul supports 2-d weights, got {}", c.file, dims_string(w.shape));
  if (bits < 1 || bits > 8 || gs <= 0) fail("{}: QuantizedMatmul bits {} group size {} not supported", c.file, bits, gs);
  rows = w.shape[0];
  int64_t words = w.shape[1];
  cols = words * 32 / bits;
  if (cols % gs != 0 || scales.numel() != rows * (cols / gs) || biases.numel() != scales.numel())
    fail("{}: QuantizedMatmul scales/biases {} do not match weight {}", c.file, dims_string(scales.shape), dims_string(w.shape));
  std::vector<double> out(rows * cols);
  uint64_t mask = (1ull << bits) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    const double* wr = w.v.data() + r * words;
    for (int64_t k = 0; k < cols; ++k) {
      int64_t bit = k * bits, word = bit / 32, sh = bit % 32;
      uint64_t lo = uint64_t(wr[word]) >> sh;
      if (sh + bits > 32 && word + 1 < words) lo |= uint64_t(wr[word + 1]) << (32 - sh);
      double q = double(lo & mask);
      int64_t g = r * (cols / gs) + k / gs;
      out[r * cols + k] = float(scales.v[g] * q + biases.v[g]);
    }
  }
  return out;
}

// mxfp4 / mxfp8 / nvfp4 (MLX mode codes 1, 2, 3): packed words + uint8 scales, through quant's fp_dequantize.
std::vector<double> dequantize_fp(const Tensor& w, const Tensor& scales, int64_t mode, int64_t bits, int64_t& rows,
                                  int64_t& cols, const Ctx& c) {
  quant::QuantMode m = mode == 1 ? quant::QuantMode::MxFp4 : mode == 2 ? quant::QuantMode::MxFp8 : quant::QuantMode::NvFp4;
  if (w.shape.size() != 2 || (bits != 4 && bits != 8)) fail("{}: QuantizedMatmul fp mode {} weight {} bits {}", c.file, mode, dims_string(w.shape), bits);
  rows = w.shape[0];
  cols = w.shape[1] * 32 / bits;
  std::vector<uint32_t> packed(w.v.begin(), w.v.end());
  std::vector<uint8_t> sc(scales.v.begin(), scales.v.end());
  int64_t group = m == quant::QuantMode::NvFp4 ? 16 : 32;
  if (int64_t(sc.size()) != rows * (cols / group)) fail("{}: QuantizedMatmul scales {} do not match weight {}", c.file, dims_string(scales.shape), dims_string(w.shape));
  std::vector<float> f(size_t(rows * cols));
  quant::fp_dequantize(packed.data(), sc.data(), m, rows, cols, f.data());
  return std::vector<double>(f.begin(), f.end());
}

}  // namespace

std::vector<Tensor> eval_fast(const std::string& n, const Ctx& c) {
  const auto& in = c.in;
  if (n == "RMSNorm" || n == "LayerNorm") {
    if (in.empty()) fail("{}: {} needs an input", c.file, n);
    const Tensor& x = *in[0];
    double eps = c.f(1);
    int64_t d = x.shape.empty() ? 1 : x.shape.back();
    Tensor out{x.shape, c.out_dtype(0), std::vector<double>(x.v.size())};
    auto param = [&](size_t k, int64_t j, double dflt) {
      if (in.size() <= k || in[k]->v.empty()) return dflt;
      return in[k]->v.size() == 1 ? in[k]->v[0] : in[k]->v[j];
    };
    for (int64_t r = 0; d > 0 && r < int64_t(x.v.size()) / d; ++r) {
      const double* p = x.v.data() + r * d;
      double mean = 0, var = 0;
      if (n == "LayerNorm") {
        for (int64_t j = 0; j < d; ++j) mean += p[j];
        mean /= double(d);
      }
      for (int64_t j = 0; j < d; ++j) var += (p[j] - mean) * (p[j] - mean);
      double inv = 1.0 / std::sqrt(var / double(d) + eps);
      for (int64_t j = 0; j < d; ++j) {
        double y = (p[j] - mean) * inv * param(1, j, 1.0);
        if (n == "LayerNorm") y += param(2, j, 0.0);
        out.v[r * d + j] = y;
      }
    }
    return {out};
  }
  if (n == "RoPE") {
    if (in.size() < 2) fail("{}: RoPE needs x and offset", c.file);
    const Tensor& x = *in[0];
    int64_t dims = c.i(1);
    bool traditional = c.i(2);
    double base = c.f(3), scale = c.f(4);
    bool forward = c.i(5);
    if (x.shape.size() < 2) fail("{}: RoPE input must have at least 2 dims", c.file);
    int64_t D = x.shape.back(), L = x.shape[x.shape.size() - 2];
    if (dims > D || dims % 2) fail("{}: RoPE dims {} for head dim {}", c.file, dims, D);
    double offset = in[1]->v.empty() ? 0 : in[1]->v[0];
    std::vector<double> inv(dims / 2);
    for (int64_t i = 0; i < dims / 2; ++i) {
      if (in.size() > 2) {
        if (int64_t(in[2]->v.size()) < dims / 2) fail("{}: RoPE freqs has {} values, needs {}", c.file, in[2]->v.size(), dims / 2);
        inv[i] = 1.0 / in[2]->v[i];
      } else {
        inv[i] = std::pow(base, -2.0 * double(i) / double(dims));
      }
    }
    Tensor out{x.shape, c.out_dtype(0), x.v};
    int64_t rows = x.numel() / D;
    for (int64_t r = 0; r < rows; ++r) {
      double pos = (offset + double(r % L)) * scale;
      double* o = out.v.data() + r * D;
      const double* p = x.v.data() + r * D;
      for (int64_t i = 0; i < dims / 2; ++i) {
        double th = float(pos * float(inv[i]));
        double cs = std::cos(th), sn = forward ? std::sin(th) : -std::sin(th);
        int64_t a = traditional ? 2 * i : i, b = traditional ? 2 * i + 1 : i + dims / 2;
        o[a] = p[a] * cs - p[b] * sn;
        o[b] = p[a] * sn + p[b] * cs;
      }
    }
    return {out};
  }
  if (n == "ScaledDotProductAttention") {
    if (in.size() < 3) fail("{}: ScaledDotProductAttention needs q, k, v", c.file);
    const Tensor &q = *in[0], &k = *in[1], &v = *in[2];
    double scale = c.f(1);
    bool causal = c.i(2), sinks = c.i(3);
    if (q.shape.size() != 4 || k.shape.size() != 4 || v.shape.size() != 4) fail("{}: ScaledDotProductAttention needs 4-d q, k, v", c.file);
    int64_t B = q.shape[0], Hq = q.shape[1], Lq = q.shape[2], D = q.shape[3];
    int64_t Hk = k.shape[1], Lk = k.shape[2], Dv = v.shape[3];
    if (Hk == 0 || Hq % Hk || k.shape[3] != D || v.shape[2] != Lk) fail("{}: ScaledDotProductAttention shapes do not match", c.file);
    const Tensor* mask = (!causal && in.size() > 3 + (sinks ? 1 : 0)) ? in[3] : nullptr;
    const Tensor* sink = sinks ? in.back() : nullptr;
    Tensor m;
    if (mask) m = broadcast_to(*mask, {B, Hq, Lq, Lk}, c);
    Tensor out{{B, Hq, Lq, Dv}, c.out_dtype(0), std::vector<double>(B * Hq * Lq * Dv)};
    std::vector<double> s(Lk);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < Hq; ++h) {
        int64_t hk = h / (Hq / Hk);
        for (int64_t i = 0; i < Lq; ++i) {
          const double* qi = q.v.data() + ((b * Hq + h) * Lq + i) * D;
          double mx = sink ? sink->v[h % sink->v.size()] : -INFINITY;
          for (int64_t j = 0; j < Lk; ++j) {
            const double* kj = k.v.data() + ((b * Hk + hk) * Lk + j) * D;
            double dot = 0;
            for (int64_t d = 0; d < D; ++d) dot += qi[d] * kj[d];
            dot *= scale;
            if (causal && j > i + (Lk - Lq)) dot = -INFINITY;
            if (mask) {
              double mv = m.v[((b * Hq + h) * Lq + i) * Lk + j];
              if (mask->dtype.val == 0) dot = mv != 0 ? dot : -INFINITY;
              else dot += mv;
            }
            s[j] = dot;
            mx = std::max(mx, dot);
          }
          double sum = sink ? std::exp(sink->v[h % sink->v.size()] - mx) : 0;
          for (int64_t j = 0; j < Lk; ++j) sum += (s[j] = std::exp(s[j] - mx));
          double* o = out.v.data() + ((b * Hq + h) * Lq + i) * Dv;
          for (int64_t j = 0; j < Lk; ++j) {
            const double* vj = v.v.data() + ((b * Hk + hk) * Lk + j) * Dv;
            double w = s[j] / sum;
            for (int64_t d = 0; d < Dv; ++d) o[d] += w * vj[d];
          }
        }
      }
    return {out};
  }
  if (n == "GatherMM" || n == "GatherQMM") {
    // out[j] = a[lhs[j]] @ B[rhs[j]] over the broadcast index shape; B is batch-stacked (quantized for GatherQMM).
    bool quant = n == "GatherQMM";
    size_t ni = quant ? 4 : 2;
    if (in.size() != ni + 2) fail("{}: {} needs {} inputs, has {}", c.file, n, ni + 2, in.size());
    const Tensor& a = *in[0];
    const Tensor& li = *in[ni];
    const Tensor& ri = *in[ni + 1];
    if (a.shape.size() < 2) fail("{}: {} lhs must have at least 2 dims", c.file, n);
    int64_t M = a.shape[a.shape.size() - 2], K = a.shape.back();
    // Per-expert dense [K, N] matrices.
    std::vector<std::vector<double>> mats;
    int64_t N = 0;
    if (quant) {
      int64_t gs = c.i(0), bits = c.i(1), mode = c.i(2);
      bool transpose = c.i(3);
      if (mode != 0) fail("{}: GatherQMM mode {} (fp formats) is not supported yet", c.file, mode);
      const Tensor &w = *in[1], &s = *in[2], &bz = *in[3];
      if (w.shape.size() != 3) fail("{}: GatherQMM expects [E, rows, words] weights", c.file);
      int64_t E = w.shape[0], rows = w.shape[1], words = w.shape[2], groups = s.numel() / std::max<int64_t>(E, 1) / std::max<int64_t>(rows, 1);
      for (int64_t e = 0; e < E; ++e) {
        Tensor we{{rows, words}, w.dtype, std::vector<double>(w.v.begin() + e * rows * words, w.v.begin() + (e + 1) * rows * words)};
        Tensor se{{rows, groups}, s.dtype, std::vector<double>(s.v.begin() + e * rows * groups, s.v.begin() + (e + 1) * rows * groups)};
        Tensor be{{rows, groups}, bz.dtype, std::vector<double>(bz.v.begin() + e * rows * groups, bz.v.begin() + (e + 1) * rows * groups)};
        int64_t r, cl;
        std::vector<double> W = dequantize_affine(we, se, be, gs, bits, r, cl, c);
        std::vector<double> kn(r * cl);
        if (transpose) {  // W [N, K] -> [K, N]
          for (int64_t i = 0; i < r; ++i)
            for (int64_t j = 0; j < cl; ++j) kn[j * r + i] = W[i * cl + j];
          N = r;
        } else {
          kn = W;
          N = cl;
        }
        mats.push_back(std::move(kn));
      }
    } else {
      const Tensor& b = *in[1];
      if (b.shape.size() < 2) fail("{}: GatherMM rhs must have at least 2 dims", c.file);
      N = b.shape.back();
      int64_t kk = b.shape[b.shape.size() - 2], E = b.numel() / std::max<int64_t>(kk * N, 1);
      for (int64_t e = 0; e < E; ++e) mats.emplace_back(b.v.begin() + e * kk * N, b.v.begin() + (e + 1) * kk * N);
    }
    Tensor lb = broadcast_to(li, li.shape.size() >= ri.shape.size() ? li.shape : ri.shape, c);
    Tensor rb = broadcast_to(ri, lb.shape, c);
    int64_t batches_a = a.numel() / std::max<int64_t>(M * K, 1);
    Dims os = lb.shape;
    os.insert(os.end(), {M, N});
    Tensor out{os, c.out_dtype(0), std::vector<double>(numel(os))};
    for (size_t j = 0; j < lb.v.size(); ++j) {
      int64_t ia = int64_t(lb.v[j]), ib = int64_t(rb.v[j]);
      if (ia < 0 || ia >= batches_a || ib < 0 || ib >= int64_t(mats.size()))
        fail("{}: {} index out of range ({}, {})", c.file, n, ia, ib);
      const double* pa = a.v.data() + ia * M * K;
      const std::vector<double>& B = mats[ib];
      if (int64_t(B.size()) != K * N) fail("{}: {} inner dims do not match", c.file, n);
      double* po = out.v.data() + j * M * N;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t k = 0; k < K; ++k)
          for (int64_t jj = 0; jj < N; ++jj) po[i * N + jj] += pa[i * K + k] * B[k * N + jj];
    }
    return {out};
  }
  if (n == "QuantizedMatmul") {
    int64_t gs = c.i(0), bits = c.i(1), mode = c.i(2);
    bool transpose = c.i(3);
    if (mode < 0 || mode > 3) fail("{}: QuantizedMatmul mode {} is unknown", c.file, mode);
    if (in.size() != (mode == 0 ? 4u : 3u) && !(mode != 0 && in.size() == 4))
      fail("{}: QuantizedMatmul needs x, w, scales{} ", c.file, mode == 0 ? ", biases" : "");
    int64_t rows, cols;
    std::vector<double> W = mode == 0 ? dequantize_affine(*in[1], *in[2], *in[3], gs, bits, rows, cols, c)
                                      : dequantize_fp(*in[1], *in[2], mode, bits, rows, cols, c);
    const Tensor& x = *in[0];
    int64_t K = transpose ? cols : rows, N = transpose ? rows : cols;
    if (x.shape.empty() || x.shape.back() != K) fail("{}: QuantizedMatmul input {} does not match weight", c.file, dims_string(x.shape));
    Dims os = x.shape;
    os.back() = N;
    int64_t M = x.numel() / K;
    Tensor out{os, c.out_dtype(0), std::vector<double>(M * N)};
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t kk = 0; kk < K; ++kk) acc += x.v[i * K + kk] * (transpose ? W[j * K + kk] : W[kk * N + j]);
        out.v[i * N + j] = acc;
      }
    return {out};
  }
  return {};
}

}  // namespace mlx::graph::detail
