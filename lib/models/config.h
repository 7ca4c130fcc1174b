// A decoder-only transformer's hyper-parameters, normalised across families (what the forward pass reads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ops/rope.h"

namespace mlx::models {

using RopeConfig = ops::RopeParams;

enum class Activation { Silu, GeluTanh };

// How MoE routing turns router logits into expert weights.
enum class MoeRouting {
  None,
  SoftmaxTopK,  // qwen3_moe: softmax over all experts, top-k, renormalise iff norm_topk_prob
  TopKSoftmax,  // mixtral: top-k of the logits, softmax over the k (same as softmax-all then renormalise)
};

struct LayerConfig {
  int64_t sliding_window = 0;  // 0 = full causal attention; W = the query sees its last W positions (itself incl.)
  int rope = 0;                // index into ModelConfig::ropes
  bool moe = false;            // sparse MoE block instead of the dense MLP
};

struct ModelConfig {
  std::string model_type;  // as written in config.json (e.g. "mistral")
  std::string family;      // the registry entry that handles it (e.g. "llama")

  int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, intermediate_size = 0;
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;

  bool qkv_bias = false, o_bias = false, mlp_bias = false;
  bool qk_norm = false;         // per-head RMSNorm of q and k before RoPE (qwen3, gemma3)
  bool norm_plus_one = false;   // gemma: RMSNorm scales by (1 + w)
  bool sandwich_norms = false;  // gemma3: post-attention, pre- and post-feed-forward norms
  bool fused_qkv = false;       // phi3 qkv_proj rows: q, k, v
  bool fused_gate_up = false;   // phi3 gate_up_proj rows: gate, up
  float embed_scale = 0.0f;     // 0 = none; gemma: sqrt(hidden)
  Activation activation = Activation::Silu;
  float attn_scale = 0.0f;      // softmax scale of q·k
  float attn_softcap = 0.0f;    // 0 = none; else tanh(s/c)*c on attention scores
  float final_softcap = 0.0f;   // 0 = none; else on the output logits

  std::vector<RopeConfig> ropes;
  std::vector<LayerConfig> layers;

  // MoE
  MoeRouting routing = MoeRouting::None;
  int64_t num_experts = 0, top_k = 0, moe_intermediate_size = 0;
  bool norm_topk_prob = false;
  std::string moe_block = "mlp";  // module name of the MoE block: "mlp" (qwen3_moe) or "block_sparse_moe" (mixtral)

  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> bos_token_id;
};

}  // namespace mlx::models
