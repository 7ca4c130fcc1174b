#include "ops/norm.h"

#include <cmath>

namespace mlx::ops {

void rms_norm(const float* x, int64_t n, int64_t dim, const float* weight, float eps, bool plus_one, float* out) {
  for (int64_t r = 0; r < n; ++r) {
    const float* xr = x + r * dim;
    float* o = out + r * dim;
    double ss = 0.0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    // transformers: variance in float32, then x * rsqrt(variance + eps), then the weight.
    const float var = static_cast<float>(ss / static_cast<double>(dim));
    const float inv = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var + eps)));
    for (int64_t i = 0; i < dim; ++i) {
      const float w = plus_one ? 1.0f + weight[i] : weight[i];
      o[i] = (xr[i] * inv) * w;
    }
  }
}

}  // namespace mlx::ops
