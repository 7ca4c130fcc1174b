// fast:: primitives (RMSNorm, LayerNorm, RoPE, ScaledDotProductAttention): MLX serializes no fallback for the
// fast ones, so these are native float32 kernels with MLX's semantics, spread over the thread pool.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/thread_pool.h"
#include "graph/kernels_impl.h"

namespace mlx::graph::detail {

namespace {

constexpr MxDtype kF32{10, 4};

void rows_parallel(int64_t rows, int64_t work, const std::function<void(int64_t, int64_t)>& fn) {
  if (big(work) && rows > 1) parallel_for(rows, fn);
  else fn(0, rows);
}

std::vector<Tensor> norm(const std::string& n, const Ctx& c) {
  const auto& in = c.in;
  if (in.empty()) fail("{}: {} needs an input", c.file, n);
  const bool layer = n == "LayerNorm";
  Tensor x = c.fin(0);
  const float eps = float(c.f(1));
  const int64_t d = x.shape.empty() ? 1 : x.shape.back();
  Tensor w = in.size() > 1 ? c.fin(1) : Tensor{}, b = layer && in.size() > 2 ? c.fin(2) : Tensor{};
  auto param = [d](const Tensor& t, const char* what, const Ctx& cx) -> const float* {
    if (!t.data || t.numel() == 0) return nullptr;
    if (t.numel() != 1 && t.numel() != d) fail("{}: {} {} has {} values for rows of {}", cx.file, cx.name, what, t.numel(), d);
    return t.f32();
  };
  const float* pw = param(w, "weight", c);
  const float* pb = param(b, "bias", c);
  const bool w1 = w.numel() == 1, b1 = b.numel() == 1;
  Tensor out = Tensor::alloc(x.shape, kF32);
  const int64_t rows = d > 0 ? x.numel() / d : 0;
  rows_parallel(rows, x.numel(), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* p = x.f32() + r * d;
      float* o = out.f32_mut() + r * d;
      double mean = 0, var = 0;
      if (layer) {
        for (int64_t j = 0; j < d; ++j) mean += p[j];
        mean /= double(d);
      }
      for (int64_t j = 0; j < d; ++j) var += (p[j] - mean) * (p[j] - mean);
      const float inv = float(1.0 / std::sqrt(var / double(d) + double(eps)));
      const float m = float(mean);
      for (int64_t j = 0; j < d; ++j) {
        float y = (p[j] - m) * inv;
        if (pw) y *= pw[w1 ? 0 : j];
        if (pb) y += pb[b1 ? 0 : j];
        o[j] = y;
      }
    }
  });
  return {out};
}

std::vector<Tensor> rope(const Ctx& c) {
  const auto& in = c.in;
  if (in.size() < 2) fail("{}: RoPE needs x and offset", c.file);
  Tensor x = c.fin(0);
  const int64_t dims = c.i(1);
  const bool traditional = c.i(2);
  const double base = c.f(3), scale = c.f(4);
  const bool forward = c.i(5);
  if (x.shape.size() < 2) fail("{}: RoPE input must have at least 2 dims", c.file);
  const int64_t D = x.shape.back(), L = x.shape[x.shape.size() - 2];
  if (dims > D || dims % 2 || dims <= 0) fail("{}: RoPE dims {} for head dim {}", c.file, dims, D);
  // Offset: a scalar, or one per batch entry (leading dim).
  Tensor off = c.iin(1);
  const int64_t B = x.shape[0], per_batch = B ? x.numel() / B / D : 0;
  if (off.numel() != 1 && off.numel() != B) fail("{}: RoPE offset has {} values for a batch of {}", c.file, off.numel(), B);
  const int64_t half = dims / 2;
  std::vector<float> inv(static_cast<size_t>(half), 0.0f);
  if (in.size() > 2) {
    Tensor f = c.fin(2);
    if (f.numel() < half) fail("{}: RoPE freqs has {} values, needs {}", c.file, f.numel(), half);
    for (int64_t i = 0; i < half; ++i) inv[size_t(i)] = float(1.0 / double(f.f32()[i]));
  } else {
    for (int64_t i = 0; i < half; ++i) inv[size_t(i)] = float(std::pow(base, -2.0 * double(i) / double(dims)));
  }
  Tensor out = Tensor::alloc(x.shape, kF32);
  std::copy(x.f32(), x.f32() + x.numel(), out.f32_mut());
  // cos/sin of every (offset, position, pair) once: all heads of a position share them.
  const int64_t n_off = off.numel();
  std::vector<float> cs(static_cast<size_t>(n_off * L * half)), sn(cs.size());
  for (int64_t o = 0; o < n_off; ++o)
    for (int64_t t = 0; t < L; ++t) {
      const double pos = (double(off.i64()[o]) + double(t)) * scale;
      for (int64_t i = 0; i < half; ++i) {
        const double th = float(pos * double(inv[size_t(i)]));
        const size_t k = size_t((o * L + t) * half + i);
        cs[k] = float(std::cos(th));
        sn[k] = float(forward ? std::sin(th) : -std::sin(th));
      }
    }
  const int64_t rows = x.numel() / D;
  rows_parallel(rows, x.numel() * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = n_off == 1 ? 0 : (per_batch ? r / per_batch : 0);
      const float* c = cs.data() + (o * L + r % L) * half;
      const float* s = sn.data() + (o * L + r % L) * half;
      float* y = out.f32_mut() + r * D;
      const float* p = x.f32() + r * D;
      for (int64_t i = 0; i < half; ++i) {
        const int64_t a = traditional ? 2 * i : i, b = traditional ? 2 * i + 1 : i + half;
        y[a] = p[a] * c[i] - p[b] * s[i];
        y[b] = p[a] * s[i] + p[b] * c[i];
      }
    }
  });
  return {out};
}

