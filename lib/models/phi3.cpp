// phi3 (mlx_lm phi3.py, transformers Phi3ForCausalLM): fused qkv_proj [q; k; v] and gate_up_proj [gate; up],
// partial rotary, longrope (short factors up to original_max_position_embeddings, long beyond, as transformers).
#include "models/config_reader.h"
#include "models/families.h"

namespace mlx::models {
namespace {

class Phi3 final : public Family {
 public:
  std::string_view name() const override { return "phi3"; }
  ModelConfig parse_config(const Json& j, const std::string& file) const override {
    ConfigReader r(j, file);
    ModelConfig c;
    r.read_common(c, 10000.0, /*default_tie=*/false);
    c.fused_qkv = true;
    c.fused_gate_up = true;
    c.ropes = {r.rope(c, nullptr, "rope_theta", 10000.0, true)};
    apply_sliding_window(r, c, /*all_sliding=*/true);
    return c;
  }
};

}  // namespace

const Family& phi3_family() {
  static const Phi3 f;
  return f;
}

}  // namespace mlx::models
