// Parity with transformers (float32 reference) on every fixture model: full logits, activations, RoPE
// frequencies, last logits with different chunkings, greedy decoding with the KV cache, the classic config form.
#include <gtest/gtest.h>

#include "golden.h"
#include "models/family.h"

namespace mlx::test {
namespace {

constexpr float kLogitTol = 1e-4f;

TEST(ModelGolden, FixturesExist) { EXPECT_FALSE(model_fixtures().empty()); }

TEST(ModelGolden, FullLogitsAndActivations) {
  for (const fs::path& dir : model_fixtures()) {
    SCOPED_TRACE(dir.string());
    Json g = read_json(dir / "golden.json");
    auto model = Model::load(dir);
    const auto& ps = g["prompt_short"];
    std::vector<int32_t> ids = ids_of(ps["input_ids"]);
    const int64_t V = model->info().vocab_size, H = model->info().hidden_size;
    Activations act;
    model->capture_activations(&act);
    auto cache = model->make_cache();
    std::vector<float> logits(ids.size() * size_t(V));
    model->forward(ids, *cache, logits.data(), true);
    model->capture_activations(nullptr);
    std::vector<float> ref = floats_of(ps["logits"]);
    ASSERT_EQ(ref.size(), logits.size());
    EXPECT_LE(max_abs_diff(logits.data(), ref.data(), ref.size()), kLogitTol);

    const auto& ga = ps["activations"];
    std::vector<float> embed = floats_of(ga["embed"]);
    ASSERT_EQ(embed.size(), ids.size() * size_t(H));
    EXPECT_EQ(first_violation(act.embed.data(), embed.data(), embed.size(), 1e-4f, 1e-4f), -1) << "embed";
    ASSERT_EQ(act.layers.size(), ga["layers"].size());
    for (size_t l = 0; l < act.layers.size(); ++l) {
      std::vector<float> r = floats_of(ga["layers"][l]);
      ASSERT_EQ(r.size(), act.layers[l].size());
      EXPECT_EQ(first_violation(act.layers[l].data(), r.data(), r.size(), 1e-4f, 1e-4f), -1) << "layer " << l;
    }
    std::vector<float> fn = floats_of(ga["final_norm"]);
    ASSERT_EQ(fn.size(), act.final_norm.size());
    EXPECT_EQ(first_violation(act.final_norm.data(), fn.data(), fn.size(), 1e-4f, 1e-4f), -1) << "final_norm";
  }
}

TEST(ModelGolden, RopeInvFreq) {
  for (const fs::path& dir : model_fixtures()) {
    SCOPED_TRACE(dir.string());
    Json g = read_json(dir / "golden.json");
    auto model = Model::load(dir);
    const models::ModelConfig& c = model->config();
    for (const auto& [buffer, values] : g["rope_inv_freq"].items()) {
      SCOPED_TRACE(buffer);
      // Buffers named after a layer type belong to the first layer of that type.
      int rope = 0;
      const bool sliding = buffer.find("sliding") != std::string::npos;
      const bool full = buffer.find("full") != std::string::npos;
      for (const models::LayerConfig& l : c.layers)
        if ((sliding && l.sliding_window > 0) || (full && l.sliding_window == 0)) {
          rope = l.rope;
          break;
        }
      std::vector<float> ref = floats_of(values);
      std::vector<float> got = c.ropes[size_t(rope)].inv_freq(1);
      ASSERT_EQ(got.size(), ref.size());
      for (size_t i = 0; i < ref.size(); ++i)
        EXPECT_LE(std::fabs(got[i] - ref[i]), 1e-6f * std::fabs(ref[i])) << "i=" << i;
    }
  }
}

// Feeds `ids` in chunks of `chunk` (0 = one call) and returns the last position's logits.
std::vector<float> last_logits(Model& m, const std::vector<int32_t>& ids, size_t chunk) {
  auto cache = m.make_cache();
  std::vector<float> out(size_t(m.info().vocab_size));
  if (chunk == 0) chunk = ids.size();
  for (size_t i = 0; i < ids.size(); i += chunk) {
    std::vector<int32_t> part(ids.begin() + long(i), ids.begin() + long(std::min(ids.size(), i + chunk)));
    m.forward(part, *cache, out.data());
  }
  EXPECT_EQ(cache->offset(), int64_t(ids.size()));
  return out;
}

TEST(ModelGolden, LastLogitsAnyChunking) {
  for (const fs::path& dir : model_fixtures()) {
    Json g = read_json(dir / "golden.json");
    auto model = Model::load(dir);
    for (const char* prompt : {"prompt_medium", "prompt_long"}) {
      std::vector<int32_t> ids = ids_of(g[prompt]["input_ids"]);
      std::vector<float> ref = floats_of(g[prompt]["last_logits"]);
      for (size_t chunk : {size_t(0), size_t(7), size_t(1)}) {
        SCOPED_TRACE(dir.string() + " " + prompt + " chunk " + std::to_string(chunk));
        std::vector<float> got = last_logits(*model, ids, chunk);
        ASSERT_EQ(got.size(), ref.size());
        EXPECT_LE(max_abs_diff(got.data(), ref.data(), ref.size()), kLogitTol);
      }
    }
  }
}

TEST(ModelGolden, GreedyWithCache) {
  for (const fs::path& dir : model_fixtures()) {
    SCOPED_TRACE(dir.string());
    Json g = read_json(dir / "golden.json");
    auto model = Model::load(dir);
    const auto& gr = g["greedy"];
    std::vector<int32_t> ids = ids_of(gr["input_ids"]);
    std::vector<int32_t> expected = ids_of(gr["new_ids"]);
    auto cache = model->make_cache();
    const int64_t V = model->info().vocab_size;
    std::vector<float> logits(static_cast<size_t>(V));
    model->forward(ids, *cache, logits.data());
    std::vector<int32_t> got;
    for (size_t step = 0; step < expected.size(); ++step) {
      const int32_t next = argmax(logits.data(), V);
      got.push_back(next);
      // The top-5 logits of each step (step_topk) match too.
      const auto& topk = gr["step_topk"][step];
      std::vector<int32_t> tids = ids_of(topk["ids"]);
      std::vector<float> tl = floats_of(topk["logits"]);
      for (size_t j = 0; j < tids.size(); ++j) EXPECT_LE(std::fabs(logits[size_t(tids[j])] - tl[j]), kLogitTol);
      model->forward(std::vector<int32_t>{next}, *cache, logits.data());
    }
    EXPECT_EQ(got, expected);
  }
}

TEST(ModelGolden, ClassicConfigSpelling) {
  for (const fs::path& dir : model_fixtures()) {
    SCOPED_TRACE(dir.string());
    Json g = read_json(dir / "golden.json");
    if (!g.contains("config_in")) continue;
    Json cfg = g["config_in"];
    Json orig = read_json(dir / "config.json");
    // config_in is the classic form; keep what the HF file adds that config_in may lack.
    for (const char* key : {"model_type", "num_local_experts", "num_experts", "moe_intermediate_size",
                            "norm_topk_prob", "num_experts_per_tok", "decoder_sparse_step", "mlp_only_layers"})
      if (!cfg.contains(key) && orig.contains(key)) cfg[key] = orig[key];
    TempDir tmp;
    clone_model_dir(dir, tmp.path(), cfg);
    auto model = Model::load(tmp.path());
    auto ref_model = Model::load(dir);
    std::vector<int32_t> ids = ids_of(g["prompt_short"]["input_ids"]);
    std::vector<float> got = all_logits(*model, ids);
    std::vector<float> ref = floats_of(g["prompt_short"]["logits"]);
    ASSERT_EQ(got.size(), ref.size());
    EXPECT_LE(max_abs_diff(got.data(), ref.data(), ref.size()), kLogitTol);
  }
}

}  // namespace
}  // namespace mlx::test
