// RoPE variants (default, linear, dynamic, llama3, yarn, longrope; full and partial rotary) exported as fast::RoPE
// with a freqs input (+ the attention scaling of yarn/longrope on the rotated dims): the replay must agree with our
// runtime's forward of the same model, which implements transformers' inverse frequencies.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "../common/fixtures.h"
#include "core/file_io.h"
#include "formats/mlxfn.h"
#include "graph/export_model.h"
#include "graph/program.h"
#include "runtime/model.h"

namespace fs = std::filesystem;
namespace mx = mlx::formats::mlxfn;
using json = nlohmann::ordered_json;

namespace {

// A copy of `src` (config + weights + tokenizer links) whose config gets `rope` as rope_parameters.
fs::path with_rope(const fs::path& src, const fs::path& dst, const json& rope, double partial) {
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().filename() != "config.json") fs::create_symlink(e.path(), dst / e.path().filename());
  json cfg = mlx::read_json(src / "config.json");
  cfg.erase("rope_scaling");
  cfg["rope_parameters"] = rope;
  if (partial != 1.0) cfg["partial_rotary_factor"] = partial;
  mlx::write_file_atomic(dst / "config.json", cfg.dump(2));
  return dst;
}

}  // namespace

TEST(MlxfnRope, VariantsMatchRuntimeForward) {
  fs::path llama;
  for (const fs::path& d : mlx::test::fixture_dirs("models"))
    if (d.filename() == "llama") llama = d;
  if (llama.empty()) GTEST_SKIP() << "no llama fixture";
  const int64_t half_full = 8, half_partial = 4;  // head_dim 16
  auto factors = [](int64_t n, double a) {
    json v = json::array();
    for (int64_t i = 0; i < n; ++i) v.push_back(a + 0.25 * double(i));
    return v;
  };
  struct Case {
    const char* name;
    json rope;
    double partial;
  };
  const Case cases[] = {
      {"default", {{"rope_type", "default"}, {"rope_theta", 10000.0}}, 1.0},
      {"linear", {{"rope_type", "linear"}, {"rope_theta", 10000.0}, {"factor", 2.0}}, 1.0},
      {"dynamic", {{"rope_type", "dynamic"}, {"rope_theta", 10000.0}, {"factor", 2.0}}, 1.0},
      {"yarn", {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}, {"original_max_position_embeddings", 32}}, 1.0},
      {"yarn partial", {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}, {"original_max_position_embeddings", 32}}, 0.5},
      {"longrope partial",
       {{"rope_type", "longrope"}, {"rope_theta", 10000.0}, {"original_max_position_embeddings", 256},
        {"short_factor", factors(half_partial, 1.0)}, {"long_factor", factors(half_partial, 2.0)}},
       0.5},
      {"longrope",
       {{"rope_type", "longrope"}, {"rope_theta", 10000.0}, {"original_max_position_embeddings", 256},
        {"short_factor", factors(half_full, 1.0)}, {"long_factor", factors(half_full, 2.0)}},
       1.0},
  };
  mlx::test::TempDir tmp;
  auto g = mlx::read_json(llama / "golden.json");
  auto ids = g["prompt_medium"]["input_ids"].get<std::vector<int32_t>>();
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path dir = with_rope(llama, tmp / ("m" + std::to_string(n++)), c.rope, c.partial);
    mx::Function fn = mlx::graph::export_model(dir, ids, {});
    std::string bytes = mx::serialize(fn);
    auto prog = mlx::graph::Program::from(mx::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "r.mlxfn"), "r.mlxfn");
    mlx::graph::Tensor in{{1, int64_t(ids.size())}, mx::MxDtype{7, 4}, std::vector<double>(ids.begin(), ids.end())};
    const std::vector<double> got = prog.run({in})[0].values();
    auto model = mlx::Model::load(dir);
    auto cache = model->make_cache();
    std::vector<float> ref(ids.size() * size_t(model->info().vocab_size));
    model->forward(ids, *cache, ref.data(), true);
    ASSERT_EQ(got.size(), ref.size());
    double d = 0;
    for (size_t i = 0; i < ref.size(); ++i) d = std::max(d, std::fabs(got[i] - ref[i]));
    EXPECT_LT(d, 1e-4);
  }
}
