// mixtral (mlx_lm mixtral.py): llama attention + sparse MoE: top-k of the router logits, softmax over the k,
// experts w1 (gate) / w3 (up) / w2 (down) stacked into block_sparse_moe.switch_mlp.
#include "core/error.h"
#include "models/config_reader.h"
#include "models/families.h"

namespace mlx::models {
namespace {

class Mixtral final : public Family {
 public:
  std::string_view name() const override { return "mixtral"; }
  ModelConfig parse_config(const Json& j, const std::string& file) const override {
    ConfigReader r(j, file);
    ModelConfig c;
    r.read_common(c, 1e6, /*default_tie=*/false);
    c.ropes = {r.rope(c, nullptr, "rope_theta", 1e6, true)};
    c.routing = MoeRouting::TopKSoftmax;
    c.moe_block = "block_sparse_moe";
    c.num_experts = r.integer("num_local_experts");
    c.top_k = r.integer("num_experts_per_tok", 2);
    c.moe_intermediate_size = c.intermediate_size;
    if (c.num_experts <= 0 || c.top_k <= 0 || c.top_k > c.num_experts)
      fail("{}: num_experts_per_tok {} must be in 1..num_local_experts ({})", file, c.top_k, c.num_experts);
    for (LayerConfig& l : c.layers) l.moe = true;
    apply_sliding_window(r, c, /*all_sliding=*/true);
    return c;
  }
  // mlx_lm keeps MoE routers at 8 bits.
  std::optional<quant::QuantSpec> quant_override(std::string_view module, const quant::QuantSpec&) const override {
    if (module.ends_with("block_sparse_moe.gate")) return quant::QuantSpec{quant::QuantMode::Affine, 8, 64};
    return std::nullopt;
  }
};

}  // namespace

const Family& mixtral_family() {
  static const Mixtral f;
  return f;
}

}  // namespace mlx::models
