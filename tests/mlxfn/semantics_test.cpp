// MLX semantics of single primitives, replayed from hand-built .mlxfn bytes (one primitive per function) and
// checked against values computed here with std math from MLX's definitions (the source is cited per test).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "formats/mlxfn.h"
#include "graph/program.h"
#include "mlxfn_bytes.h"

namespace mx = mlx::formats::mlxfn;
using mlx::graph::Dims;
using mlx::graph::Tensor;
using namespace mlxfn_test;

namespace {

constexpr mx::MxDtype kF32{10, 4}, kI32{7, 4}, kU32{3, 4}, kBool{0, 1};

struct Arg {
  Dims shape;
  mx::MxDtype dtype;
  std::vector<double> v;
};

// A function of `args.size()` inputs whose one primitive `name` (state bytes `state`) makes an output of
// `out_shape` / `out_dtype` (the shape is what MLX would store; replay recomputes it).
std::vector<double> run1(const std::string& name, const std::string& state, const std::vector<Arg>& args,
                         const Dims& out_shape, mx::MxDtype out_dtype, Dims* shape_out = nullptr) {
  Bytes f;
  f.str("0.32.2").i32(1).b(false).str("");
  f.u64(0);
  f.u64(args.size());
  for (size_t i = 0; i < args.size(); ++i) f.u64(i + 1);
  f.u64(args.size());
  for (const Arg& a : args) {
    f.u64(a.shape.size());
    for (int64_t d : a.shape) f.i32(int32_t(d));
    f.dtype(a.dtype.val, a.dtype.size);
  }
  uint64_t out_id = args.size() + 1;
  f.u64(1).u64(out_id);
  f.u64(args.size() + 1);
  for (size_t i = 0; i < args.size(); ++i) f.u64(i + 1).b(false).b(false);
  f.u64(out_id).b(true).u64(args.size());
  for (size_t i = 0; i < args.size(); ++i) f.u64(i + 1);
  f.stream(0).str(name);
  f.s += state;
  f.u64(0).u64(out_shape.size());
  for (int64_t d : out_shape) f.i32(int32_t(d));
  f.dtype(out_dtype.val, out_dtype.size);
  auto prog = mlx::graph::Program::from(parse(f.s), "sem.mlxfn");
  std::vector<Tensor> in;
  for (const Arg& a : args) in.push_back(Tensor(a.shape, a.dtype, a.v));
  auto out = prog.run(in);
  if (shape_out) *shape_out = out.at(0).shape;
  return out.at(0).values();
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

// mlx/primitives.h: Log::Base { two, ten, e } is the state; Log2/Log10 are written as Log.
TEST(MlxfnSemantics, LogBaseCodes) {
  EXPECT_NEAR(run1("Log", raw<int32_t>(0), {{{1}, kF32, {8}}}, {1}, kF32)[0], 3.0, 1e-6);
  EXPECT_NEAR(run1("Log", raw<int32_t>(1), {{{1}, kF32, {1000}}}, {1}, kF32)[0], 3.0, 1e-6);
  EXPECT_NEAR(run1("Log", raw<int32_t>(2), {{{1}, kF32, {std::exp(2.0)}}}, {1}, kF32)[0], 2.0, 1e-6);
}

// mlx/backend/cpu/binary_ops.h: NaNEqual is x == y || (isnan(x) && isnan(y)); written as Equal with the flag.
TEST(MlxfnSemantics, EqualNanFlag) {
  std::vector<Arg> a = {{{2}, kF32, {kNaN, 1}}, {{2}, kF32, {kNaN, 1}}};
  EXPECT_EQ(run1("Equal", raw<uint8_t>(1), a, {2}, kBool), (std::vector<double>{1, 1}));
  EXPECT_EQ(run1("Equal", raw<uint8_t>(0), a, {2}, kBool), (std::vector<double>{0, 1}));
}

// Sqrt's flag is recip (Rsqrt is written as Sqrt with true).
TEST(MlxfnSemantics, SqrtRecip) {
  EXPECT_NEAR(run1("Sqrt", raw<uint8_t>(1), {{{1}, kF32, {4}}}, {1}, kF32)[0], 0.5, 1e-7);
  EXPECT_NEAR(run1("Sqrt", raw<uint8_t>(0), {{{1}, kF32, {4}}}, {1}, kF32)[0], 2.0, 1e-7);
}

// Softmax over the last axis; precise only changes the accumulation type.
TEST(MlxfnSemantics, Softmax) {
  for (uint8_t precise : {0, 1}) {
    auto y = run1("Softmax", raw(precise), {{{3}, kF32, {1, 2, 3}}}, {3}, kF32);
    double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(y[i], std::exp(i + 1.0) / s, 1e-6);
  }
}

// Scan state (ReduceType {Max, Min, Sum, Prod, LogAddExp}, axis, reverse, inclusive).
TEST(MlxfnSemantics, ScanDirections) {
  auto scan = [](int32_t type, bool reverse, bool inclusive, std::vector<double> x) {
    return run1("Scan", raw(type) + raw<int32_t>(0) + raw<uint8_t>(reverse) + raw<uint8_t>(inclusive),
                {{{int64_t(x.size())}, kF32, x}}, {int64_t(x.size())}, kF32);
  };
  EXPECT_EQ(scan(2, false, true, {1, 2, 3}), (std::vector<double>{1, 3, 6}));
  EXPECT_EQ(scan(2, false, false, {1, 2, 3}), (std::vector<double>{0, 1, 3}));
  EXPECT_EQ(scan(2, true, true, {1, 2, 3}), (std::vector<double>{6, 5, 3}));
  EXPECT_EQ(scan(2, true, false, {1, 2, 3}), (std::vector<double>{5, 3, 0}));
  EXPECT_EQ(scan(3, false, true, {2, 3, 4}), (std::vector<double>{2, 6, 24}));
  EXPECT_EQ(scan(0, false, true, {1, 3, 2}), (std::vector<double>{1, 3, 3}));
  EXPECT_EQ(scan(1, false, true, {3, 1, 2}), (std::vector<double>{3, 1, 1}));
}

// Remainder takes the sign of the divisor (cpu simd remainder: r != 0 && (r < 0) != (b < 0) -> r + b).
TEST(MlxfnSemantics, RemainderSign) {
  std::vector<Arg> f = {{{2}, kF32, {-7, 7}}, {{2}, kF32, {3, -3}}};
  EXPECT_EQ(run1("Remainder", "", f, {2}, kF32), (std::vector<double>{2, -2}));
  std::vector<Arg> i = {{{2}, kI32, {-7, 7}}, {{2}, kI32, {3, -3}}};
  EXPECT_EQ(run1("Remainder", "", i, {2}, kI32), (std::vector<double>{2, -2}));
}

// Integer Divide is C++ operator/ (truncation toward zero): mlx/backend/cpu/binary_ops.h.
TEST(MlxfnSemantics, IntegerDivideTruncates) {
  std::vector<Arg> i = {{{3}, kI32, {-7, 7, 7}}, {{3}, kI32, {2, -2, 2}}};
  EXPECT_EQ(run1("Divide", "", i, {3}, kI32), (std::vector<double>{-3, -3, 3}));
}

TEST(MlxfnSemantics, PowerSelectAndShifts) {
  EXPECT_EQ(run1("Power", "", {{{2}, kF32, {2, 3}}, {{2}, kF32, {10, 2}}}, {2}, kF32), (std::vector<double>{1024, 9}));
  EXPECT_EQ(run1("Select", "", {{{2}, kBool, {1, 0}}, {{2}, kF32, {5, 6}}, {{2}, kF32, {7, 8}}}, {2}, kF32),
            (std::vector<double>{5, 8}));
  // BitwiseBinary Op {And, Or, Xor, LeftShift, RightShift}
  std::vector<Arg> u = {{{2}, kU32, {0xF0, 12}}, {{2}, kU32, {4, 2}}};
  EXPECT_EQ(run1("BitwiseBinary", raw<int32_t>(4), u, {2}, kU32), (std::vector<double>{0xF, 3}));
  EXPECT_EQ(run1("BitwiseBinary", raw<int32_t>(3), u, {2}, kU32), (std::vector<double>{0xF00, 48}));
  EXPECT_EQ(run1("BitwiseBinary", raw<int32_t>(0), u, {2}, kU32), (std::vector<double>{0, 0}));
}

// Gather (axes, slice_sizes): out shape = index shape + slice_sizes (mlx/primitives.h Gather).
TEST(MlxfnSemantics, GatherWithSliceSizes) {
  std::vector<double> src(12);
  for (int i = 0; i < 12; ++i) src[i] = i;  // [3, 4]
  Dims shape;
  auto y = run1("Gather", vec({0}) + vec({1, 2}), {{{3, 4}, kF32, src}, {{2}, kI32, {2, 0}}}, {2, 1, 2}, kF32, &shape);
  EXPECT_EQ(shape, (Dims{2, 1, 2}));
  EXPECT_EQ(y, (std::vector<double>{8, 9, 0, 1}));
}

// ArgReduce ReduceType {ArgMin, ArgMax}; output uint32 with the axis kept as 1.
TEST(MlxfnSemantics, ArgReduce) {
  std::vector<Arg> x = {{{2, 3}, kF32, {1, 5, 2, 7, 0, 3}}};
  EXPECT_EQ(run1("ArgReduce", raw<int32_t>(1) + raw<int32_t>(1), x, {2, 1}, kU32), (std::vector<double>{1, 0}));
  EXPECT_EQ(run1("ArgReduce", raw<int32_t>(0) + raw<int32_t>(1), x, {2, 1}, kU32), (std::vector<double>{0, 1}));
}

// SliceUpdate (reduce_type, start, stop, strides), ReduceType {Max, Min, Sum, Prod, None}.
TEST(MlxfnSemantics, SliceUpdateOps) {
  std::vector<Arg> a = {{{2, 3}, kF32, {0, 1, 2, 3, 4, 5}}, {{1, 2}, kF32, {1.5, 1.5}}};
  std::string where = vec({0, 0}) + vec({1, 3}) + vec({1, 2});  // elements 0 and 2 of row 0
  EXPECT_EQ(run1("SliceUpdate", raw<int32_t>(4) + where, a, {2, 3}, kF32), (std::vector<double>{1.5, 1, 1.5, 3, 4, 5}));
  EXPECT_EQ(run1("SliceUpdate", raw<int32_t>(2) + where, a, {2, 3}, kF32), (std::vector<double>{1.5, 1, 3.5, 3, 4, 5}));
  EXPECT_EQ(run1("SliceUpdate", raw<int32_t>(3) + where, a, {2, 3}, kF32), (std::vector<double>{0, 1, 3, 3, 4, 5}));
  EXPECT_EQ(run1("SliceUpdate", raw<int32_t>(0) + where, a, {2, 3}, kF32), (std::vector<double>{1.5, 1, 2, 3, 4, 5}));
  EXPECT_EQ(run1("SliceUpdate", raw<int32_t>(1) + where, a, {2, 3}, kF32), (std::vector<double>{0, 1, 1.5, 3, 4, 5}));
}

// fast::RoPE (null, dims, traditional, base, scale, forward); inputs x, offset [, freqs]. MLX fast.cpp fallback:
// positions = (arange(T) + offset) * scale, inv_freq = base^(-2i/dims) or 1/freqs, out1 = x1 cos - x2 sin,
// out2 = x1 sin + x2 cos; halves (x1 = [0, dims/2)) or interleaved pairs when traditional; offset per batch row.
TEST(MlxfnSemantics, RopeVariants) {
  auto rope = [](bool traditional, const std::vector<Arg>& args, const Dims& shape) {
    std::string st = raw<int32_t>(4) + raw<uint8_t>(traditional) + raw(100.f) + raw(1.f) + raw<uint8_t>(1);
    return run1("RoPE", st, args, shape, kF32);
  };
  std::vector<double> x = {1, 2, 3, 4, -1, 0, 1, 2};  // [1, 1, 2, 4]
  auto expect = [](const std::vector<double>& y, const std::vector<double>& x, int64_t row, double pos,
                   const std::vector<double>& inv, bool traditional) {
    for (int i = 0; i < 2; ++i) {
      int a = traditional ? 2 * i : i, b = traditional ? 2 * i + 1 : i + 2;
      double th = pos * inv[i], x1 = x[row * 4 + a], x2 = x[row * 4 + b];
      EXPECT_NEAR(y[row * 4 + a], x1 * std::cos(th) - x2 * std::sin(th), 1e-5) << row << " " << i;
      EXPECT_NEAR(y[row * 4 + b], x1 * std::sin(th) + x2 * std::cos(th), 1e-5) << row << " " << i;
    }
  };
  std::vector<double> inv_base = {1.0, std::pow(100.0, -0.5)};
  for (bool trad : {false, true}) {
    auto y = rope(trad, {{{1, 1, 2, 4}, kF32, x}, {{}, kI32, {3}}}, {1, 1, 2, 4});
    expect(y, x, 0, 3, inv_base, trad);
    expect(y, x, 1, 4, inv_base, trad);
  }
  // freqs input replaces base: inv_freq = 1 / freqs
  auto y = rope(false, {{{1, 1, 2, 4}, kF32, x}, {{}, kI32, {0}}, {{2}, kF32, {2, 50}}}, {1, 1, 2, 4});
  expect(y, x, 1, 1, {0.5, 0.02}, false);
  // one offset per batch row
  auto yb = rope(false, {{{2, 1, 1, 4}, kF32, x}, {{2}, kI32, {0, 5}}}, {2, 1, 1, 4});
  expect(yb, x, 0, 0, inv_base, false);
  expect(yb, x, 1, 5, inv_base, false);
}

// fast::ScaledDotProductAttention (null, scale, do_causal, has_sinks, output_logsumexp); inputs q, k, v,
// [mask], [sinks]. MLX fast.cpp fallback: softmax(scale q k^T + mask) v with the sink logit in the softmax
// denominator only; causal keeps k_j for j <= i + (Lk - Lq).
TEST(MlxfnSemantics, AttentionMaskSinksCausal) {
  std::vector<double> q = {1, 0}, k = {1, 0, 0, 1}, v = {10, 20, 30, 40};  // q [1,1,1,2], k/v [1,1,2,2]
  std::vector<Arg> base = {{{1, 1, 1, 2}, kF32, q}, {{1, 1, 2, 2}, kF32, k}, {{1, 1, 2, 2}, kF32, v}};
  auto flags = [](bool causal, bool sinks) {
    return raw(1.f) + raw<uint8_t>(causal) + raw<uint8_t>(sinks) + raw<uint8_t>(0);
  };
  double w0 = std::exp(1.0) / (std::exp(1.0) + 1.0);
  auto y = run1("ScaledDotProductAttention", flags(false, false), base, {1, 1, 1, 2}, kF32);
  EXPECT_NEAR(y[0], w0 * 10 + (1 - w0) * 30, 1e-5);
  // additive mask hides key 0
  auto masked = base;
  masked.push_back({{1, 1, 1, 2}, kF32, {-INFINITY, 0}});
  y = run1("ScaledDotProductAttention", flags(false, false), masked, {1, 1, 1, 2}, kF32);
  EXPECT_NEAR(y[1], 40, 1e-5);
  // boolean mask hides key 1
  masked.back() = {{1, 1, 1, 2}, kBool, {1, 0}};
  y = run1("ScaledDotProductAttention", flags(false, false), masked, {1, 1, 1, 2}, kF32);
  EXPECT_NEAR(y[1], 20, 1e-5);
  // causal with Lq = 1 < Lk = 2: the query is the last position and sees both keys
  y = run1("ScaledDotProductAttention", flags(true, false), base, {1, 1, 1, 2}, kF32);
  EXPECT_NEAR(y[0], w0 * 10 + (1 - w0) * 30, 1e-5);
  // a sink of logit 0.5 takes its share of the softmax and contributes no value
  auto sunk = base;
  sunk.push_back({{1}, kF32, {0.5}});
  y = run1("ScaledDotProductAttention", flags(false, true), sunk, {1, 1, 1, 2}, kF32);
  double z = std::exp(1.0) + 1.0 + std::exp(0.5);
  EXPECT_NEAR(y[0], (std::exp(1.0) * 10 + 30) / z, 1e-5);
}

// fast::RMSNorm (null, eps): x * rsqrt(mean(x^2) + eps) * w; LayerNorm adds the mean and a bias (fast.cpp).
TEST(MlxfnSemantics, Norms) {
  std::vector<double> x = {1, 2, 3, 4};
  auto y = run1("RMSNorm", raw(0.5f), {{{1, 4}, kF32, x}, {{4}, kF32, {1, 1, 2, 2}}}, {1, 4}, kF32);
  double r = 1.0 / std::sqrt((1 + 4 + 9 + 16) / 4.0 + 0.5);
  EXPECT_NEAR(y[3], 4 * r * 2, 1e-5);
  y = run1("LayerNorm", raw(0.0f), {{{1, 4}, kF32, x}, {{4}, kF32, {1, 1, 1, 1}}, {{4}, kF32, {0, 0, 0, 1}}}, {1, 4}, kF32);
  double var = (2.25 + 0.25 + 0.25 + 2.25) / 4;
  EXPECT_NEAR(y[3], 1.5 / std::sqrt(var) + 1, 1e-5);
}

// The rest of issue 6's item-4 list, one primitive per hand-built file, expected values from their definitions.
TEST(MlxfnSemantics, LayoutPrimitivesFromBytes) {
  std::vector<double> x6 = {0, 1, 2, 3, 4, 5};
  Arg x{{2, 3}, kF32, x6};
  Dims sh;
  EXPECT_EQ(run1("Flatten", raw<int32_t>(0) + raw<int32_t>(1), {x}, {6}, kF32, &sh), x6);
  EXPECT_EQ(sh, (Dims{6}));
  run1("Unflatten", raw<int32_t>(1) + vec({3, 1}), {x}, {2, 3, 1}, kF32, &sh);
  EXPECT_EQ(sh, (Dims{2, 3, 1}));
  run1("ExpandDims", vec({0, 3}), {x}, {1, 2, 3, 1}, kF32, &sh);
  EXPECT_EQ(sh, (Dims{1, 2, 3, 1}));
  run1("Squeeze", vec({0}), {{{1, 2, 3}, kF32, x6}}, {2, 3}, kF32, &sh);
  EXPECT_EQ(sh, (Dims{2, 3}));
  EXPECT_EQ(run1("Transpose", vec({1, 0}), {x}, {3, 2}, kF32), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(run1("Slice", vec({0, 1}) + vec({2, 3}) + vec({1, 1}), {x}, {2, 2}, kF32), (std::vector<double>{1, 2, 4, 5}));
  EXPECT_EQ(run1("Concatenate", raw<int32_t>(0), {x, {{1, 3}, kF32, {6, 7, 8}}}, {3, 3}, kF32),
            (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(run1("Broadcast", vec({2, 3}), {{{1, 3}, kF32, {7, 8, 9}}}, {2, 3}, kF32), (std::vector<double>{7, 8, 9, 7, 8, 9}));
  // BroadcastAxes: input 0 broadcast against the others' shapes, ignoring the listed axes
  run1("BroadcastAxes", vec({}), {{{1, 3}, kF32, {7, 8, 9}}, {{4, 1}, kF32, {0, 0, 0, 0}}}, {4, 3}, kF32, &sh);
  EXPECT_EQ(sh, (Dims{4, 3}));
  EXPECT_EQ(run1("AsType", raw<int32_t>(7) + raw<uint8_t>(4), {{{3}, kF32, {1.75, -1.75, 2}}}, {3}, kI32),
            (std::vector<double>{1, -1, 2}));  // float -> int truncates
  EXPECT_EQ(run1("Arange", raw(1.0) + raw(7.0) + raw(2.0), {}, {3}, kF32), (std::vector<double>{1, 3, 5}));
  EXPECT_EQ(run1("Full", "", {{{}, kF32, {2.5}}}, {2, 2}, kF32), (std::vector<double>{2.5, 2.5, 2.5, 2.5}));
}

TEST(MlxfnSemantics, ElementwisePrimitivesFromBytes) {
  std::vector<double> a = {-1.5, 0.25, 2}, b = {0.5, 0.25, -3};
  Arg A{{3}, kF32, a}, B{{3}, kF32, b};
  auto each2 = [&](const std::string& name, double (*f)(double, double), mx::MxDtype out = kF32) {
    auto y = run1(name, "", {A, B}, {3}, out);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(y[i], f(a[i], b[i]), 1e-6) << name << " " << i;
  };
  each2("Add", [](double p, double q) { return p + q; });
  each2("Subtract", [](double p, double q) { return p - q; });
  each2("Multiply", [](double p, double q) { return p * q; });
  each2("Divide", [](double p, double q) { return p / q; });
  each2("Maximum", [](double p, double q) { return std::max(p, q); });
  each2("Minimum", [](double p, double q) { return std::min(p, q); });
  each2("Less", [](double p, double q) { return double(p < q); }, kBool);
  each2("LessEqual", [](double p, double q) { return double(p <= q); }, kBool);
  each2("Greater", [](double p, double q) { return double(p > q); }, kBool);
  each2("GreaterEqual", [](double p, double q) { return double(p >= q); }, kBool);
  auto each1 = [&](const std::string& name, double (*f)(double)) {
    auto y = run1(name, "", {A}, {3}, kF32);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(y[i], f(a[i]), 1e-6) << name << " " << i;
  };
  each1("Negative", [](double p) { return -p; });
  each1("Exp", [](double p) { return std::exp(p); });
  each1("Sigmoid", [](double p) { return 1 / (1 + std::exp(-p)); });
  each1("Square", [](double p) { return p * p; });
  each1("Cos", [](double p) { return std::cos(p); });
  each1("Sin", [](double p) { return std::sin(p); });
  each1("Tanh", [](double p) { return std::tanh(p); });
  each1("Erf", [](double p) { return std::erf(p); });
}

TEST(MlxfnSemantics, ReductionsAndMatmulsFromBytes) {
  Arg x{{2, 3}, kF32, {1, 2, 3, 4, 5, 6}};
  EXPECT_EQ(run1("Reduce", raw<int32_t>(2) + vec({1}), {x}, {2, 1}, kF32), (std::vector<double>{6, 15}));
  EXPECT_EQ(run1("Reduce", raw<int32_t>(3) + vec({0}), {x}, {1, 3}, kF32), (std::vector<double>{4, 10, 18}));
  EXPECT_EQ(run1("Reduce", raw<int32_t>(4) + vec({0, 1}), {x}, {1, 1}, kF32), (std::vector<double>{1}));
  EXPECT_EQ(run1("Reduce", raw<int32_t>(5) + vec({1}), {x}, {2, 1}, kF32), (std::vector<double>{3, 6}));
  Arg w{{3, 2}, kF32, {1, 0, 0, 1, 1, 1}};
  EXPECT_EQ(run1("Matmul", "", {x, w}, {2, 2}, kF32), (std::vector<double>{4, 5, 10, 11}));
  // AddMM (alpha, beta): alpha * a @ b + beta * c, inputs (c, a, b)
  EXPECT_EQ(run1("AddMM", raw(2.f) + raw(0.5f), {{{2, 2}, kF32, {2, 2, 2, 2}}, x, w}, {2, 2}, kF32),
            (std::vector<double>{9, 11, 21, 23}));
}

// QuantizedMatmul affine (group_size, bits, mode 0, transpose): x · (q * scale + bias)ᵀ, q LSB-first in uint32.
TEST(MlxfnSemantics, QuantizedMatmulAffineFromBytes) {
  // W [2 rows, 32 cols] at 4 bits, one group of 32 per row: element k of row r is (k + r) % 16, 8 per word.
  std::vector<double> words(8);
  for (int r = 0; r < 2; ++r)
    for (int wd = 0; wd < 4; ++wd) {
      uint32_t w = 0;
      for (int j = 0; j < 8; ++j) w |= uint32_t((wd * 8 + j + r) % 16) << (4 * j);
      words[size_t(r * 4 + wd)] = w;
    }
  std::vector<double> scales = {0.5, 2}, biases = {-1, 0.25};
  std::vector<double> xv(32, 0.0);
  xv[0] = 1;
  xv[7] = 2;
  xv[31] = -1;
  auto y = run1("QuantizedMatmul", raw<int32_t>(32) + raw<int32_t>(4) + raw<int32_t>(0) + raw<uint8_t>(1),
                {{{1, 32}, kF32, xv}, {{2, 4}, kU32, words}, {{2, 1}, kF32, scales}, {{2, 1}, kF32, biases}}, {1, 2}, kF32);
  for (int r = 0; r < 2; ++r) {
    double want = 0;
    for (int k = 0; k < 32; ++k) want += xv[size_t(k)] * (double((k + r) % 16) * scales[size_t(r)] + biases[size_t(r)]);
    EXPECT_NEAR(y[size_t(r)], want, 1e-5) << r;
  }
}
