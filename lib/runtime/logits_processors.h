// Logits processors as mlx_lm applies them before normalisation: logit bias, then repetition, presence and
// frequency penalties over the last `context_size` tokens of the processor history.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <vector>

namespace mlx::runtime {

struct LogitsProcessorParams {
  std::map<int32_t, float> logit_bias;  // additive
  float repetition_penalty = 0.0f;      // 0 = off; logit<0 multiplied by p, logit>=0 divided by p (once per token)
  int repetition_context_size = 20;
  float presence_penalty = 0.0f;        // 0 = off; subtract p once per distinct token in the window
  int presence_context_size = 20;
  float frequency_penalty = 0.0f;       // 0 = off; subtract p per occurrence in the window
  int frequency_context_size = 20;

  bool active() const {
    return !logit_bias.empty() || repetition_penalty != 0.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
};

// Throws mlx::UsageError for a negative repetition penalty or a negative context size.
void validate(const LogitsProcessorParams& params);

// Applies every active processor in mlx_lm's order. `history` is what mlx_lm feeds them: the last prompt token
// followed by the tokens generated so far (earlier prompt tokens, consumed by prefill chunks, are not included).
void apply_logits_processors(const LogitsProcessorParams& params, std::span<const int32_t> history,
                             std::span<float> logits);

}  // namespace mlx::runtime
