// The family registry and its metadata (what convert uses): remaps, unknown types, sanitize plans, predicates.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "models/family.h"

namespace mlx::test {
namespace {

using models::SourceTensor;

TEST(Family, RegistryAndRemap) {
  EXPECT_EQ(models::family_for("mistral").name(), "llama");
  for (const std::string& t : models::supported_model_types()) EXPECT_NO_THROW(models::family_for(t));
  EXPECT_EQ(models::supported_model_types().size(), 8u);
  try {
    models::family_for("bert", "x/config.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x/config.json: unsupported model_type \"bert\" (supported: gemma3_text, llama"),
              std::string::npos)
        << e.what();
  }
}

TEST(Family, MixtralSanitizeStacksExperts) {
  const models::Family& f = models::family_for("mixtral");
  models::ModelConfig c;
  std::vector<SourceTensor> src;
  for (int e = 1; e >= 0; --e)
    for (const char* w : {"w1", "w2", "w3"})
      src.push_back({"model.layers.0.block_sparse_moe.experts." + std::to_string(e) + "." + w + ".weight", DType::BF16,
                     std::string(w) == "w2" ? std::vector<int64_t>{8, 16} : std::vector<int64_t>{16, 8}});
  src.push_back({"model.layers.0.block_sparse_moe.gate.weight", DType::BF16, {2, 8}});
  src.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", DType::F32, {4}});
  src.push_back({"model.norm.weight", DType::BF16, {8}});
  auto plan = f.sanitize(c, src);
  ASSERT_EQ(plan.size(), 5u);
  std::map<std::string, models::PlannedTensor> by;
  for (auto& p : plan) by[p.name] = p;
  const auto& gate = by.at("model.layers.0.block_sparse_moe.switch_mlp.gate_proj.weight");
  EXPECT_EQ(gate.shape, (std::vector<int64_t>{2, 16, 8}));
  EXPECT_EQ(gate.sources, (std::vector<std::string>{"model.layers.0.block_sparse_moe.experts.0.w1.weight",
                                                     "model.layers.0.block_sparse_moe.experts.1.w1.weight"}));
  EXPECT_TRUE(gate.quantizable);
  EXPECT_EQ(by.at("model.layers.0.block_sparse_moe.switch_mlp.down_proj.weight").shape, (std::vector<int64_t>{2, 8, 16}));
  EXPECT_TRUE(by.count("model.layers.0.block_sparse_moe.switch_mlp.up_proj.weight"));
  EXPECT_FALSE(by.at("model.norm.weight").quantizable);
  EXPECT_TRUE(by.at("model.layers.0.block_sparse_moe.gate.weight").quantizable);
  auto o = f.quant_override("model.layers.0.block_sparse_moe.gate", {});
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->bits, 8);
}

TEST(Family, TiedDropsLmHeadAndQwen3MoeRouterOverride) {
  const models::Family& f = models::family_for("qwen3_moe");
  models::ModelConfig c;
  c.tie_word_embeddings = true;
  std::vector<SourceTensor> src = {{"lm_head.weight", DType::F32, {10, 4}},
                                   {"model.embed_tokens.weight", DType::F32, {10, 4}}};
  auto plan = f.sanitize(c, src);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].name, "model.embed_tokens.weight");
  EXPECT_EQ(plan[0].module(), "model.embed_tokens");
  auto o = f.quant_override("model.layers.3.mlp.gate", {quant::QuantMode::Affine, 4, 32});
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(*o, (quant::QuantSpec{quant::QuantMode::Affine, 8, 64}));
  EXPECT_FALSE(f.quant_override("model.layers.3.mlp.gate_proj", {}).has_value());
  EXPECT_FALSE(models::family_for("llama").quant_override("model.layers.3.mlp.gate", {}).has_value());
}

TEST(Family, RopeParametersAndClassicAgree) {
  models::Json hf = {{"model_type", "llama"}, {"hidden_size", 64}, {"num_hidden_layers", 1},
                     {"num_attention_heads", 4}, {"vocab_size", 8}, {"max_position_embeddings", 512},
                     {"rope_parameters", {{"rope_type", "yarn"}, {"factor", 4.0}, {"rope_theta", 10000.0},
                                          {"original_max_position_embeddings", 128}}}};
  models::Json classic = hf;
  classic.erase("rope_parameters");
  classic["rope_theta"] = 10000.0;
  classic["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 128}};
  auto a = models::parse_model_config(hf), b = models::parse_model_config(classic);
  EXPECT_EQ(a.ropes[0].inv_freq(1), b.ropes[0].inv_freq(1));
  EXPECT_EQ(a.ropes[0].type, "yarn");
  EXPECT_FLOAT_EQ(a.ropes[0].attention_scaling(), float(0.1 * std::log(4.0) + 1.0));
  EXPECT_EQ(a.tie_word_embeddings, true);  // mlx_lm's llama default
  EXPECT_EQ(a.head_dim, 16);
}

}  // namespace
}  // namespace mlx::test
