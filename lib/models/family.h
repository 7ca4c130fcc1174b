// The registry of supported architectures by config.json "model_type", and what each family knows about its
// weights without touching their data: config parsing, the sanitize plan, quantizable modules, quant predicate.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "models/config.h"
#include "quant/spec.h"

namespace mlx::models {

using Json = nlohmann::ordered_json;

// One tensor of the source checkpoint (name, dtype, shape only).
struct SourceTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

// One tensor of the sanitized (MLX-named) checkpoint: either one source renamed (sources.size() == 1) or the
// sources stacked along a new leading axis in order (MoE experts -> switch_mlp [E, out, in]).
struct PlannedTensor {
  std::string name;
  std::vector<std::string> sources;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  // True for the weight of a leaf Linear / Embedding / SwitchLinear (MLX's `to_quantized` modules). Norms and
  // biases are false. Whether a group size fits (shape.back() % group == 0) is checked by the caller.
  bool quantizable = false;
  // Module path of a quantizable weight: name without ".weight".
  std::string module() const;
};

class Family {
 public:
  virtual ~Family() = default;
  virtual std::string_view name() const = 0;

  // Reads config.json (the mlx_lm defaults of this family; both the classic rope_theta / rope_scaling keys and
  // transformers 5's rope_parameters). `file` names the config in errors. Throws mlx::Error on wrong types.
  virtual ModelConfig parse_config(const Json& config, const std::string& file) const = 0;

  // The renames / stacking that turn the source tensors into MLX names: drops rotary_emb.inv_freq, drops
  // lm_head.weight when tied, stacks MoE experts into switch_mlp.{gate,up,down}_proj.weight. Names already in
  // MLX form pass through, so sanitize is idempotent (MLX dirs can be re-quantized).
  virtual std::vector<PlannedTensor> sanitize(const ModelConfig& config, std::span<const SourceTensor> tensors) const;

  // The family's own quantization predicate (mlx_lm `quant_predicate`): a spec to use for `module` instead of the
  // global one (e.g. qwen3_moe router mlp.gate -> affine 8-bit g64), or nullopt for the global spec.
  virtual std::optional<quant::QuantSpec> quant_override(std::string_view module, const quant::QuantSpec& global) const;
};

// The family handling `model_type` (remaps as mlx_lm: mistral -> llama). Throws mlx::Error listing the supported
// types when unknown; `file` names the config in the message.
const Family& family_for(std::string_view model_type, const std::string& file = "config.json");

// model_type values accepted by family_for, sorted.
std::vector<std::string> supported_model_types();

// Convenience: family_for(config["model_type"]).parse_config(config, file).
ModelConfig parse_model_config(const Json& config, const std::string& file = "config.json");

}  // namespace mlx::models
