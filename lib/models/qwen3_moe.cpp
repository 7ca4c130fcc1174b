// qwen3_moe (mlx_lm qwen3_moe.py): qwen3 attention + sparse MoE on layers (i+1) % decoder_sparse_step == 0 not in
// mlp_only_layers: softmax over all experts, top-k, renormalised iff norm_topk_prob; router kept at 8 bits g64.
#include <algorithm>

#include "core/error.h"
#include "models/config_reader.h"
#include "models/families.h"

namespace mlx::models {
namespace {

class Qwen3Moe final : public Family {
 public:
  std::string_view name() const override { return "qwen3_moe"; }
  ModelConfig parse_config(const Json& j, const std::string& file) const override {
    ConfigReader r(j, file);
    ModelConfig c;
    r.read_common(c, 1e6, /*default_tie=*/false);
    c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
    c.qk_norm = true;
    c.ropes = {r.rope(c, nullptr, "rope_theta", 1e6, true)};
    c.routing = MoeRouting::SoftmaxTopK;
    c.num_experts = r.has("num_experts") ? r.integer("num_experts") : r.integer("num_local_experts", 0);
    c.top_k = r.integer("num_experts_per_tok", 2);
    c.moe_intermediate_size = r.integer("moe_intermediate_size", c.intermediate_size);
    c.norm_topk_prob = r.boolean("norm_topk_prob", false);
    int64_t step = r.integer("decoder_sparse_step", 1);
    std::vector<int64_t> mlp_only;
    if (r.has("mlp_only_layers")) {
      const Json& v = j.at("mlp_only_layers");
      if (!v.is_array()) r.type_error("mlp_only_layers", "a list of integers");
      for (const auto& e : v) {
        if (!e.is_number_integer()) r.type_error("mlp_only_layers", "a list of integers");
        mlp_only.push_back(e.get<int64_t>());
      }
    }
    if (c.num_experts > 0 && (c.top_k <= 0 || c.top_k > c.num_experts))
      fail("{}: num_experts_per_tok {} must be in 1..num_experts ({})", file, c.top_k, c.num_experts);
    for (int64_t i = 0; i < c.num_layers; ++i) {
      bool dense = std::find(mlp_only.begin(), mlp_only.end(), i) != mlp_only.end();
      c.layers[i].moe = !dense && c.num_experts > 0 && step > 0 && (i + 1) % step == 0;
    }
    if (r.boolean("use_sliding_window", false)) apply_sliding_window(r, c, false);
    return c;
  }
  std::optional<quant::QuantSpec> quant_override(std::string_view module, const quant::QuantSpec&) const override {
    if (module.ends_with("mlp.gate")) return quant::QuantSpec{quant::QuantMode::Affine, 8, 64};
    return std::nullopt;
  }
};

}  // namespace

const Family& qwen3_moe_family() {
  static const Qwen3Moe f;
  return f;
}

}  // namespace mlx::models
