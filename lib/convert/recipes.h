// Which module is quantized with which spec: mlx_lm's rules (group must divide the last dim, the family's own
// predicate, the mixed_* recipes) plus our per-layer overrides (`--layer 'GLOB=BITS[:GROUP]'`).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/family.h"
#include "quant/spec.h"

namespace mlx::convert {

enum class Recipe { None, Mixed_2_6, Mixed_3_4, Mixed_3_6, Mixed_4_6 };
std::optional<Recipe> parse_recipe(std::string_view name);  // "mixed_2_6", ...
const char* recipe_name(Recipe r);

// `--layer 'GLOB=BITS[:GROUP]'`: modules whose path matches GLOB (fnmatch: * ? [..]) use BITS (and GROUP).
struct LayerOverride {
  std::string glob;
  int bits = 4;
  std::optional<int> group_size;
};
// Parses one --layer value; throws UsageError on a malformed value.
LayerOverride parse_layer_override(const std::string& text);

// The decision for one quantizable module.
struct QuantDecision {
  bool quantize = false;
  quant::QuantSpec spec;
  // The per-layer entry to put in config.json "quantization" (nullopt = the module follows the global spec).
  std::optional<nlohmann::ordered_json> config_entry;
  std::string why_float;  // when !quantize: e.g. "last dim 100 not divisible by group 64"
};

struct QuantPolicy {
  quant::QuantSpec global;
  bool group_size_given = true;  // false: recipes write 64 where mlx_lm would write null
  Recipe recipe = Recipe::None;
  std::vector<LayerOverride> overrides;
};

class QuantPlanner {
 public:
  // `modules` = the paths of every quantizable module in parameter order (needed by recipes to find the layer
  // index position from the first *down_proj* path); `num_layers` = len(model.layers).
  QuantPlanner(QuantPolicy policy, const models::Family* family, std::vector<std::string> modules, int64_t num_layers);

  // `last_dim` = weight.shape[-1] of the float weight.
  QuantDecision decide(const std::string& module, int64_t last_dim) const;

  // config.json "quantization" head: {"group_size", "bits", "mode"}.
  nlohmann::ordered_json global_entry() const;
  const QuantPolicy& policy() const { return policy_; }

 private:
  std::optional<quant::QuantSpec> recipe_spec(const std::string& module) const;

  QuantPolicy policy_;
  const models::Family* family_;
  std::vector<std::string> modules_;
  int64_t num_layers_;
  size_t layer_position_ = size_t(-1);
};

// "model.layers.0.mlp" matches "model.layers.*.mlp" (fnmatch without FNM_PATHNAME: * crosses dots).
bool glob_match(std::string_view glob, std::string_view text);

}  // namespace mlx::convert
