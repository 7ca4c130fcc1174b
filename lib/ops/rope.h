// Rotary position embeddings: the inverse-frequency variants of transformers (default, linear, dynamic, llama3,
// yarn, longrope) and the rotation itself (half or interleaved, partial rotary).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlx::ops {

// RoPE settings for one attention kind (gemma3 has one for sliding and one for full layers).
// Variants follow transformers' ROPE_INIT_FUNCTIONS: default, linear, dynamic, llama3, yarn, longrope.
struct RopeParams {
  std::string type = "default";
  double base = 10000.0;
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;   // llama3
  std::optional<double> original_max_position_embeddings; // llama3 / yarn / longrope
  double beta_fast = 32.0, beta_slow = 1.0;                // yarn
  std::optional<double> mscale, mscale_all_dim;            // yarn
  std::optional<double> attention_factor;                  // yarn / longrope explicit
  bool truncate = true;                                    // yarn
  std::vector<double> short_factor, long_factor;           // longrope
  int64_t rotary_dim = 0;                                  // rotated dims per head (partial rotary)
  int64_t max_position_embeddings = 0;
  bool traditional = false;                                // interleaved pairs instead of halves

  // Inverse frequencies (rotary_dim/2 values) for a forward pass whose largest position is seq_len-1
  // (dynamic and longrope depend on it), and the factor cos/sin are multiplied with.
  std::vector<float> inv_freq(int64_t seq_len) const;
  float attention_scaling() const;
  // True when inv_freq depends on seq_len.
  bool depends_on_length() const { return type == "dynamic" || type == "longrope"; }
};

// Rotates x in place: x is [n, heads, head_dim] (row stride head_dim, token stride heads*head_dim); token t sits at
// position positions[t]. Only the first p.rotary_dim dims of each head rotate; cos/sin are scaled by `scaling`.
void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const int32_t* positions, const RopeParams& p,
          const std::vector<float>& inv_freq, float scaling);

}  // namespace mlx::ops
