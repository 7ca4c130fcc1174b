// Matrix primitives: Matmul and AddMM (OpenBLAS sgemm, batched over broadcast leading dims), QuantizedMatmul
// (lib/backend/cpu straight on the packed constant: no per-call weight copies for x·Wᵀ), GatherMM and GatherQMM
// (MoE: one expert per index through cpu::expert views).
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "core/thread_pool.h"
#include "graph/kernels_impl.h"

namespace mlx::graph::detail {

void single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

namespace {

constexpr MxDtype kF32{10, 4};

// y[M,N] = a[M,K] · b[K,N] (row-major, leading dims lda/ldb/ldc), split over column blocks on the thread pool
// (the CPU backend keeps OpenBLAS single-threaded).
void sgemm_nn(const float* a, const float* b, float* y, int64_t M, int64_t K, int64_t N, int64_t lda, int64_t ldb,
              int64_t ldc, bool parallel) {
  if (M == 0 || N == 0) return;
  single_threaded_blas();
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i) std::fill(y + i * ldc, y + i * ldc + N, 0.0f);
    return;
  }
  auto run = [&](int64_t j0, int64_t j1) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(j1 - j0), int(K), 1.0f, a, int(lda), b + j0,
                int(ldb), 0.0f, y + j0, int(ldc));
  };
  const int64_t threads = ThreadPool::global().num_threads();
  if (parallel && threads > 1 && big(M * N * K) && N >= 64) {
    const int64_t blocks = std::min<int64_t>(threads, N / 32);
    parallel_for(blocks, [&](int64_t b0, int64_t b1) {
      for (int64_t bl = b0; bl < b1; ++bl) run(N * bl / blocks, N * (bl + 1) / blocks);
    });
  } else {
    run(0, N);
  }
}

// A packed uint32 / uint8 operand as the bytes the CPU backend reads (a view when it already is; else a copy).
template <class T>
const T* as_raw(const Tensor& t, std::vector<T>& tmp) {
  if (t.store == Store::Raw && t.dtype.size == sizeof(T) && reinterpret_cast<uintptr_t>(t.data) % alignof(T) == 0)
    return reinterpret_cast<const T*>(t.data);
  tmp.resize(size_t(t.numel()));
  for (size_t i = 0; i < tmp.size(); ++i) tmp[i] = T(int64_t(t.at(int64_t(i))));
  return tmp.data();
}

struct QW {
  cpu::QuantizedWeight w{};
  std::vector<uint32_t> tp;
  std::vector<uint8_t> ts;
  Tensor scales, biases;  // float32 views / conversions kept alive
};

// Builds the CPU backend's view of an MLX-quantized weight [E..., rows, words] (E = stacked experts, may be 1).
void quantized_weight(QW& q, const Ctx& c, const Tensor& w, const Tensor& s, const Tensor* b, int64_t gs, int64_t bits,
                      int64_t mode) {
  if (mode < 0 || mode > 3) fail("{}: {} mode {} is unknown", c.file, c.name, mode);
  if (w.shape.size() < 2) fail("{}: {} weight must have at least 2 dims, got {}", c.file, c.name, dims_string(w.shape));
  if (bits < 1 || bits > 8 || gs <= 0) fail("{}: {} bits {} group size {} not supported", c.file, c.name, bits, gs);
  const int64_t rows = w.shape[w.shape.size() - 2], words = w.shape.back(), cols = words * 32 / bits;
  const int64_t E = rows * words != 0 ? w.numel() / (rows * words) : 0;
  if (cols % gs != 0 || s.numel() != E * rows * (cols / gs) || (b && b->numel() != s.numel()))
    fail("{}: {} scales {} do not match weight {} (group size {}, {} bits)", c.file, c.name, dims_string(s.shape),
         dims_string(w.shape), gs, bits);
  q.w.packed = as_raw<uint32_t>(w, q.tp);
  q.w.mode = mode == 0 ? cpu::QuantMode::Affine : mode == 1 ? cpu::QuantMode::MxFp4 : mode == 2 ? cpu::QuantMode::MxFp8 : cpu::QuantMode::NvFp4;
  q.w.bits = int(bits);
  q.w.group_size = int(gs);
  q.w.out_features = rows;
  q.w.in_features = cols;
  if (mode == 0) {
    if (!b) fail("{}: {} affine mode needs biases", c.file, c.name);
    q.scales = as_store(s, Store::F32);
    q.biases = as_store(*b, Store::F32);
    q.w.scales = q.scales.data;
    q.w.biases = q.biases.data;
    q.w.scale_dtype = DType::F32;
  } else {
    q.w.scales = as_raw<uint8_t>(s, q.ts);
    q.w.biases = nullptr;
    q.w.scale_dtype = DType::U8;
  }
}

