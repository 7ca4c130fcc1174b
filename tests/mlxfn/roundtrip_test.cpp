// export -> .mlxfn bytes -> re-read -> replay, against the transformers golden logits of every fixture model,
// at the sample length and (shapeless) at a different length.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include "../common/fixtures.h"
#include "constants_check.h"
#include "core/error.h"
#include "core/file_io.h"
#include "formats/mlxfn.h"
#include "graph/export_model.h"
#include "graph/program.h"

namespace fs = std::filesystem;
namespace mx = mlx::formats::mlxfn;
using mlx::graph::Tensor;

namespace {

Tensor ids_tensor(const std::vector<int32_t>& ids) {
  return Tensor{{1, int64_t(ids.size())}, mx::MxDtype{7, 4}, std::vector<double>(ids.begin(), ids.end())};
}

// MLX primitives whose output_shapes() exist (mlx/primitives.h @0154acf14, fast_primitives.h @0017d3c): only
// these can be replayed by MLX's own shapeless import (compile_replace); Scan, Slice, Split, Pad, ... cannot.
const std::set<std::string> kMlxShapeless = {
    "Abs", "Add", "AddMM", "ArgPartition", "ArgReduce", "ArgSort", "AsType", "BitwiseBinary", "BroadcastAxes",
    "Ceil", "Concatenate", "Copy", "Cos", "Cosh", "Divide", "Equal", "Erf", "Exp", "Expm1", "ExpandDims", "Flatten",
    "Floor", "Gather", "GatherAxis", "GatherMM", "GatherQMM", "Greater", "GreaterEqual", "Less", "LessEqual", "Log",
    "Log1p", "LogicalNot", "LogicalAnd", "LogicalOr", "LogAddExp", "Matmul", "Maximum", "Minimum", "Multiply",
    "Negative", "NotEqual", "NumberOfElements", "Power", "QuantizedMatmul", "Reduce", "Remainder", "Round", "Select",
    "Sigmoid", "Sign", "Sin", "Sinh", "Softmax", "Sqrt", "Square", "Squeeze", "StopGradient", "Subtract", "Tan",
    "Tanh", "Transpose", "Unflatten", "RMSNorm", "LayerNorm", "RoPE", "ScaledDotProductAttention", "Quantize"};

double max_diff(const double* a, const nlohmann::ordered_json& b) {
  double d = 0;
  for (size_t i = 0; i < b.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i].get<double>()));
  return d;
}

}  // namespace

