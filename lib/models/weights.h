// A decoder's weights bound by name to views into the safetensors mmap (float or MLX-quantized; never copied
// except norms and biases, which are small and converted to float32 once).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/cpu/matmul.h"
#include "formats/weight_set.h"
#include "models/config.h"
#include "models/family.h"
#include "quant/spec.h"

namespace mlx::models {

// A Linear (or Embedding used as one): y = x·Wᵀ (+ bias).
struct Linear {
  bool quantized = false;
  cpu::DenseWeight dense{};
  cpu::QuantizedWeight q{};
  std::vector<float> bias;  // empty = no bias
  int64_t out = 0, in = 0;
  bool bound() const { return out > 0; }
  // y[m, out] = x[m, in]·Wᵀ + bias.
  void apply(const float* x, int64_t m, float* y) const;
  // Row `row` of W as float (embedding lookup).
  void gather(int64_t row, float* dst) const;
};

struct LayerWeights {
  std::vector<float> input_norm, post_attention_norm, pre_feedforward_norm, post_feedforward_norm;
  std::vector<float> q_norm, k_norm;
  Linear q, k, v, o, qkv;                // qkv: phi3's fused projection
  Linear gate, up, down, gate_up;        // dense MLP (gate_up: phi3)
  Linear router;                         // MoE
  std::vector<Linear> expert_gate, expert_up, expert_down;
};

struct DecoderWeights {
  Linear embed;
  Linear lm_head;  // == embed when tied
  bool tied = false;
  std::vector<float> final_norm;
  std::vector<LayerWeights> layers;
  DType dtype = DType::F32;                        // dtype of the float weights (or of the scales)
  std::optional<quant::QuantSpec> quantization;   // global spec from config.json, when quantized
};

// Binds every tensor the config needs. `config_json` supplies "quantization" (global spec, per-layer overrides,
// null group_size -> 64). Missing tensors, mis-shaped tensors, wrong dtypes -> mlx::Error naming the first few
// (prefixed with `where`, usually the model directory).
DecoderWeights bind_weights(const ModelConfig& config, const Json& config_json, const formats::WeightSet& weights,
                            const std::string& where);

}  // namespace mlx::models
