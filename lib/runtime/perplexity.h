// Perplexity of a model over a token stream, as mlx_lm's perplexity reports it: non-overlapping windows, each
// window's tokens 1..L-1 predicted from 0..L-2, mean NLL over every predicted token, standard error by the delta rule.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/model.h"

namespace mlx::runtime {

struct PerplexityOptions {
  int64_t sequence_length = 512;  // window length L (L-1 losses per window)
  int64_t num_samples = 256;      // first N windows; -1 = all (mlx_lm's default is 256 too)
};

struct PerplexityResult {
  int64_t num_windows = 0;
  int64_t losses_per_window = 0;       // L - 1
  int64_t num_losses = 0;              // num_windows * (L - 1)
  double mean_nll = 0, std_nll = 0;    // over all token losses; std with ddof = 1
  double perplexity = 0;               // exp(mean_nll)
  double perplexity_se = 0;            // perplexity * std / sqrt(num_losses)
  std::vector<double> window_mean_nll;  // per window, in order
  double seconds = 0, tokens_per_second = 0;
  bool interrupted = false;            // stopped by Ctrl-C: the figures cover the windows done
};

// How many whole windows `num_tokens` tokens give under `opt` (num_samples applied); 0 when fewer than one.
int64_t perplexity_windows(int64_t num_tokens, const PerplexityOptions& opt);

// The next-token NLL of each of tokens[1..n-1] given its prefix, from logits [n-1, vocab] (log-softmax in double).
void token_nlls(const float* logits, int64_t vocab, std::span<const int32_t> tokens, double* out);

// Evaluates the windows of `ids` in order (a fresh KV cache each). `progress(done, total)` is called after each
// window. Throws mlx::Error when not even one window fits, or on an id outside the model's vocabulary.
PerplexityResult evaluate_perplexity(Model& model, std::span<const int32_t> ids, const PerplexityOptions& opt,
                                     const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace mlx::runtime