TEST(MlxfnRoundTrip, EveryFixtureModelMatchesGoldenAtTwoLengths) {
  int checked = 0;
  // Fixture head dims (16) have no fused MLX kernel: by default attention is exported as basic ops; forcing the
  // fast primitive checks that path too.
  for (const fs::path& dir : mlx::test::fixture_dirs("models"))
  for (bool fused : {false, true}) {
    SCOPED_TRACE(dir.string() + (fused ? " fused attention" : " attention as ops"));
    auto g = mlx::read_json(dir / "golden.json");
    auto short_ids = g["prompt_short"]["input_ids"].get<std::vector<int32_t>>();
    auto medium_ids = g["prompt_medium"]["input_ids"].get<std::vector<int32_t>>();
    mlx::graph::ExportOptions opts;
    opts.fused_attention_any_head_dim = fused;
    mx::Function fn = mlx::graph::export_model(dir, short_ids, opts);
    EXPECT_TRUE(fn.shapeless);
    std::set<std::string> names;
    for (const auto& e : fn.traces[0].tape) {
      if (e.kind != mx::TapeEntry::kPrimitive) continue;
      names.insert(e.name);
      EXPECT_TRUE(kMlxShapeless.count(e.name)) << e.name << " cannot be replayed shapeless by MLX";
      EXPECT_EQ(e.stream.device_type, 1);
    }
    if (dir.filename() == "mixtral" || dir.filename() == "qwen3_moe") {
      EXPECT_TRUE(names.count("GatherMM"));  // experts as mlx_lm's SwitchGLU, not dense
    }
    EXPECT_EQ(names.count("ScaledDotProductAttention") > 0, fused);
    EXPECT_TRUE(names.count("RMSNorm") && names.count("RoPE"));
    mlx::test::expect_compact_constants(fn);
    {
      // A tied lm_head is the embedding table itself: one constant feeds both the Gather and the head's Transpose.
      auto cfg = mlx::read_json(dir / "config.json");
      std::set<uint64_t> gathered, transposed;
      for (const auto& e : fn.traces[0].tape) {
        if (e.kind != mx::TapeEntry::kPrimitive || e.inputs.empty()) continue;
        if (e.name == "Gather") gathered.insert(e.inputs[0]);
        if (e.name == "Transpose") transposed.insert(e.inputs[0]);
      }
      bool shared = false;
      for (uint64_t id : gathered) shared = shared || transposed.count(id);
      EXPECT_EQ(shared, cfg.value("tie_word_embeddings", false)) << "embedding table shared with the lm_head";
    }
    std::string bytes = mx::serialize(fn);
    mx::Function back = mx::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "export.mlxfn");
    EXPECT_EQ(back, fn);
    EXPECT_EQ(mx::serialize(back), bytes);
    auto prog = mlx::graph::Program::from(std::move(back), "export.mlxfn");

    auto out = prog.run({ids_tensor(short_ids)});
    ASSERT_EQ(out.size(), 1u);
    const auto& logits = g["prompt_short"]["logits"];
    ASSERT_EQ(out[0].shape.size(), 3u);
    int64_t T = out[0].shape[1], V = out[0].shape[2];
    ASSERT_EQ(size_t(T), logits.size());
    const std::vector<double> got = out[0].values();
    for (int64_t t = 0; t < T; ++t) EXPECT_LT(max_diff(got.data() + t * V, logits[t]), 1e-4) << "row " << t;

    auto out2 = prog.run({ids_tensor(medium_ids)});
    ASSERT_EQ(out2[0].shape[1], int64_t(medium_ids.size()));
    EXPECT_LT(max_diff(out2[0].values().data() + (int64_t(medium_ids.size()) - 1) * V, g["prompt_medium"]["last_logits"]), 1e-4);
    checked += fused;
  }
  RecordProperty("models_checked", checked);
  std::printf("round-trip checked %d fixture models\n", checked);
  EXPECT_GT(checked, 0);
}

// --target cpu: fast ops decomposed into basic primitives on a CPU stream, fixed-shape at the sample length.
TEST(MlxfnRoundTrip, CpuTargetDecomposedMatchesGoldenAtSampleLength) {
  int checked = 0;
  for (const fs::path& dir : mlx::test::fixture_dirs("models")) {
    SCOPED_TRACE(dir.string());
    auto g = mlx::read_json(dir / "golden.json");
    auto short_ids = g["prompt_short"]["input_ids"].get<std::vector<int32_t>>();
    mlx::graph::ExportOptions opts;
    opts.gpu_stream = false;
    mx::Function fn = mlx::graph::export_model(dir, short_ids, opts);
    EXPECT_FALSE(fn.shapeless);
    for (const auto& e : fn.traces[0].tape) {
      if (e.kind != mx::TapeEntry::kPrimitive) continue;
      EXPECT_EQ(e.stream.device_type, 0);
      EXPECT_TRUE(e.name != "RMSNorm" && e.name != "RoPE" && e.name != "ScaledDotProductAttention") << e.name;
    }
    std::string bytes = mx::serialize(fn);
    auto prog = mlx::graph::Program::from(
        mx::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "cpu.mlxfn"), "cpu.mlxfn");
    auto out = prog.run({ids_tensor(short_ids)});
    const auto& logits = g["prompt_short"]["logits"];
    int64_t T = out[0].shape[1], V = out[0].shape[2];
    ASSERT_EQ(size_t(T), logits.size());
    const std::vector<double> got = out[0].values();
    for (int64_t t = 0; t < T; ++t) EXPECT_LT(max_diff(got.data() + t * V, logits[t]), 1e-4) << "row " << t;
    auto medium_ids = g["prompt_medium"]["input_ids"].get<std::vector<int32_t>>();
    EXPECT_THROW(prog.run({ids_tensor(medium_ids)}), mlx::Error);  // fixed shape
    ++checked;
  }
  EXPECT_GT(checked, 0);
}
