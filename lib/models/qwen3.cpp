// qwen3 (mlx_lm qwen3.py): llama with per-head q_norm / k_norm RMSNorm before RoPE, explicit head_dim, no biases.
#include "core/error.h"
#include "models/config_reader.h"
#include "models/families.h"

namespace mlx::models {
namespace {

class Qwen3 final : public Family {
 public:
  std::string_view name() const override { return "qwen3"; }
  ModelConfig parse_config(const Json& j, const std::string& file) const override {
    ConfigReader r(j, file);
    ModelConfig c;
    if (!r.has("tie_word_embeddings")) fail("{}: missing required key \"tie_word_embeddings\"", file);
    r.read_common(c, 1e6, false);
    c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
    c.qk_norm = true;
    c.ropes = {r.rope(c, nullptr, "rope_theta", 1e6, true)};
    if (r.boolean("use_sliding_window", false)) apply_sliding_window(r, c, false);
    return c;
  }
};

}  // namespace

const Family& qwen3_family() {
  static const Qwen3 f;
  return f;
}

}  // namespace mlx::models
