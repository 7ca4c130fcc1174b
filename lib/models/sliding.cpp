#include "core/error.h"
#include "models/config_reader.h"
#include "models/families.h"

namespace mlx::models {

void apply_sliding_window(const ConfigReader& r, ModelConfig& c, bool all_sliding) {
  std::optional<int64_t> window = r.opt_integer("sliding_window");
  std::vector<std::string> types = r.layer_types(c.num_layers);
  if (!types.empty()) {
    for (size_t i = 0; i < types.size(); ++i) {
      if (types[i] == "sliding_attention") {
        if (!window || *window <= 0) fail("{}: layer {} is sliding_attention but sliding_window is not set", r.file(), i);
        c.layers[i].sliding_window = *window;
      } else if (types[i] != "full_attention") {
        fail("{}: layer_types[{}] is \"{}\" (supported: full_attention, sliding_attention)", r.file(), i, types[i]);
      }
    }
    return;
  }
  if (all_sliding && window && *window > 0)
    for (LayerConfig& l : c.layers) l.sliding_window = *window;
}

}  // namespace mlx::models
