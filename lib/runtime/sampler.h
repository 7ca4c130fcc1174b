// Token sampling in mlx_lm's order: top-p -> min-p -> XTC -> top-k on normalised log-probabilities, then a
// categorical draw at temperature `temp` (temperature applied last); temp 0 is argmax.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/rng.h"

namespace mlx::runtime {

struct SamplerParams {
  float temp = 0.0f;
  float top_p = 1.0f;             // filter active when 0 < top_p < 1
  float min_p = 0.0f;             // active when != 0
  int min_tokens_to_keep = 1;     // min-p never drops the top `min_tokens_to_keep`
  int top_k = 0;                  // active when > 0 (and < vocab)
  float xtc_probability = 0.0f;   // active when > 0
  float xtc_threshold = 0.1f;     // in [0, 0.5]
  std::vector<int32_t> xtc_special_tokens;  // never removed by XTC ("\n" and the EOS ids)
};

// Throws mlx::UsageError when a parameter is outside the range mlx_lm accepts (names the flag).
void validate(const SamplerParams& params);

// In place: logits -> logits - logsumexp(logits) (what the sampler and --logprobs see).
void normalize_logprobs(std::span<float> logits);

// The filters, each on log-probabilities, masking removed entries to -inf. Exposed for tests.
void apply_top_p(std::span<float> logprobs, float top_p);
void apply_min_p(std::span<float> logprobs, float min_p, int min_tokens_to_keep);
// `draw` is the uniform number deciding whether XTC fires this step (fires when draw <= probability).
void apply_xtc(std::span<float> logprobs, float probability, float threshold, std::span<const int32_t> special,
               double draw);
void apply_top_k(std::span<float> logprobs, int top_k);

// Index of the largest value (the first on ties, as argmax does).
int32_t argmax(std::span<const float> values);

class Sampler {
 public:
  Sampler(SamplerParams params, std::optional<uint64_t> seed);

  // Picks the next token from normalised log-probabilities. The span is used as scratch (filters write into a copy).
  int32_t sample(std::span<const float> logprobs);

  const SamplerParams& params() const { return params_; }
  Rng& rng() { return rng_; }

 private:
  SamplerParams params_;
  Rng rng_;
  std::vector<float> scratch_;
};

}  // namespace mlx::runtime
