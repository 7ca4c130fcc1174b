// Replay kernels of single primitives against values computed here from MLX's definitions, and traced graphs
// replayed from their serialized bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <tuple>

#include "core/error.h"
#include "formats/mlxfn.h"
#include "graph/kernels.h"
#include "graph/program.h"
#include "graph/tracer.h"
#include "quant/fp_formats.h"

namespace fs = std::filesystem;
namespace mx = mlx::formats::mlxfn;
namespace st = mlx::graph::st;
using mlx::graph::Dims;
using mlx::graph::Tensor;
using mlx::graph::Tracer;
using mlx::graph::Val;

namespace {
constexpr mx::MxDtype kF32{10, 4}, kI32{7, 4}, kU32{3, 4}, kBool{0, 1};
Tensor T(Dims s, mx::MxDtype d, std::vector<double> v) { return Tensor{std::move(s), d, std::move(v)}; }
std::vector<double> iota(int64_t n, double start = 0, double step = 1) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + double(i) * step;
  return v;
}
}  // namespace

TEST(MlxfnKernels, LayoutPrimitives) {
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({2, 3}, kF32, iota(6)));
  EXPECT_EQ(tr.op("Transpose", {x}, {st::v({1, 0})}).t->values(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(tr.op("Slice", {x}, {st::v({0, 1}), st::v({2, 3}), st::v({1, 1})}).t->values(), (std::vector<double>{1, 2, 4, 5}));
  EXPECT_EQ(tr.op("Slice", {x}, {st::v({1, 2}), st::v({-3, -4}), st::v({-1, -2})}).t->values(), (std::vector<double>{5, 3, 2, 0}));
  EXPECT_EQ(tr.op("Concatenate", {x, x}, {st::i(1)}).t->shape, (Dims{2, 6}));
  EXPECT_EQ(tr.op("Concatenate", {x, x}, {st::i(1)}).t->values()[3], 0);
  EXPECT_EQ(tr.op("Reshape", {x}, {st::v({3, -1})}).t->shape, (Dims{3, 2}));
  EXPECT_EQ(tr.op("Unflatten", {x}, {st::i(1), st::v({3, 1})}).t->shape, (Dims{2, 3, 1}));
  EXPECT_EQ(tr.op("Flatten", {x}, {st::i(0), st::i(1)}).t->shape, (Dims{6}));
  EXPECT_EQ(tr.op("ExpandDims", {x}, {st::v({0, 3})}).t->shape, (Dims{1, 2, 3, 1}));
  EXPECT_EQ(tr.op("Broadcast", {x}, {st::v({2, 2, 3})}).t->values()[9], 3);
  Val idx = tr.input(T({2}, kI32, {1, 0}));
  Val g = tr.op("Gather", {x, idx}, {st::v({0}), st::v({1, 3})});
  EXPECT_EQ(g.t->shape, (Dims{2, 1, 3}));
  EXPECT_EQ(g.t->values(), (std::vector<double>{3, 4, 5, 0, 1, 2}));
  Val upd = tr.op("SliceUpdate", {x, tr.constant(T({}, kF32, {9}))}, {st::i(4), st::v({0, 0}), st::v({1, 3}), st::v({1, 2})});
  EXPECT_EQ(upd.t->values(), (std::vector<double>{9, 1, 9, 3, 4, 5}));
  Val a = tr.op("Arange", {}, {st::d(0), st::d(5), st::d(2)}, kI32);
  EXPECT_EQ(a.t->values(), (std::vector<double>{0, 2, 4}));
}

TEST(MlxfnKernels, MathPrimitives) {
  Tracer tr({0, 0, 0});
  Val x = tr.input(T({2, 3}, kF32, {1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(tr.op("Reduce", {x}, {st::i(2), st::v({1})}).t->values(), (std::vector<double>{6, 15}));
  EXPECT_EQ(tr.op("Reduce", {x}, {st::i(5), st::v({0})}).t->shape, (Dims{1, 3}));
  Val sm = tr.op("Softmax", {x}, {st::b(true)});
  double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(sm.t->values()[2], std::exp(3.0) / z, 1e-6);
  EXPECT_EQ(tr.op("Scan", {x}, {st::i(2), st::i(1), st::b(false), st::b(true)}).t->values(), (std::vector<double>{1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(tr.op("Scan", {x}, {st::i(2), st::i(1), st::b(true), st::b(false)}).t->values(), (std::vector<double>{5, 3, 0, 11, 6, 0}));
  Val c = tr.op("Greater", {x, tr.constant(T({}, kF32, {3}))}, {}, kBool);
  EXPECT_EQ(tr.op("Select", {c, x, tr.constant(T({1}, kF32, {0}))}).t->values(), (std::vector<double>{0, 0, 0, 4, 5, 6}));
  EXPECT_NEAR(tr.op("Sqrt", {x}, {st::b(true)}).t->values()[3], 0.5, 1e-7);
  Val w = tr.input(T({2}, kU32, {0xF0F0F0F0u, 0x12345678u}));
  EXPECT_EQ(tr.op("BitwiseBinary", {w, tr.constant(T({}, kU32, {4}))}, {st::i(4)}).t->values(),
            (std::vector<double>{0x0F0F0F0Fu, 0x01234567u}));
  Val m = tr.op("Matmul", {x, tr.op("Transpose", {x}, {st::v({1, 0})})});
  EXPECT_EQ(m.t->values(), (std::vector<double>{14, 32, 32, 77}));
  Val am = tr.op("AddMM", {tr.constant(T({2}, kF32, {1, 2})), x, tr.op("Transpose", {x}, {st::v({1, 0})})}, {st::f(2), st::f(0.5)});
  EXPECT_EQ(am.t->values(), (std::vector<double>{28.5, 65, 64.5, 155}));
}

// 3-bit affine: values straddle uint32 words; LSB-first stream per row.
TEST(MlxfnKernels, QuantizedMatmulAffine3Bit) {
  const int bits = 3, gs = 32, K = 64, N = 2;
  std::vector<int> q(N * K);
  for (int i = 0; i < N * K; ++i) q[i] = (i * 5 + 3) % 8;
  std::vector<double> packed(N * K * bits / 32, 0);
  for (int r = 0; r < N; ++r)
    for (int k = 0; k < K; ++k) {
      int64_t bit = int64_t(k) * bits;
      for (int b = 0; b < bits; ++b)
        if (q[r * K + k] >> b & 1) {
          int64_t pos = bit + b;
          auto& word = packed[r * (K * bits / 32) + pos / 32];
          word = double(uint32_t(word) | (1u << (pos % 32)));
        }
    }
  std::vector<double> scales = {0.5, 0.25, 1.0, 2.0}, biases = {-1, 0.5, 0, -2};
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({1, K}, kF32, iota(K, 0, 0.125)));
  Val wq = tr.constant(T({N, K * bits / 32}, kU32, packed));
  Val y = tr.op("QuantizedMatmul", {x, wq, tr.constant(T({N, K / gs}, kF32, scales)), tr.constant(T({N, K / gs}, kF32, biases))},
                {st::i(gs), st::i(bits), st::i(0), st::b(true)});
  for (int r = 0; r < N; ++r) {
    double want = 0;
    for (int k = 0; k < K; ++k) want += (0.125 * k) * (scales[r * 2 + k / gs] * q[r * K + k] + biases[r * 2 + k / gs]);
    EXPECT_NEAR(y.t->values()[r], want, 1e-3) << r;
  }
}

TEST(MlxfnKernels, FastPrimitives) {
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({1, 1, 2, 4}, kF32, {1, 2, 3, 4, -1, 0, 1, 2}));
  Val n = tr.op("RMSNorm", {x, tr.constant(T({4}, kF32, {1, 1, 2, 2}))}, {st::n(), st::f(0)});
  double r = std::sqrt((1 + 4 + 9 + 16) / 4.0);
  EXPECT_NEAR(n.t->values()[3], 2 * 4 / r, 1e-6);
  // RoPE, non-traditional, offset 3: position 3 for row 0, 4 for row 1.
  Val rp = tr.op("RoPE", {x, tr.constant(T({}, kI32, {3}))}, {st::n(), st::i(4), st::b(false), st::f(100), st::f(1), st::b(true)});
  double th = 4 * std::pow(100.0, -2.0 / 4);  // row 1, pair 1 (dims 1 and 3)
  EXPECT_NEAR(rp.t->values()[4 + 1], 0 * std::cos(th) - 2 * std::sin(th), 1e-5);
  // Causal SDPA over 2 positions: position 0 sees only itself.
  Val q = x, k = x, v = x;
  Val o = tr.op("ScaledDotProductAttention", {q, k, v}, {st::n(), st::f(0.5), st::b(true), st::b(false), st::b(false)});
  const std::vector<double> ov = o.t->values();
  EXPECT_EQ(std::vector<double>(ov.begin(), ov.begin() + 4), (std::vector<double>{1, 2, 3, 4}));
  double s00 = 0.5 * (1 * -1 + 2 * 0 + 3 * 1 + 4 * 2), s11 = 0.5 * (1 + 0 + 1 + 4);
  double w0 = std::exp(s00) / (std::exp(s00) + std::exp(s11));
  EXPECT_NEAR(o.t->values()[4], w0 * 1 + (1 - w0) * -1, 1e-6);
}

TEST(MlxfnKernels, TracedGraphReplaysFromBytesShapeless) {
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({1, 3}, kF32, {1, 2, 3}));
  Val y = tr.op("Multiply", {tr.op("Exp", {x}), tr.constant(T({}, kF32, {2}))});
  mx::Function f = tr.finish({y}, true, "{}");
  std::string bytes = mx::serialize(f);
  auto p = mlx::graph::Program::from(mx::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.mlxfn"), "t.mlxfn");
  auto out = p.run({T({1, 5}, kF32, {0, 1, 2, 3, 4})});
  ASSERT_EQ(out[0].shape, (Dims{1, 5}));
  EXPECT_NEAR(out[0].values()[4], 2 * std::exp(4.0), 1e-3);
  EXPECT_THROW(p.run({T({5}, kF32, iota(5))}), mlx::Error);        // wrong ndim
  EXPECT_THROW(p.run({T({1, 5}, kI32, iota(5))}), mlx::Error);     // wrong dtype
}

TEST(MlxfnKernels, IndexAndSplitPrimitives) {
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({2, 3}, kF32, {3, 1, 2, 0, 5, 4}));
  EXPECT_EQ(tr.op("ArgSort", {x}, {st::i(1)}, kU32).t->values(), (std::vector<double>{1, 2, 0, 0, 2, 1}));
  EXPECT_EQ(tr.op("ArgPartition", {x}, {st::i(1), st::i(1)}, kU32).t->values()[2], 0);
  Val am = tr.op("ArgReduce", {x}, {st::i(1), st::i(1)}, kU32);
  EXPECT_EQ(am.t->shape, (Dims{2, 1}));
  EXPECT_EQ(am.t->values(), (std::vector<double>{0, 1}));
  EXPECT_NEAR(tr.op("LogAddExp", {x, x}).t->values()[0], 3 + std::log(2.0), 1e-6);
  // Split is multi-output: evaluate the entry directly.
  mx::TapeEntry e;
  e.kind = mx::TapeEntry::kPrimitive;
  e.name = "Split";
  e.state = {st::v({1}), st::i(1)};
  e.n_siblings = 1;
  e.outputs = {{{2, 1}, kF32}, {{2, 2}, kF32}};
  auto outs = mlx::graph::eval_primitive(e, {x.t.get()}, "t.mlxfn");
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].values(), (std::vector<double>{3, 0}));
  EXPECT_EQ(outs[1].values(), (std::vector<double>{1, 2, 5, 4}));
}

TEST(MlxfnKernels, GatherMMPicksBatches) {
  Tracer tr({0, 1, 0});
  Val a = tr.input(T({2, 1, 2}, kF32, {1, 2, 3, 4}));                        // two [1,2] rows
  Val b = tr.constant(T({3, 2, 1}, kF32, {1, 0, 0, 1, 1, 1}));                // experts: e0 picks x0, e1 x1, e2 sums
  Val li = tr.constant(T({3}, kU32, {0, 1, 1}));
  Val ri = tr.constant(T({3}, kU32, {2, 0, 1}));
  Val y = tr.op("GatherMM", {a, b, li, ri}, {st::b(false), st::b(false)});
  EXPECT_EQ(y.t->shape, (Dims{3, 1, 1}));
  EXPECT_EQ(y.t->values(), (std::vector<double>{3, 3, 4}));
}

TEST(MlxfnKernels, QuantizedMatmulFpModes) {
  const int64_t N = 2, K = 64;
  std::vector<float> w(N * K);
  for (int64_t i = 0; i < N * K; ++i) w[i] = std::sin(0.37 * double(i)) * 3;
  // MLX mode codes: mxfp4 1, mxfp8 2, nvfp4 3.
  for (auto [code, mode, bits, group] : {std::tuple{1, mlx::quant::QuantMode::MxFp4, 4, 32},
                                         std::tuple{2, mlx::quant::QuantMode::MxFp8, 8, 32},
                                         std::tuple{3, mlx::quant::QuantMode::NvFp4, 4, 16}}) {
    SCOPED_TRACE(code);
    std::vector<uint32_t> packed(N * K * bits / 32);
    std::vector<uint8_t> scales(N * K / group);
    mlx::quant::fp_quantize(w.data(), mlx::DType::F32, N, K, mode, packed.data(), scales.data());
    std::vector<float> deq(N * K);
    mlx::quant::fp_dequantize(packed.data(), scales.data(), mode, N, K, deq.data());
    Tracer tr({0, 1, 0});
    Val x = tr.input(T({1, K}, kF32, iota(K, -1, 1.0 / 32)));
    Val y = tr.op("QuantizedMatmul",
                  {x, tr.constant(T({N, K * bits / 32}, kU32, std::vector<double>(packed.begin(), packed.end()))),
                   tr.constant(T({N, K / group}, mx::MxDtype{1, 1}, std::vector<double>(scales.begin(), scales.end())))},
                  {st::i(group), st::i(bits), st::i(code), st::b(true)}, kF32);
    for (int64_t r = 0; r < N; ++r) {
      double want = 0;
      for (int64_t k = 0; k < K; ++k) want += (-1 + double(k) / 32) * deq[r * K + k];
      EXPECT_NEAR(y.t->values()[r], want, 1e-3);
    }
  }
}

namespace {
// Serializes a traced function (shapeless) and loads it back as a Program, as import-run does.
mlx::graph::Program reload(const mx::Function& f) {
  std::string bytes = mx::serialize(f);
  return mlx::graph::Program::from(mx::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "t.mlxfn"), "t.mlxfn");
}
}  // namespace

// MLX bakes the traced length into Reshape's shape (x.reshape(B, L, n_heads, -1) records [1, L, H, D]): shapeless
// replay at another length substitutes the dim that equals the recorded length of the input axis that changed.
TEST(MlxfnKernels, ShapelessReshapeInfersTheChangedLength) {
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({1, 2, 4}, kF32, iota(8)));
  // [1, 2, 4] -> [1, 2, 2, 2]: three dims equal the recorded length 2; only axis 1 changed in the input.
  Val y = tr.op("Reshape", {x}, {st::v({1, 2, 2, 2})});
  mlx::graph::Program p = reload(tr.finish({y}, true, ""));
  auto out = p.run({T({1, 5, 4}, kF32, iota(20))});
  EXPECT_EQ(out[0].shape, (Dims{1, 5, 2, 2}));
  EXPECT_EQ(out[0].values()[19], 19);
  EXPECT_EQ(p.run({T({1, 2, 4}, kF32, iota(8))})[0].shape, (Dims{1, 2, 2, 2}));

  // A flattened shape has no dim equal to the recorded length: one-line error naming the file and the entry.
  Tracer t2({0, 1, 0});
  Val x2 = t2.input(T({1, 2, 4}, kF32, iota(8)));
  mlx::graph::Program p2 = reload(t2.finish({t2.op("Reshape", {x2}, {st::v({8})})}, true, ""));
  try {
    p2.run({T({1, 3, 4}, kF32, iota(12))});
    ADD_FAILURE() << "no error";
  } catch (const mlx::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("t.mlxfn"), std::string::npos) << m;
    EXPECT_NE(m.find("tape entry"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

// Slice bounds, Arange stop and Broadcast/Full shapes baked at the recorded length follow the run-time length.
TEST(MlxfnKernels, ShapelessSliceArangeBroadcastFollowTheLength) {
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({1, 3, 2}, kF32, iota(6)));
  Val last = tr.op("Slice", {x}, {st::v({0, 2, 0}), st::v({1, 3, 2}), st::v({1, 1, 1})});   // x[:, -1:, :]
  Val pos = tr.op("Arange", {}, {st::d(0), st::d(3), st::d(1)}, kF32);                       // arange(L)
  // A mask-like broadcast of a value that carries L follows it; one of a constant keeps its recorded shape.
  Val heads = tr.op("Broadcast", {tr.op("ExpandDims", {x}, {st::v({1})})}, {st::v({1, 4, 3, 2})});  // [1, H, L, 2]
  Val row = tr.op("Reshape", {tr.constant(T({2}, kF32, {1, 1}))}, {st::v({1, 1, 2})});
  Val fixed = tr.op("Broadcast", {row}, {st::v({1, 3, 2})});
  mlx::graph::Program p = reload(tr.finish({last, pos, heads, fixed}, true, ""));
  auto out = p.run({T({1, 5, 2}, kF32, iota(10))});
  EXPECT_EQ(out[0].shape, (Dims{1, 1, 2}));
  EXPECT_EQ(out[0].values(), (std::vector<double>{8, 9}));
  EXPECT_EQ(out[1].values(), (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(out[2].shape, (Dims{1, 4, 5, 2}));
  EXPECT_EQ(out[3].shape, (Dims{1, 3, 2}));
}

// Semantics asked for in /work/notes/kernel_requests.md (MLX sources named there).
TEST(MlxfnKernels, RequestedSemantics) {
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({2, 3}, kF32, iota(6)));
  Val ten = tr.constant(T({}, kF32, {10}));
  EXPECT_EQ(tr.op("SliceUpdate", {x, ten}, {st::i(2), st::v({0, 0}), st::v({1, 3}), st::v({1, 2})}).t->values(),
            (std::vector<double>{10, 1, 12, 3, 4, 5}));  // Sum
  EXPECT_EQ(tr.op("SliceUpdate", {x, ten}, {st::i(0), st::v({0, 0}), st::v({1, 3}), st::v({1, 2})}).t->values(),
            (std::vector<double>{10, 1, 10, 3, 4, 5}));  // Max
  Val e = tr.input(T({3}, kF32, {8, 1000, std::exp(2.0)}));
  std::vector<double> l2 = tr.op("Log", {e}, {st::i(0)}).t->values(), l10 = tr.op("Log", {e}, {st::i(1)}).t->values(),
                      ln = tr.op("Log", {e}, {st::i(2)}).t->values();
  EXPECT_NEAR(l2[0], 3, 1e-6);
  EXPECT_NEAR(l10[1], 3, 1e-6);
  EXPECT_NEAR(ln[2], 2, 1e-6);
  Val a = tr.input(T({2}, kI32, {-7, 7})), b = tr.input(T({2}, kI32, {2, -2}));
  EXPECT_EQ(tr.op("Divide", {a, b}).t->values(), (std::vector<double>{-3, -3}));
  Val nan = tr.input(T({1}, kF32, {NAN}));
  EXPECT_EQ(tr.op("Equal", {nan, nan}, {st::b(true)}, kBool).t->values()[0], 1);
  EXPECT_EQ(tr.op("Equal", {nan, nan}, {st::b(false)}, kBool).t->values()[0], 0);
  // RoPE with one offset per batch entry: batch 1 at position 0 equals batch 0 at position 3.
  std::vector<double> xv;
  for (int bt = 0; bt < 2; ++bt)
    for (int t = 0; t < 4; ++t)
      for (double v : {1.0, 2.0, 3.0, 4.0}) xv.push_back(bt == 0 || t == 0 ? v : 0);
  Val xr = tr.input(T({2, 1, 4, 4}, kF32, xv));
  std::vector<double> r = tr.op("RoPE", {xr, tr.constant(T({2}, kI32, {0, 3}))},
                                {st::n(), st::i(4), st::b(false), st::f(100), st::f(1), st::b(true)}).t->values();
  for (int d = 0; d < 4; ++d) EXPECT_NEAR(r[16 + d], r[12 + d], 1e-5) << d;
}

// fast::Quantize with dequantize = true gives the matrix QuantizedMatmul multiplies with (identity x).
TEST(MlxfnKernels, DequantizeMatchesQuantizedMatmul) {
  const int bits = 4, gs = 32, K = 32, N = 3;
  std::vector<double> packed(N * K * bits / 32);
  for (size_t i = 0; i < packed.size(); ++i) packed[i] = double(uint32_t(0x9e3779b9u * uint32_t(i + 1)));
  Tracer tr({0, 1, 0});
  Val wq = tr.constant(T({N, K * bits / 32}, kU32, packed));
  Val sc = tr.constant(T({N, 1}, kF32, {0.5, -1, 2})), bi = tr.constant(T({N, 1}, kF32, {1, 0, -3}));
  Val w = tr.op("Quantize", {wq, sc, bi}, {st::n(), st::i(gs), st::i(bits), st::i(0), st::b(true)}, kF32);
  ASSERT_EQ(w.t->shape, (Dims{N, K}));
  std::vector<double> eye(K * K, 0);
  for (int i = 0; i < K; ++i) eye[i * K + i] = 1;
  Val y = tr.op("QuantizedMatmul", {tr.input(T({K, K}, kF32, eye)), wq, sc, bi}, {st::i(gs), st::i(bits), st::i(0), st::b(true)}, kF32);
  std::vector<double> wv = w.t->values(), yv = y.t->values();  // y = Wᵀ
  for (int r = 0; r < N; ++r)
    for (int k = 0; k < K; ++k) EXPECT_NEAR(yv[k * N + r], wv[r * K + k], 1e-6);
}

// MLX's Linear is Matmul(x, Transpose(W)) with W a constant: the replay multiplies by W directly (no transpose
// copy, bf16 not widened per call) and must equal the plain Matmul kernel the tracer evaluated.
TEST(MlxfnKernels, MatmulOfTransposedConstantWeight) {
  const mx::MxDtype kBF16{12, 2};
  for (mx::MxDtype wd : {kF32, kBF16}) {
    Tracer tr({0, 1, 0});
    Val x = tr.input(T({3, 4}, kF32, iota(12, -1, 0.25)));
    Val w = tr.constant(T({5, 4}, wd, iota(20, 0.5, -0.1)));
    Val wt = tr.op("Transpose", {w}, {st::v({1, 0})});
    Val y = tr.op("Matmul", {x, wt});
    // MLX's Linear with a bias: AddMM(bias, x, Wᵀ) = alpha·x·Wᵀ + beta·bias.
    Val yb = tr.op("AddMM", {tr.constant(T({5}, kF32, iota(5, 1, 1))), x, wt}, {st::f(0.5), st::f(2)});
    fs::path file = fs::temp_directory_path() / ("mlxfn_linear_" + std::to_string(wd.val) + ".mlxfn");
    mx::write(file, tr.finish({y, yb}, true, ""));
    auto p = mlx::graph::Program::load(file);
    for (int64_t rows : {3, 1, 7}) {
      auto out = p.run({T({rows, 4}, kF32, iota(rows * 4, -1, 0.25))});
      ASSERT_EQ(out[0].shape, (Dims{rows, 5}));
      std::vector<double> got = out[0].values(), want = y.t->values();
      for (int64_t k = 0; k < std::min<int64_t>(rows, 3) * 5; ++k) EXPECT_NEAR(got[k], want[k], 1e-5) << k;
      std::vector<double> gotb = out[1].values(), wantb = yb.t->values();
      for (int64_t k = 0; k < std::min<int64_t>(rows, 3) * 5; ++k) EXPECT_NEAR(gotb[k], wantb[k], 1e-5) << k;
    }
    fs::remove(file);
  }
}

// Hostile states give one-line errors naming the file and the primitive, never a crash or a huge allocation.
TEST(MlxfnKernels, BadShapesAreCleanErrors) {
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({1, 3}, kF32, iota(3)));
  for (auto [name, state] : {std::pair<const char*, mx::StateField>{"Broadcast", st::v({-3, 3})},
                             {"Reshape", st::v({7})}, {"Transpose", st::v({0, 0, 1})}}) {
    try {
      tr.op(name, {x}, {state});
      ADD_FAILURE() << name << ": no error";
    } catch (const mlx::Error& e) {
      std::string m = e.what();
      EXPECT_EQ(m.rfind("export:", 0), 0u) << m;
      EXPECT_NE(m.find(name), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
}

// Reshape-likes, contiguous slices and AsType to the same dtype are views of their input's buffer.
TEST(MlxfnKernels, ViewsShareTheBuffer) {
  const mx::MxDtype kBF16{12, 2};
  Tracer tr({0, 1, 0});
  Val x = tr.input(T({2, 3, 4}, kBF16, iota(24)));
  auto same = [&](const Val& v) { return v.t->hold == x.t->hold; };
  EXPECT_TRUE(same(tr.op("Reshape", {x}, {st::v({6, 4})})));
  EXPECT_TRUE(same(tr.op("ExpandDims", {x}, {st::v({0})})));
  EXPECT_TRUE(same(tr.op("Flatten", {x}, {st::i(0), st::i(1)})));
  EXPECT_TRUE(same(tr.op("AsType", {x}, {}, kBF16)));
  Val rows = tr.op("Slice", {x}, {st::v({1, 0, 0}), st::v({2, 3, 4}), st::v({1, 1, 1})});
  EXPECT_TRUE(same(rows));
  EXPECT_EQ(rows.t->values()[0], 12);
  EXPECT_FALSE(same(tr.op("Slice", {x}, {st::v({0, 0, 1}), st::v({2, 3, 2}), st::v({1, 1, 1})})));  // strided: a copy
  EXPECT_TRUE(same(tr.op("AsType", {x}, {}, kF32)));    // bf16 values are float32 values: nothing to round
  EXPECT_FALSE(same(tr.op("AsType", {x}, {}, kI32)));   // another storage: a copy
}
