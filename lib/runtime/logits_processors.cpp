// Logits processors (mlx_lm sample_utils semantics, including how duplicate tokens in the window count).
#include "runtime/logits_processors.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace mlx::runtime {

void validate(const LogitsProcessorParams& p) {
  if (p.repetition_penalty < 0.0f) usage_fail("--repetition-penalty must be non-negative, got {}", p.repetition_penalty);
  if (p.repetition_context_size < 0) usage_fail("--repetition-context-size must be >= 0, got {}", p.repetition_context_size);
  if (p.presence_context_size < 0) usage_fail("--presence-context-size must be >= 0, got {}", p.presence_context_size);
  if (p.frequency_context_size < 0) usage_fail("--frequency-context-size must be >= 0, got {}", p.frequency_context_size);
}

namespace {
// tokens[-context_size:] in Python terms (context 0 means the whole history, as a -0 slice does).
std::span<const int32_t> window(std::span<const int32_t> history, int context_size) {
  if (context_size <= 0 || size_t(context_size) >= history.size()) return history;
  return history.subspan(history.size() - size_t(context_size));
}

bool in_vocab(int32_t id, size_t vocab) { return id >= 0 && size_t(id) < vocab; }
}  // namespace

void apply_logits_processors(const LogitsProcessorParams& p, std::span<const int32_t> history,
                             std::span<float> logits) {
  for (const auto& [id, bias] : p.logit_bias)
    if (in_vocab(id, logits.size())) logits[id] += bias;
  if (history.empty()) return;
  if (p.repetition_penalty != 0.0f) {
    // A scatter assignment: a token repeated in the window is still penalised once.
    auto w = window(history, p.repetition_context_size);
    std::set<int32_t> distinct(w.begin(), w.end());
    for (int32_t id : distinct) {
      if (!in_vocab(id, logits.size())) continue;
      float& v = logits[id];
      v = v < 0.0f ? v * p.repetition_penalty : v / p.repetition_penalty;
    }
  }
  if (p.presence_penalty != 0.0f) {
    auto w = window(history, p.presence_context_size);
    std::set<int32_t> distinct(w.begin(), w.end());
    for (int32_t id : distinct)
      if (in_vocab(id, logits.size())) logits[id] -= p.presence_penalty;
  }
  if (p.frequency_penalty != 0.0f) {
    // A scatter add: every occurrence subtracts once more.
    for (int32_t id : window(history, p.frequency_context_size))
      if (in_vocab(id, logits.size())) logits[id] -= p.frequency_penalty;
  }
}

}  // namespace mlx::runtime
