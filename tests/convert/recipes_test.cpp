// Quantization decisions: mlx_lm's mixed recipe rule (worked example of mlx-reference.md §b for n = 32),
// the global-group divisibility rule, the family predicate, and --layer overrides.
#include <gtest/gtest.h>

#include <set>

#include "convert/recipes.h"
#include "core/error.h"

using namespace mlx;
using namespace mlx::convert;

namespace {
std::vector<std::string> llama_modules(int n) {
  std::vector<std::string> m = {"model.embed_tokens"};
  for (int i = 0; i < n; ++i)
    for (const char* p : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj", "mlp.down_proj", "mlp.up_proj"})
      m.push_back("model.layers." + std::to_string(i) + "." + p);
  m.push_back("lm_head");
  return m;
}
}  // namespace

TEST(Recipes, Mixed36MatchesTheReferenceExampleFor32Layers) {
  QuantPolicy pol;
  pol.global = {quant::QuantMode::Affine, 4, 64};
  pol.recipe = Recipe::Mixed_3_6;
  QuantPlanner planner(pol, nullptr, llama_modules(32), 32);
  const std::set<int> high = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};  // mlx-reference.md §b
  for (int i = 0; i < 32; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".";
    const int want = high.count(i) ? 6 : 3;
    EXPECT_EQ(planner.decide(l + "self_attn.v_proj", 4096).spec.bits, want) << i;
    EXPECT_EQ(planner.decide(l + "mlp.down_proj", 4096).spec.bits, want) << i;
    EXPECT_EQ(planner.decide(l + "self_attn.q_proj", 4096).spec.bits, 3) << i;
  }
  EXPECT_EQ(planner.decide("lm_head", 4096).spec.bits, 6);
  EXPECT_EQ(planner.decide("model.embed_tokens", 4096).spec.bits, 3);
  auto d = planner.decide("model.layers.0.mlp.down_proj", 4096);
  ASSERT_TRUE(d.config_entry);
  EXPECT_EQ(d.config_entry->dump(), R"({"group_size":64,"bits":6,"mode":"affine"})");
}

TEST(Recipes, HighAndLowBitsPerRecipe) {
  const std::pair<Recipe, std::pair<int, int>> cases[] = {{Recipe::Mixed_2_6, {2, 6}},
                                                          {Recipe::Mixed_3_4, {3, 4}},
                                                          {Recipe::Mixed_3_6, {3, 6}},
                                                          {Recipe::Mixed_4_6, {4, 6}}};
  for (auto [r, bits] : cases) {
    QuantPolicy pol;
    pol.recipe = r;
    QuantPlanner planner(pol, nullptr, llama_modules(8), 8);
    EXPECT_EQ(planner.decide("model.layers.3.self_attn.q_proj", 64).spec.bits, bits.first);
    EXPECT_EQ(planner.decide("lm_head", 64).spec.bits, bits.second);
  }
}

TEST(Recipes, GroupMustDivideLastDimElseFloat) {
  QuantPolicy pol;
  pol.global = {quant::QuantMode::Affine, 4, 128};
  QuantPlanner planner(pol, nullptr, {"a"}, 1);
  EXPECT_FALSE(planner.decide("a", 64).quantize);
  EXPECT_TRUE(planner.decide("a", 256).quantize);
  EXPECT_FALSE(planner.decide("a", 256).config_entry);
}

TEST(Recipes, LayerOverrides) {
  auto o = parse_layer_override("model.layers.*.mlp.down_proj=8:32");
  EXPECT_EQ(o.bits, 8);
  EXPECT_EQ(o.group_size.value(), 32);
  EXPECT_THROW(parse_layer_override("nobits"), UsageError);
  EXPECT_THROW(parse_layer_override("x=abc"), UsageError);
  QuantPolicy pol;
  pol.overrides = {o};
  QuantPlanner planner(pol, nullptr, {}, 2);
  auto d = planner.decide("model.layers.1.mlp.down_proj", 128);
  EXPECT_TRUE(d.quantize);
  EXPECT_EQ(d.spec.bits, 8);
  EXPECT_EQ(d.spec.group_size, 32);
  EXPECT_EQ(planner.decide("model.layers.1.mlp.up_proj", 128).spec.bits, 4);
}
