#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"

namespace mlx::ops {

namespace {

// q·k with 16 independent partial sums so the compiler can keep them in SIMD registers (a single running sum
// is a serial dependency chain it may not reorder).
inline float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t d = 0;
  for (; d + 16 <= n; d += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[d + j] * b[d + j];
  float tail = 0.0f;
  for (; d < n; ++d) tail += a[d] * b[d];
  float s = 0.0f;
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s + tail;
}

bool visible(int64_t j, int64_t pos, const AttentionParams& p) {
  if (j > pos) return false;
  if (p.window > 0 && pos - j >= p.window) return false;
  if (p.recent > 0 && j >= p.keep && pos - j >= p.recent) return false;
  return true;
}

}  // namespace

void attention(const float* q, int64_t n, int64_t first_q_pos, std::span<const KVSpan> spans,
               const AttentionParams& p, float* out) {
  if (p.heads <= 0 || p.kv_heads <= 0 || p.heads % p.kv_heads != 0)
    fail("[attention] heads {} is not a multiple of kv_heads {}", p.heads, p.kv_heads);
  const int64_t D = p.head_dim, group = p.heads / p.kv_heads, row = p.kv_heads * D;
  int64_t total = 0;
  for (const KVSpan& s : spans) total += s.count;
  parallel_for(n * p.heads, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    thread_local std::vector<float> acc;
    if (static_cast<int64_t>(scores.size()) < total) scores.resize(static_cast<size_t>(total));
    if (static_cast<int64_t>(acc.size()) < D) acc.resize(static_cast<size_t>(D));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / p.heads, h = item % p.heads, g = h / group;
      const int64_t pos = first_q_pos + t;
      const float* qv = q + (t * p.heads + h) * D;
      // Scores of the visible keys, span by span (entries keep their cache order).
      float mx = -std::numeric_limits<float>::infinity();
      int64_t idx = 0;
      for (const KVSpan& s : spans) {
        for (int64_t e = 0; e < s.count; ++e, ++idx) {
          if (!visible(s.first_pos + e, pos, p)) {
            scores[idx] = -std::numeric_limits<float>::infinity();
            continue;
          }
          const float* kv = s.k + e * row + g * D;
          float sc = dot(qv, kv, D) * p.scale;
          if (p.softcap > 0.0f) sc = std::tanh(sc / p.softcap) * p.softcap;
          scores[idx] = sc;
          mx = std::max(mx, sc);
        }
      }
      std::fill(acc.begin(), acc.begin() + D, 0.0f);
      float* o = out + (t * p.heads + h) * D;
      if (mx == -std::numeric_limits<float>::infinity()) {
        std::fill(o, o + D, 0.0f);
        continue;
      }
      double sum = 0.0;
      for (int64_t i = 0; i < total; ++i) {
        const float w = scores[i] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(scores[i] - mx);
        scores[i] = w;
        sum += w;
      }
      const float inv = static_cast<float>(1.0 / sum);
      idx = 0;
      for (const KVSpan& s : spans) {
        for (int64_t e = 0; e < s.count; ++e, ++idx) {
          const float w = scores[idx];
          if (w == 0.0f) continue;
          const float* vv = s.v + e * row + g * D;
          for (int64_t d = 0; d < D; ++d) acc[d] += w * vv[d];
        }
      }
      for (int64_t d = 0; d < D; ++d) o[d] = acc[d] * inv;
    }
  });
}

}  // namespace mlx::ops
