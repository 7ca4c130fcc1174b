#include "ops/rope.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace mlx::ops {

namespace {

// transformers computes base ** (arange(0, dim, 2) / dim) in float32; we do it in double and round once.
std::vector<double> default_inv_freq(double base, int64_t dim) {
  std::vector<double> out(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i)
    out[i] = 1.0 / std::pow(base, static_cast<double>(static_cast<float>(2 * i) / static_cast<float>(dim)));
  return out;
}

double yarn_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

}  // namespace

std::vector<float> RopeParams::inv_freq(int64_t seq_len) const {
  const int64_t dim = rotary_dim;
  std::vector<double> f;
  if (type == "default") {
    f = default_inv_freq(base, dim);
  } else if (type == "linear") {
    f = default_inv_freq(base, dim);
    for (double& v : f) v /= factor;
  } else if (type == "dynamic") {
    // NTK-aware: the base grows once the sequence exceeds max_position_embeddings (transformers recomputes it
    // per forward from the longest position; shorter sequences use the original frequencies).
    double b = base;
    const double maxpos = static_cast<double>(max_position_embeddings);
    if (maxpos > 0 && static_cast<double>(seq_len) > maxpos) {
      double ratio = factor * static_cast<double>(seq_len) / maxpos - (factor - 1.0);
      b = base * std::pow(ratio, static_cast<double>(dim) / static_cast<double>(dim - 2));
    }
    f = default_inv_freq(b, dim);
  } else if (type == "llama3") {
    f = default_inv_freq(base, dim);
    const double old_len = original_max_position_embeddings.value_or(8192.0);
    const double low_wavelen = old_len / low_freq_factor, high_wavelen = old_len / high_freq_factor;
    for (double& v : f) {
      const double wavelen = 2.0 * M_PI / v;
      double scaled = wavelen > low_wavelen ? v / factor : v;
      if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
        const double smooth = (old_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
        scaled = (1.0 - smooth) * scaled / factor + smooth * scaled;
      }
      v = scaled;
    }
  } else if (type == "yarn") {
    const double orig = original_max_position_embeddings.value_or(static_cast<double>(max_position_embeddings));
    auto correction_dim = [&](double n) {
      return static_cast<double>(dim) * std::log(orig / (n * 2.0 * M_PI)) / (2.0 * std::log(base));
    };
    double low = correction_dim(beta_fast), high = correction_dim(beta_slow);
    if (truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high) high += 0.001;
    std::vector<double> extra = default_inv_freq(base, dim);
    f.resize(extra.size());
    for (size_t i = 0; i < extra.size(); ++i) {
      const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      const double extrapolation = 1.0 - ramp;
      const double inter = extra[i] / factor;
      f[i] = inter * (1.0 - extrapolation) + extra[i] * extrapolation;
    }
  } else if (type == "longrope") {
    const double orig = original_max_position_embeddings.value_or(static_cast<double>(max_position_embeddings));
    const std::vector<double>& ext = static_cast<double>(seq_len) > orig ? long_factor : short_factor;
    f = default_inv_freq(base, dim);
    for (size_t i = 0; i < f.size(); ++i) f[i] = f[i] / ext[i];
  } else {
    fail("[rope] unsupported rope type \"{}\"", type);
  }
  std::vector<float> out(f.size());
  for (size_t i = 0; i < f.size(); ++i) out[i] = static_cast<float>(f[i]);
  return out;
}

float RopeParams::attention_scaling() const {
  if (type == "yarn") {
    if (attention_factor) return static_cast<float>(*attention_factor);
    if (mscale && mscale_all_dim)
      return static_cast<float>(yarn_mscale(factor, *mscale) / yarn_mscale(factor, *mscale_all_dim));
    return static_cast<float>(yarn_mscale(factor, 1.0));
  }
  if (type == "longrope") {
    if (attention_factor) return static_cast<float>(*attention_factor);
    double f = factor;
    if (original_max_position_embeddings)
      f = static_cast<double>(max_position_embeddings) / *original_max_position_embeddings;
    if (f <= 1.0) return 1.0f;
    return static_cast<float>(std::sqrt(1.0 + std::log(f) / std::log(*original_max_position_embeddings)));
  }
  return 1.0f;
}

void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const int32_t* positions, const RopeParams& p,
          const std::vector<float>& inv_freq, float scaling) {
  const int64_t half = p.rotary_dim / 2;
  if (static_cast<int64_t>(inv_freq.size()) != half || p.rotary_dim > head_dim)
    fail("[rope] {} frequencies for rotary_dim {} and head_dim {}", inv_freq.size(), p.rotary_dim, head_dim);
  thread_local std::vector<float> cs;  // reused: no allocation per decoded token
  cs.resize(static_cast<size_t>(2 * half));
  for (int64_t t = 0; t < n; ++t) {
    // As transformers: angle = float32(position * inv_freq), cos/sin in float32, times the attention scaling.
    const float pos = static_cast<float>(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = pos * inv_freq[i];
      cs[i] = static_cast<float>(std::cos(static_cast<double>(angle))) * scaling;
      cs[half + i] = static_cast<float>(std::sin(static_cast<double>(angle))) * scaling;
    }
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + (t * heads + h) * head_dim;
      if (p.traditional) {
        for (int64_t i = 0; i < half; ++i) {
          const float a = v[2 * i], b = v[2 * i + 1];
          v[2 * i] = a * cs[i] - b * cs[half + i];
          v[2 * i + 1] = b * cs[i] + a * cs[half + i];
        }
      } else {
        for (int64_t i = 0; i < half; ++i) {
          const float a = v[i], b = v[i + half];
          v[i] = a * cs[i] - b * cs[half + i];
          v[i + half] = b * cs[i] + a * cs[half + i];
        }
      }
    }
  }
}

}  // namespace mlx::ops