// y[M, N] = x[M, K] · W (transpose=false: W is [K=rows, N=cols]) or x · Wᵀ (transpose=true: W is [N=rows, K=cols]).
void qmm(const float* x, int64_t M, const cpu::QuantizedWeight& w, bool transpose, float* y, bool parallel) {
  if (transpose) {
    // MLX multiplies float activations with the dequantized weight (mlx/backend/cpu/quantized.cpp, Metal qmv):
    // the decode path's int8 activations are switched off for the replay (parity within 1e-4).
    struct FloatActs {
      int prev = cpu::detail::set_q8_acts_levels(0);
      ~FloatActs() { cpu::detail::set_q8_acts_levels(prev); }
    } float_acts;
    cpu::matmul(x, M, w, y);
    return;
  }
  std::vector<float> W(size_t(w.out_features * w.in_features));
  if (parallel && big(int64_t(W.size())))
    parallel_for(w.out_features, [&](int64_t r0, int64_t r1) { cpu::dequantize_rows(w, r0, r1, W.data() + r0 * w.in_features); });
  else
    cpu::dequantize_rows(w, 0, w.out_features, W.data());
  sgemm_nn(x, W.data(), y, M, w.out_features, w.in_features, w.out_features, w.in_features, w.in_features, parallel);
}

}  // namespace

