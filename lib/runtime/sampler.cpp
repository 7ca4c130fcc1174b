// Sampler: the filters of mlx_lm's sample_utils on log-probabilities, then a Gumbel-max categorical draw.
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace mlx::runtime {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}

void validate(const SamplerParams& p) {
  if (!(p.temp >= 0.0f)) usage_fail("--temp must be >= 0, got {}", p.temp);
  if (!(p.top_p >= 0.0f && p.top_p <= 1.0f)) usage_fail("--top-p must be in [0, 1], got {}", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) usage_fail("--min-p must be in [0, 1], got {}", p.min_p);
  if (p.min_tokens_to_keep < 1) usage_fail("--min-tokens-to-keep must be a positive integer, got {}", p.min_tokens_to_keep);
  if (p.top_k < 0) usage_fail("--top-k must be >= 0, got {}", p.top_k);
  if (!(p.xtc_probability >= 0.0f && p.xtc_probability <= 1.0f))
    usage_fail("--xtc-probability must be in [0, 1], got {}", p.xtc_probability);
  if (!(p.xtc_threshold >= 0.0f && p.xtc_threshold <= 0.5f))
    usage_fail("--xtc-threshold must be in [0, 0.5], got {}", p.xtc_threshold);
}

void normalize_logprobs(std::span<float> logits) {
  if (logits.empty()) return;
  float mx = *std::max_element(logits.begin(), logits.end());
  if (!std::isfinite(mx)) return;
  double sum = 0.0;
  for (float v : logits) sum += std::exp(double(v) - mx);
  float lse = float(mx + std::log(sum));
  for (float& v : logits) v -= lse;
}

int32_t argmax(std::span<const float> values) {
  int32_t best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best]) best = int32_t(i);
  return best;
}

void apply_top_p(std::span<float> logprobs, float top_p) {
  // Ascending sort; a token survives when the cumulative probability up to and including it exceeds 1 - p, i.e.
  // the smallest set of most likely tokens whose mass reaches p is kept.
  std::vector<int32_t> order(logprobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logprobs[a] < logprobs[b]; });
  float cumulative = 0.0f;
  const float limit = 1.0f - top_p;
  for (int32_t idx : order) {
    cumulative += std::exp(logprobs[idx]);
    if (!(cumulative > limit)) logprobs[idx] = kNegInf;
  }
}

void apply_min_p(std::span<float> logprobs, float min_p, int min_tokens_to_keep) {
  float top = *std::max_element(logprobs.begin(), logprobs.end());
  float threshold = top + std::log(min_p);
  std::vector<char> keep(logprobs.size(), 0);
  if (min_tokens_to_keep > 1) {
    size_t k = std::min<size_t>(size_t(min_tokens_to_keep), logprobs.size());
    std::vector<int32_t> order(logprobs.size());
    std::iota(order.begin(), order.end(), 0);
    std::nth_element(order.begin(), order.begin() + (k - 1), order.end(),
                     [&](int32_t a, int32_t b) { return logprobs[a] > logprobs[b]; });
    for (size_t i = 0; i < k; ++i) keep[order[i]] = 1;
  }
  for (size_t i = 0; i < logprobs.size(); ++i)
    if (logprobs[i] < threshold && !keep[i]) logprobs[i] = kNegInf;
}

void apply_xtc(std::span<float> logprobs, float probability, float threshold, std::span<const int32_t> special,
               double draw) {
  if (draw > probability) return;
  // probs = softmax(logprobs); remove every token more likely than the least likely one above the threshold, so
  // exactly one "top choice" above the threshold survives.
  float mx = *std::max_element(logprobs.begin(), logprobs.end());
  double sum = 0.0;
  for (float v : logprobs) sum += std::exp(double(v) - mx);
  std::vector<float> probs(logprobs.size());
  float smallest_above = std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logprobs.size(); ++i) {
    probs[i] = float(std::exp(double(logprobs[i]) - mx) / sum);
    if (probs[i] > threshold) smallest_above = std::min(smallest_above, probs[i]);
  }
  std::vector<char> protect(logprobs.size(), 0);
  for (int32_t id : special)
    if (id >= 0 && size_t(id) < logprobs.size()) protect[id] = 1;
  for (size_t i = 0; i < logprobs.size(); ++i)
    if (probs[i] > smallest_above && !protect[i]) logprobs[i] = kNegInf;
}

void apply_top_k(std::span<float> logprobs, int top_k) {
  if (top_k <= 0 || size_t(top_k) >= logprobs.size()) return;
  std::vector<int32_t> order(logprobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::nth_element(order.begin(), order.begin() + (top_k - 1), order.end(),
                   [&](int32_t a, int32_t b) { return logprobs[a] > logprobs[b]; });
  for (size_t i = size_t(top_k); i < order.size(); ++i) logprobs[order[i]] = kNegInf;
}

Sampler::Sampler(SamplerParams params, std::optional<uint64_t> seed) : params_(std::move(params)), rng_(seed) {}

int32_t Sampler::sample(std::span<const float> logprobs) {
  if (params_.temp == 0.0f) return argmax(logprobs);
  scratch_.assign(logprobs.begin(), logprobs.end());
  std::span<float> lp(scratch_);
  if (params_.top_p > 0.0f && params_.top_p < 1.0f) apply_top_p(lp, params_.top_p);
  if (params_.min_p != 0.0f) apply_min_p(lp, params_.min_p, params_.min_tokens_to_keep);
  if (params_.xtc_probability > 0.0f)
    apply_xtc(lp, params_.xtc_probability, params_.xtc_threshold, params_.xtc_special_tokens, rng_.uniform());
  if (params_.top_k > 0) apply_top_k(lp, params_.top_k);
  // Gumbel-max over logprobs / temp: a draw from softmax(logprobs / temp); masked tokens (-inf) never win.
  const double inv_temp = 1.0 / params_.temp;
  int32_t best = -1;
  double best_score = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < lp.size(); ++i) {
    if (lp[i] == kNegInf) continue;
    double score = double(lp[i]) * inv_temp + rng_.gumbel();
    if (best < 0 || score > best_score) {
      best = int32_t(i);
      best_score = score;
    }
  }
  return best < 0 ? argmax(logprobs) : best;
}

}  // namespace mlx::runtime
