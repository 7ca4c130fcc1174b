// qwen2 (mlx_lm qwen2.py): llama with q/k/v projection biases; rope_theta 1e6 by default; tied by default.
#include "models/config_reader.h"
#include "models/families.h"

namespace mlx::models {
namespace {

class Qwen2 final : public Family {
 public:
  std::string_view name() const override { return "qwen2"; }
  ModelConfig parse_config(const Json& j, const std::string& file) const override {
    ConfigReader r(j, file);
    ModelConfig c;
    r.read_common(c, 1e6, /*default_tie=*/true);
    // head_dim: transformers reads the key when present (mlx_lm always uses hidden/heads); read_common does so.
    c.qkv_bias = true;
    c.ropes = {r.rope(c, nullptr, "rope_theta", 1e6, true)};
    if (r.boolean("use_sliding_window", false)) apply_sliding_window(r, c, false);
    return c;
  }
};

}  // namespace

const Family& qwen2_family() {
  static const Qwen2 f;
  return f;
}

}  // namespace mlx::models
