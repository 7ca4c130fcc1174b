// Builds the MLX tape of a decoder's forward pass (input_ids int32 [1,T] -> logits f32 [1,T,V]) from a model
// directory, with the weights inline as constants: float weights as float32 (the activations' dtype), quantized ones
// packed as stored (uint32 words, scales/biases in their stored dtype), each weight slice once (a tied lm_head is
// the embedding's constant). Shapeless in T: no primitive bakes the length.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "formats/mlxfn.h"

namespace mlx::graph {

struct ExportOptions {
  bool shapeless = true;
  bool gpu_stream = true;  // fast:: primitives on a GPU stream (what MLX runs on Apple silicon / CUDA)
  // fast::ScaledDotProductAttention for every head dim; by default only where MLX's Metal routing records it (64
  // and 128 when shapeless, the dims both fused kernels take; at the sample length otherwise), elsewhere the
  // basic-op attention MLX itself records.
  bool fused_attention_any_head_dim = false;
};

// Traces the forward pass at `sample_ids` and returns the function (errors name the directory for unsupported
// families or features).
formats::mlxfn::Function export_model(const std::filesystem::path& dir, const std::vector<int32_t>& sample_ids,
                                      const ExportOptions& opts);

}  // namespace mlx::graph