std::vector<Tensor> sdpa(const Ctx& c) {
  const auto& in = c.in;
  if (in.size() < 3) fail("{}: ScaledDotProductAttention needs q, k, v", c.file);
  Tensor q = c.fin(0), k = c.fin(1), v = c.fin(2);
  const float scale = float(c.f(1));
  const bool causal = c.i(2), sinks = c.i(3);
  const bool want_lse = c.e.state.size() > 4 && c.i(4);  // output_logsumexp: a second output [B, Hq, Lq, 1]
  if (q.shape.size() != 4 || k.shape.size() != 4 || v.shape.size() != 4) fail("{}: ScaledDotProductAttention needs 4-d q, k, v", c.file);
  const int64_t B = q.shape[0], Hq = q.shape[1], Lq = q.shape[2], D = q.shape[3];
  const int64_t Hk = k.shape[1], Lk = k.shape[2], Dv = v.shape[3];
  if (Hk == 0 || Hq % Hk || k.shape[3] != D || v.shape[2] != Lk || k.shape[0] != B || v.shape[0] != B || v.shape[1] != Hk)
    fail("{}: ScaledDotProductAttention shapes q {} k {} v {} do not match", c.file, dims_string(q.shape),
         dims_string(k.shape), dims_string(v.shape));
  const size_t n_extra = in.size() - 3;
  const bool has_mask = n_extra > (sinks ? 1u : 0u);
  Tensor mask, sink;
  Dims mst;
  bool bool_mask = false;
  if (has_mask) {
    bool_mask = !is_floating(in[3]->dtype);
    mask = bool_mask ? c.iin(3) : c.fin(3);
    mst = broadcast_strides(mask.shape, {B, Hq, Lq, Lk}, c);
  }
  if (sinks) {
    sink = c.fin(in.size() - 1);
    if (sink.numel() == 0) fail("{}: ScaledDotProductAttention sinks are empty", c.file);
  }
  Tensor out = Tensor::alloc({B, Hq, Lq, Dv}, kF32);
  Tensor lse = want_lse ? Tensor::alloc({B, Hq, Lq, 1}, kF32) : Tensor{};
  single_threaded_blas();
  const int64_t groups = Hq / Hk, chunk = 128;
  const int64_t chunks = (Lq + chunk - 1) / chunk, tasks = B * Hq * chunks;
  auto run = [&](int64_t t0, int64_t t1) {
    std::vector<float> s(size_t(std::min(chunk, Lq) * Lk));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bh = t / chunks, i0 = (t % chunks) * chunk, i1 = std::min(Lq, i0 + chunk), rows = i1 - i0;
      const int64_t b = bh / Hq, h = bh % Hq, hk = h / groups;
      const float* qp = q.f32() + ((b * Hq + h) * Lq + i0) * D;
      const float* kp = k.f32() + (b * Hk + hk) * Lk * D;
      const float* vp = v.f32() + (b * Hk + hk) * Lk * Dv;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(Lk), int(D), scale, qp, int(D), kp, int(D),
                  0.0f, s.data(), int(Lk));
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        float* sr = s.data() + r * Lk;
        if (causal)
          for (int64_t j = std::max<int64_t>(0, i + (Lk - Lq) + 1); j < Lk; ++j) sr[j] = -INFINITY;
        if (has_mask) {
          const int64_t mb = b * mst[0] + h * mst[1] + i * mst[2];
          if (bool_mask) {
            for (int64_t j = 0; j < Lk; ++j)
              if (mask.i64()[mb + j * mst[3]] == 0) sr[j] = -INFINITY;
          } else {
            for (int64_t j = 0; j < Lk; ++j) sr[j] += mask.f32()[mb + j * mst[3]];
          }
        }
        float mx = sinks ? sink.f32()[h % sink.numel()] : -INFINITY;
        for (int64_t j = 0; j < Lk; ++j) mx = std::max(mx, sr[j]);
        double sum = sinks ? std::exp(double(sink.f32()[h % sink.numel()] - mx)) : 0.0;
        for (int64_t j = 0; j < Lk; ++j) sum += (sr[j] = std::exp(sr[j] - mx));
        const float inv = float(1.0 / sum);
        if (want_lse) lse.f32_mut()[(b * Hq + h) * Lq + i] = float(double(mx) + std::log(sum));
        for (int64_t j = 0; j < Lk; ++j) sr[j] *= inv;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(Dv), int(Lk), 1.0f, s.data(), int(Lk), vp,
                  int(Dv), 0.0f, out.f32_mut() + ((b * Hq + h) * Lq + i0) * Dv, int(Dv));
    }
  };
  rows_parallel(tasks, B * Hq * Lq * Lk * (D + Dv), run);
  if (want_lse) return {out, lse};
  return {out};
}

}  // namespace

std::vector<Tensor> eval_fast(const std::string& n, const Ctx& c) {
  if (n == "RMSNorm" || n == "LayerNorm") return norm(n, c);
  if (n == "RoPE") return rope(c);
  if (n == "ScaledDotProductAttention") return sdpa(c);
  return {};
}

}  // namespace mlx::graph::detail
