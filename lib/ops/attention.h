// Scaled-dot-product attention of new queries over cached keys/values, with GQA, causal + sliding-window +
// keep-first-tokens visibility, optional logit soft-capping and a custom scale (MLX fast.scaled_dot_product_attention).
#pragma once

#include <cstdint>
#include <span>

namespace mlx::ops {

// A run of cached entries with consecutive positions first_pos, first_pos+1, ...; rows are [kv_heads * head_dim].
struct KVSpan {
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t count = 0;
  int64_t first_pos = 0;
};

struct AttentionParams {
  int64_t heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 1.0f;
  float softcap = 0.0f;    // 0 = none; else scores = tanh(s/c)*c before the mask
  int64_t window = 0;      // 0 = none; else key j is visible from query p iff p - j < window
  int64_t keep = 0;        // rotating cache (--max-kv-size): positions < keep stay visible ...
  int64_t recent = 0;      // ... and otherwise only p - j < recent (0 = no such limit)
};

// q: [n, heads, head_dim], query t at position first_q_pos + t; out: [n, heads, head_dim].
// Key j is visible iff j <= p and the window / keep rules allow it. Parallel over (token, head).
void attention(const float* q, int64_t n, int64_t first_q_pos, std::span<const KVSpan> spans,
               const AttentionParams& p, float* out);

}  // namespace mlx::ops
