// A loaded decoder model: config + weights mapped zero-copy from safetensors, and its forward pass over a KV cache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "models/config.h"
#include "models/weights.h"
#include "quant/spec.h"
#include "runtime/kv_cache.h"

namespace mlx {

namespace fs = std::filesystem;

struct ModelInfo {
  fs::path path;
  std::string model_type;
  int64_t vocab_size = 0, max_position_embeddings = 0, hidden_size = 0, num_layers = 0;
  std::vector<int32_t> eos_token_ids;  // config.json eos_token_id (int or list), generation_config.json wins
  std::optional<int32_t> bos_token_id;
  DType dtype = DType::F32;            // float weights' dtype (scales' dtype when quantized)
  std::optional<quant::QuantSpec> quantization;
};

// What forward() can record for tests: the embedding output, each layer's residual stream and the final norm,
// each [tokens, hidden].
struct Activations {
  std::vector<float> embed;
  std::vector<std::vector<float>> layers;
  std::vector<float> final_norm;
};

class Model {
 public:
  // An HF directory (f32/bf16/f16 safetensors) or an MLX directory (quantized per config "quantization").
  // Errors (mlx::Error): unknown model_type, wrong-typed config keys, missing or mis-shaped tensors.
  static std::unique_ptr<Model> load(const fs::path& dir);

  const ModelInfo& info() const { return info_; }
  const models::ModelConfig& config() const { return config_; }

  // A cache for this model; max_kv_size > 0 makes every layer a rotating cache (keep 4, mlx_lm semantics).
  std::unique_ptr<KVCache> make_cache(int max_kv_size = 0) const;

  // Feeds `tokens` at positions cache.offset()... and writes logits: [tokens.size(), vocab] when all_positions,
  // else [vocab] for the last token. Throws mlx::Error on an empty input or an id outside [0, vocab).
  void forward(std::span<const int32_t> tokens, KVCache& cache, float* logits, bool all_positions = false);

  // Records activations of the following forward calls into *a (nullptr stops).
  void capture_activations(Activations* a) { capture_ = a; }

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model();

 private:
  Model() = default;
  void attention_block(int layer, int64_t n, KVCache& cache);
  void mlp_block(int layer, int64_t n);
  void moe_block(int layer, int64_t n);
  void reserve(int64_t n);

  ModelInfo info_;
  models::ModelConfig config_;
  std::unique_ptr<formats::WeightSet> weights_file_;
  models::DecoderWeights w_;
  std::vector<std::vector<float>> inv_freq_;  // per rope, for length-independent variants
  std::vector<float> rope_scaling_;
  Activations* capture_ = nullptr;

  // Scratch, grown on demand and reused (no per-token allocations).
  int64_t cap_ = 0;
  std::vector<float> x_, h_, q_, k_, v_, qkv_, attn_, tmp_, gate_, up_, router_, moe_x_, moe_y_;
  std::vector<int32_t> positions_, moe_ids_, moe_tokens_;
  std::vector<float> moe_w_, moe_tw_;
};

}  // namespace mlx