std::vector<Tensor> eval_matmul(const std::string& n, const Ctx& c) {
  const auto& in = c.in;
  if (n == "Matmul" || n == "AddMM") {
    bool addmm = n == "AddMM";
    if (in.size() != (addmm ? 3u : 2u)) fail("{}: {} needs {} inputs, has {}", c.file, n, addmm ? 3 : 2, in.size());
    Tensor a = c.fin(addmm ? 1 : 0), b = c.fin(addmm ? 2 : 1);
    if (a.shape.size() < 2 || b.shape.size() < 2) fail("{}: {} needs arrays of at least 2 dims", c.file, n);
    int64_t M = a.shape[a.shape.size() - 2], K = a.shape.back(), N = b.shape.back();
    if (b.shape[b.shape.size() - 2] != K) fail("{}: {} inner dims {} and {} differ", c.file, n, K, b.shape[b.shape.size() - 2]);
    Dims ab(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
    Dims batch = broadcast_shapes({ab, bb}, c);
    Dims ast = broadcast_strides(ab, batch, c), bst = broadcast_strides(bb, batch, c);
    Dims os = batch;
    os.insert(os.end(), {M, N});
    Tensor out = Tensor::alloc(os, kF32);
    const int64_t nb = numel(batch);
    auto one = [&](int64_t z, bool parallel) {
      int64_t ia = 0, ib = 0, rem = z;
      for (int64_t i = int64_t(batch.size()) - 1; i >= 0; --i) {
        int64_t d = rem % batch[i];
        rem /= batch[i];
        ia += d * ast[i];
        ib += d * bst[i];
      }
      sgemm_nn(a.f32() + ia * M * K, b.f32() + ib * K * N, out.f32_mut() + z * M * N, M, K, N, K, N, N, parallel);
    };
    if (nb >= ThreadPool::global().num_threads() && big(nb * M * N * K))
      parallel_for(nb, [&](int64_t z0, int64_t z1) {
        for (int64_t z = z0; z < z1; ++z) one(z, false);
      });
    else
      for (int64_t z = 0; z < nb; ++z) one(z, true);
    if (addmm) {
      float alpha = float(c.f(0)), beta = float(c.f(1));
      Tensor C = broadcast_to(c.fin(0), os, c);
      float* o = out.f32_mut();
      for (int64_t j = 0; j < out.numel(); ++j) o[j] = alpha * o[j] + beta * C.f32()[j];
    }
    return {out};
  }
  if (n == "QuantizedMatmul") {
    int64_t gs = c.i(0), bits = c.i(1), mode = c.i(2);
    bool transpose = c.i(3);
    if (in.size() < 3 || (mode == 0 && in.size() != 4))
      fail("{}: QuantizedMatmul needs x, w, scales{}", c.file, mode == 0 ? ", biases" : "");
    if (in[1]->shape.size() != 2) fail("{}: QuantizedMatmul supports 2-d weights, got {}", c.file, dims_string(in[1]->shape));
    QW q;
    quantized_weight(q, c, *in[1], *in[2], mode == 0 ? in[3] : nullptr, gs, bits, mode);
    Tensor x = c.fin(0);
    int64_t K = transpose ? q.w.in_features : q.w.out_features, N = transpose ? q.w.out_features : q.w.in_features;
    if (x.shape.empty() || x.shape.back() != K) fail("{}: QuantizedMatmul input {} does not match weight", c.file, dims_string(x.shape));
    Dims os = x.shape;
    os.back() = N;
    Tensor out = Tensor::alloc(os, kF32);
    qmm(x.f32(), x.numel() / K, q.w, transpose, out.f32_mut(), true);
    return {out};
  }
  if (n == "Quantize") {
    // fast::Quantize with dequantize = true (what mx.dequantize records): (w_q, scales[, biases]) -> float W.
    int64_t gs = c.i(1), bits = c.i(2), mode = c.i(3);
    if (!c.i(4)) fail("{}: Quantize (quantizing, not dequantizing) is not supported", c.file);
    if (in.size() < 2 || (mode == 0 && in.size() != 3)) fail("{}: Quantize needs w, scales{}", c.file, mode == 0 ? ", biases" : "");
    if (in[0]->shape.size() < 2) fail("{}: Quantize weight must have at least 2 dims", c.file);
    QW q;
    quantized_weight(q, c, *in[0], *in[1], mode == 0 ? in[2] : nullptr, gs, bits, mode);
    Dims os = in[0]->shape;
    os.back() = q.w.in_features;
    const int64_t rows = numel(os) / std::max<int64_t>(q.w.in_features, 1);
    cpu::QuantizedWeight all = q.w;
    all.out_features = rows;
    Tensor out = Tensor::alloc(os, kF32);
    if (big(out.numel()))
      parallel_for(rows, [&](int64_t r0, int64_t r1) { cpu::dequantize_rows(all, r0, r1, out.f32_mut() + r0 * all.in_features); });
    else
      cpu::dequantize_rows(all, 0, rows, out.f32_mut());
    return {out};
  }
  if (n == "GatherMM" || n == "GatherQMM") {
    // out[j] = a[lhs[j]] @ B[rhs[j]] over the broadcast index shape; B is batch-stacked (quantized for GatherQMM).
    bool quant = n == "GatherQMM";
    int64_t mode = quant ? c.i(2) : 0;
    size_t ni = quant ? (mode == 0 ? 4 : 3) : 2;
    if (quant && in.size() == 6) ni = 4;  // fp modes may still carry a (null) biases input
    if (in.size() != ni + 2) fail("{}: {} needs {} inputs, has {}", c.file, n, ni + 2, in.size());
    Tensor a = c.fin(0);
    if (a.shape.size() < 2) fail("{}: {} lhs must have at least 2 dims", c.file, n);
    const int64_t M = a.shape[a.shape.size() - 2], K = a.shape.back();
    const int64_t batches_a = M * K != 0 ? a.numel() / (M * K) : 0;
    QW q;
    Tensor B;
    int64_t N = 0, E = 0;
    bool transpose = true;
    if (quant) {
      transpose = c.i(3);
      quantized_weight(q, c, *in[1], *in[2], mode == 0 ? in[3] : nullptr, c.i(0), c.i(1), mode);
      E = q.w.out_features * q.w.in_features != 0 ? in[1]->numel() / (in[1]->shape[in[1]->shape.size() - 2] * in[1]->shape.back()) : 0;
      int64_t kk = transpose ? q.w.in_features : q.w.out_features;
      N = transpose ? q.w.out_features : q.w.in_features;
      if (kk != K) fail("{}: {} inner dims {} and {} differ", c.file, n, K, kk);
    } else {
      B = c.fin(1);
      if (B.shape.size() < 2) fail("{}: GatherMM rhs must have at least 2 dims", c.file);
      N = B.shape.back();
      int64_t kk = B.shape[B.shape.size() - 2];
      if (kk != K) fail("{}: {} inner dims {} and {} differ", c.file, n, K, kk);
      E = kk * N != 0 ? B.numel() / (kk * N) : 0;
    }
    Tensor li = c.iin(ni), ri = c.iin(ni + 1);
    Dims is = broadcast_shapes({li.shape, ri.shape}, c);
    Tensor lb = as_store(broadcast_to(li, is, c), Store::I64), rb = as_store(broadcast_to(ri, is, c), Store::I64);
    Dims os = is;
    os.insert(os.end(), {M, N});
    Tensor out = Tensor::alloc(os, kF32);
    // Rows that use the same expert are multiplied together (one weight pass per expert, as MLX's sorted path).
    const int64_t nj = numel(is);
    std::vector<std::vector<int64_t>> by_expert(static_cast<size_t>(E));
    for (int64_t j = 0; j < nj; ++j) {
      int64_t ia = lb.i64()[j], ib = rb.i64()[j];
      if (ia < 0 || ia >= batches_a || ib < 0 || ib >= E) fail("{}: {} index out of range ({}, {})", c.file, n, ia, ib);
      by_expert[size_t(ib)].push_back(j);
    }
    std::vector<float> xs, ys;
    for (int64_t e = 0; e < E; ++e) {
      const std::vector<int64_t>& js = by_expert[size_t(e)];
      if (js.empty()) continue;
      const int64_t rows = int64_t(js.size()) * M;
      xs.resize(size_t(rows * K));
      ys.resize(size_t(rows * N));
      for (size_t r = 0; r < js.size(); ++r)
        std::copy_n(a.f32() + lb.i64()[js[r]] * M * K, M * K, xs.data() + int64_t(r) * M * K);
      if (quant) qmm(xs.data(), rows, cpu::expert(q.w, e, q.w.out_features, q.w.in_features), transpose, ys.data(), true);
      else sgemm_nn(xs.data(), B.f32() + e * K * N, ys.data(), rows, K, N, K, N, N, true);
      for (size_t r = 0; r < js.size(); ++r)
        std::copy_n(ys.data() + int64_t(r) * M * N, M * N, out.f32_mut() + js[r] * M * N);
    }
    return {out};
  }
  return {};
}

}  // namespace mlx::graph::detail

