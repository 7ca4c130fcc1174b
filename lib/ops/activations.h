// Gated activations of the MLP (silu(gate)*up, gelu_tanh(gate)*up), soft-capping and softmax.
#pragma once

#include <cstdint>

namespace mlx::ops {

// out[i] = silu(gate[i]) * up[i]; out may alias gate.
void silu_mul(const float* gate, const float* up, int64_t n, float* out);
// out[i] = gelu_tanh(gate[i]) * up[i] (transformers gelu_pytorch_tanh); out may alias gate.
void gelu_tanh_mul(const float* gate, const float* up, int64_t n, float* out);
// x = tanh(x / cap) * cap, in place (gemma logit soft-capping).
void softcap(float* x, int64_t n, float cap);
// Numerically stable softmax of x[n] in place.
void softmax(float* x, int64_t n);

}  // namespace mlx::ops
