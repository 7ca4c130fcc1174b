// Quantized (MLX affine) models export their Linears as QuantizedMatmul on the packed weights; the replay must
// agree with our runtime's forward of the same quantized directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include "../common/fixtures.h"
#include "constants_check.h"
#include "backend/cpu/kernels.h"
#include "core/file_io.h"
#include "formats/mlxfn.h"
#include "graph/export_model.h"
#include "graph/program.h"
#include "runtime/model.h"

namespace fs = std::filesystem;
namespace mx = mlx::formats::mlxfn;

namespace {

struct Recipe {
  const char* flags;
  int mode;              // MLX QuantizationMode code the Linears must carry
  bool packed_embedding;  // affine with bits dividing 32: unpacked by BitwiseBinary ops (else fast::Quantize)
};

// Converts `dir` with `r`, exports at the short golden prompt, replays the bytes and compares with our runtime's
// forward of the same quantized directory (1e-4). Returns the primitive names of the tape.
std::set<std::string> check(const fs::path& dir, const Recipe& r) {
  SCOPED_TRACE(dir.string() + " " + r.flags);
  // The reference forward must round like the replay: float activations (the AVX-512 decode default quantizes
  // activations to int8 for single rows, e.g. each MoE expert's token).
  struct FloatActs {
    int saved = mlx::cpu::detail::set_q8_acts_levels(0);
    ~FloatActs() { mlx::cpu::detail::set_q8_acts_levels(saved); }
  } float_acts;
  std::set<std::string> names;
  fs::path q = fs::temp_directory_path() / ("mlx_mlxfn_q_" + dir.filename().string() + "_" + std::to_string(::getpid()));
  fs::remove_all(q);
  int code = -1;
  std::string err;
  mlx::test::run_cli("convert --hf-path " + dir.string() + " --mlx-path " + q.string() + " " + r.flags, &code, &err);
  EXPECT_EQ(code, 0) << err;
  if (code != 0) return names;
  auto g = mlx::read_json(dir / "golden.json");
  auto ids = g["prompt_short"]["input_ids"].get<std::vector<int32_t>>();
  mx::Function fn = mlx::graph::export_model(q, ids, {});
  mlx::test::expect_compact_constants(fn);
  mlx::test::expect_stored_scales_dtype(fn, mlx::test::stored_scales_dtype(q));
  {
    // The file holds the packed weights as stored (scales/biases not widened, a tied head not repeated); only
    // float parts the model keeps unquantized (norms, biases, non-quantizable layers) grow to float32.
    uintmax_t weights = 0;
    for (const auto& f : fs::directory_iterator(q))
      if (f.path().extension() == ".safetensors") weights += fs::file_size(f.path());
    const double ratio = double(mx::serialize(fn).size()) / double(weights);
    std::printf("[ file size ] %s %s: .mlxfn / safetensors = %.3f\n", dir.filename().c_str(), r.flags, ratio);
    EXPECT_LT(ratio, 1.25);
  }
  std::set<std::string> modes;
  for (const auto& e : fn.traces[0].tape) {
    if (e.kind != mx::TapeEntry::kPrimitive) continue;
    names.insert(e.name);
    // Every Linear carries the recipe's mode, except the MoE routers mlx_lm keeps at 8-bit affine.
    if (e.name == "QuantizedMatmul" || e.name == "GatherQMM") modes.insert(e.name + std::to_string(e.state.at(2).i));
  }
  EXPECT_TRUE(modes.count("QuantizedMatmul" + std::to_string(r.mode)));
  if (names.count("GatherQMM")) {
    EXPECT_TRUE(modes.count("GatherQMM" + std::to_string(r.mode)));
  }
  EXPECT_EQ(names.count("BitwiseBinary") > 0, r.packed_embedding);
  // Every recipe keeps the embedding packed; the others dequantize the gathered rows with fast::Quantize.
  EXPECT_EQ(names.count("Quantize") > 0, !r.packed_embedding);
  std::string bytes = mx::serialize(fn);
  auto prog = mlx::graph::Program::from(mx::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "q.mlxfn"), "q.mlxfn");
  mlx::graph::Tensor in{{1, int64_t(ids.size())}, mx::MxDtype{7, 4}, std::vector<double>(ids.begin(), ids.end())};
  auto out = prog.run({in});

  auto model = mlx::Model::load(q);
  auto cache = model->make_cache();
  std::vector<float> ref(ids.size() * size_t(model->info().vocab_size));
  model->forward(ids, *cache, ref.data(), true);
  const std::vector<double> got = out[0].values();
  EXPECT_EQ(got.size(), ref.size());
  double d = 0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) d = std::max(d, std::fabs(got[i] - ref[i]));
  EXPECT_LT(d, 1e-4);
  fs::remove_all(q);
  return names;
}

}  // namespace

TEST(MlxfnQuantized, AffineExportMatchesRuntimeForward) {
  int checked = 0;
  for (const fs::path& dir : mlx::test::fixture_dirs("models")) {
    if (dir.parent_path() != mlx::test::test_data_dir() / "models") continue;  // one copy of each is enough
    auto names = check(dir, {"-q --q-group-size 32", 0, true});
    // MoE experts stay packed too (mlx_lm's QuantizedSwitchLinear).
    if (dir.filename() == "mixtral" || dir.filename() == "qwen3_moe") {
      EXPECT_TRUE(names.count("GatherQMM")) << dir;
    }
    EXPECT_FALSE(names.count("GatherMM")) << dir;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// Other bit widths and the fp modes, on a dense and a MoE model.
TEST(MlxfnQuantized, BitsAndFpModesMatchRuntimeForward) {
  const Recipe recipes[] = {
      {"-q --q-bits 8 --q-group-size 64", 0, true},
      {"-q --q-bits 3 --q-group-size 32", 0, false},  // 3-bit values straddle words: embedding through Quantize
      {"-q --q-mode mxfp4", 1, false},
      {"-q --q-mode mxfp8", 2, false},
      {"-q --q-mode nvfp4", 3, false},
  };
  int checked = 0;
  for (const fs::path& dir : mlx::test::fixture_dirs("models")) {
    if (dir.parent_path() != mlx::test::test_data_dir() / "models") continue;
    if (dir.filename() != "llama" && dir.filename() != "qwen3_moe") continue;
    for (const Recipe& r : recipes) {
      auto names = check(dir, r);
      if (dir.filename() == "qwen3_moe") {
        EXPECT_TRUE(names.count("GatherQMM")) << r.flags;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}