namespace mlx::graph {

Tensor matmul_transposed_weight(const Tensor& x_in, const Tensor& w, const std::string& file) {
  if (w.shape.size() != 2) fail("{}: Matmul weight must be 2-d, got {}", file, dims_string(w.shape));
  const int64_t N = w.shape[0], K = w.shape[1];
  Tensor x = as_store(x_in, Store::F32);
  if (x.shape.size() < 2 || x.shape.back() != K)
    fail("{}: Matmul input {} does not match the weight {}ᵀ", file, dims_string(x.shape), dims_string(w.shape));
  DType dt = w.store == Store::F32 ? DType::F32 : w.dtype.val == 12 ? DType::BF16 : w.dtype.val == 9 ? DType::F16 : DType::F32;
  if (w.store == Store::I64 || (w.store == Store::Raw && w.dtype.val != 9 && w.dtype.val != 10 && w.dtype.val != 12))
    fail("{}: Matmul weight of dtype {} is not a float", file, formats::mlxfn::mx_dtype_name(w.dtype));
  Dims os = x.shape;
  os.back() = N;
  Tensor out = Tensor::alloc(os, MxDtype{10, 4});
  const int64_t M = K ? x.numel() / K : 0;
  if (K == 0) {
    std::fill(out.f32_mut(), out.f32_mut() + out.numel(), 0.0f);
    return out;
  }
  cpu::DenseWeight dw{w.data, dt, N, K};
  cpu::matmul(x.f32(), M, dw, out.f32_mut());
  return out;
}

Tensor eval_linear(const formats::mlxfn::TapeEntry& e, const Tensor& x, const Tensor& w, const Tensor* c,
                   const std::string& file) {
  Tensor y = matmul_transposed_weight(x, w, file);
  if (!c) return y;
  std::vector<const Tensor*> none;
  detail::Ctx ctx{e, none, file, e.name};
  const float alpha = float(ctx.f(0)), beta = float(ctx.f(1));
  Tensor C = detail::broadcast_to(as_store(*c, Store::F32), y.shape, ctx);
  float* o = y.f32_mut();
  for (int64_t j = 0; j < y.numel(); ++j) o[j] = alpha * o[j] + beta * C.f32()[j];
  return y;
}

}  // namespace mlx::graph
