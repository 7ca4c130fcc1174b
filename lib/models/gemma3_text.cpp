// gemma3_text (mlx_lm gemma3_text.py, transformers Gemma3ForCausalLM): (1+w) RMSNorms, four norms per block,
// embeddings x sqrt(hidden), q/k norms, GELU-tanh, query_pre_attn_scalar, sliding/full layers with their own
// RoPE (local base without scaling / global base with rope_scaling), final logit soft-capping.
#include <cmath>

#include "core/error.h"
#include "models/config_reader.h"
#include "models/families.h"

namespace mlx::models {
namespace {

class Gemma3Text final : public Family {
 public:
  std::string_view name() const override { return "gemma3_text"; }
  ModelConfig parse_config(const Json& j, const std::string& file) const override {
    ConfigReader r(j, file);
    ModelConfig c;
    r.read_common(c, 1e6, /*default_tie=*/true);
    c.head_dim = r.integer("head_dim", 256);
    c.qk_norm = true;
    c.norm_plus_one = true;
    c.sandwich_norms = true;
    c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
    c.activation = Activation::GeluTanh;
    c.embed_scale = static_cast<float>(std::sqrt(static_cast<double>(c.hidden_size)));
    c.attn_scale = static_cast<float>(std::pow(r.number("query_pre_attn_scalar", 256.0), -0.5));
    // transformers' Gemma3 reads attn_logit_softcapping but its attention never applies it (nor does mlx_lm):
    // the golden logits are made without it. Only the type is checked; the final soft-capping is applied.
    (void)r.number("attn_logit_softcapping", 0.0);
    c.attn_softcap = 0.0f;
    c.final_softcap = static_cast<float>(r.number("final_logit_softcapping", 0.0));
    RopeConfig global = r.rope(c, "full_attention", "rope_theta", 1e6, true);
    RopeConfig local = r.rope(c, "sliding_attention", "rope_local_base_freq", 10000.0, r.has("rope_parameters"));
    c.ropes = {global, local};
    int64_t window = r.integer("sliding_window", 512);
    std::vector<std::string> types = r.layer_types(c.num_layers);
    int64_t pattern = r.has("sliding_window_pattern") ? r.integer("sliding_window_pattern")
                                                      : r.integer("_sliding_window_pattern", 6);
    for (int64_t i = 0; i < c.num_layers; ++i) {
      bool sliding = types.empty() ? ((i + 1) % pattern != 0) : types[i] == "sliding_attention";
      if (!types.empty() && !sliding && types[i] != "full_attention")
        fail("{}: layer_types[{}] is \"{}\" (supported: full_attention, sliding_attention)", file, i, types[i]);
      c.layers[i].sliding_window = sliding ? window : 0;
      c.layers[i].rope = sliding ? 1 : 0;
    }
    return c;
  }
};

}  // namespace

const Family& gemma3_text_family() {
  static const Gemma3Text f;
  return f;
}

}  // namespace mlx::models
