// Perplexity over non-overlapping windows (mlx_lm/perplexity.py's eval_ppl, without its dataset sampling).
#include "runtime/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/interrupt.h"

namespace mlx::runtime {

int64_t perplexity_windows(int64_t num_tokens, const PerplexityOptions& opt) {
  if (opt.sequence_length < 2) return 0;
  int64_t n = num_tokens / opt.sequence_length;
  return opt.num_samples > 0 ? std::min(n, opt.num_samples) : n;
}

void token_nlls(const float* logits, int64_t vocab, std::span<const int32_t> tokens, double* out) {
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const float* row = logits + int64_t(i) * vocab;
    float mx = *std::max_element(row, row + vocab);
    double sum = 0;
    for (int64_t j = 0; j < vocab; ++j) sum += std::exp(double(row[j]) - mx);
    int32_t target = tokens[i + 1];
    out[i] = std::log(sum) + mx - double(row[target]);
  }
}

PerplexityResult evaluate_perplexity(Model& model, std::span<const int32_t> ids, const PerplexityOptions& opt,
                                     const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t L = opt.sequence_length;
  if (L < 2) fail("perplexity: sequence length {} is too short (at least 2)", L);
  const int64_t windows = perplexity_windows(int64_t(ids.size()), opt);
  if (windows == 0) fail("perplexity: {} tokens make no window of {} tokens", ids.size(), L);
  const int64_t vocab = model.info().vocab_size;
  for (int32_t id : ids.first(size_t(windows * L)))
    if (id < 0 || id >= vocab) fail("perplexity: token id {} is outside the model's vocabulary of {}", id, vocab);

  PerplexityResult r;
  r.losses_per_window = L - 1;
  std::vector<float> logits(size_t((L - 1) * vocab));
  std::vector<double> losses;
  losses.reserve(size_t(windows * (L - 1)));
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t w = 0; w < windows; ++w) {
    if (interrupted()) {
      r.interrupted = true;
      break;
    }
    auto window = ids.subspan(size_t(w * L), size_t(L));
    auto cache = model.make_cache();
    model.forward(window.first(size_t(L - 1)), *cache, logits.data(), /*all_positions=*/true);
    size_t base = losses.size();
    losses.resize(base + size_t(L - 1));
    token_nlls(logits.data(), vocab, window, losses.data() + base);
    double s = 0;
    for (size_t i = base; i < losses.size(); ++i) s += losses[i];
    r.window_mean_nll.push_back(s / double(L - 1));
    if (progress) progress(w + 1, windows);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.num_windows = int64_t(r.window_mean_nll.size());
  r.num_losses = int64_t(losses.size());
  if (r.num_losses == 0) return r;
  double sum = 0;
  for (double v : losses) sum += v;
  r.mean_nll = sum / double(r.num_losses);
  double ss = 0;
  for (double v : losses) ss += (v - r.mean_nll) * (v - r.mean_nll);
  r.std_nll = r.num_losses > 1 ? std::sqrt(ss / double(r.num_losses - 1)) : 0.0;
  r.perplexity = std::exp(r.mean_nll);
  r.perplexity_se = r.perplexity * r.std_nll / std::sqrt(double(r.num_losses));
  r.tokens_per_second = r.seconds > 0 ? double(r.num_windows * (L - 1)) / r.seconds : 0;
  return r;
}

}  // namespace mlx::runtime
