// llama 1/2/3/3.1/3.2 and mistral (mlx_lm llama.py): GQA attention with optional biases, SiLU MLP, RoPE incl.
// llama3 scaling. transformers honours mistral's sliding_window, and so do we.
#include "models/config_reader.h"
#include "models/families.h"

namespace mlx::models {
namespace {

class Llama final : public Family {
 public:
  std::string_view name() const override { return "llama"; }
  ModelConfig parse_config(const Json& j, const std::string& file) const override {
    ConfigReader r(j, file);
    ModelConfig c;
    r.read_common(c, 10000.0, /*default_tie=*/true);
    c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
    c.mlp_bias = r.boolean("mlp_bias", false);
    c.ropes = {r.rope(c, nullptr, "rope_theta", 10000.0, true)};
    apply_sliding_window(r, c, /*all_sliding=*/r.string("model_type", "") == "mistral");
    return c;
  }
};

}  // namespace

const Family& llama_family() {
  static const Llama f;
  return f;
}

}  // namespace mlx::models
