// MoE routing: from router logits to the top-k experts and their weights.
#pragma once

#include <cstdint>

namespace mlx::ops {

// logits[num_experts] of one token -> ids[k] (best first) and weights[k]:
// softmax over all experts, take the k largest, renormalise over them iff `renormalize`
// (qwen3_moe norm_topk_prob; mixtral always, which equals a softmax over the k selected logits).
void route_topk(const float* logits, int64_t num_experts, int64_t k, bool renormalize, int32_t* ids, float* weights);

}  // namespace mlx::ops
