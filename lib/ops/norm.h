// RMSNorm (MLX fast.rms_norm; transformers LlamaRMSNorm / Gemma3RMSNorm): x * rsqrt(mean(x^2) + eps) * w.
#pragma once

#include <cstdint>

namespace mlx::ops {

// x and out are [n, dim] (out may alias x); weight [dim] float32. plus_one: gemma's (1 + w) scaling.
void rms_norm(const float* x, int64_t n, int64_t dim, const float* weight, float eps, bool plus_one, float* out);

}  // namespace mlx::ops
