#include "ops/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace mlx::ops {

void route_topk(const float* logits, int64_t num_experts, int64_t k, bool renormalize, int32_t* ids, float* weights) {
  thread_local std::vector<float> probs;
  thread_local std::vector<int32_t> order;
  probs.assign(logits, logits + num_experts);
  const float mx = *std::max_element(probs.begin(), probs.end());
  double sum = 0.0;
  for (float& v : probs) {
    v = std::exp(v - mx);
    sum += v;
  }
  for (float& v : probs) v = static_cast<float>(v / sum);
  order.resize(static_cast<size_t>(num_experts));
  std::iota(order.begin(), order.end(), 0);
  // Stable: among equal probabilities the lower expert id wins, as torch.topk does in practice.
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return probs[a] > probs[b]; });
  float total = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    ids[i] = order[i];
    weights[i] = probs[order[i]];
    total += weights[i];
  }
  if (renormalize)
    for (int64_t i = 0; i < k; ++i) weights[i] /= total;
}

}  // namespace mlx::ops
