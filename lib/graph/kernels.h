// CPU kernels for replaying MLX primitives in float32 (floating dtypes) / int64 (integer dtypes). Output shapes are
// recomputed from the inputs by each primitive's shape rule (shapeless replay); output dtypes come from the tape
// (they never depend on shapes).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "formats/mlxfn.h"
#include "graph/tensor.h"

namespace mlx::graph {

// Shapeless replay at other sizes than recorded. MLX bakes some sizes into primitive states (Reshape's shape,
// Broadcast's shape, Full's output, Arange's stop, Slice bounds): where an input dim of the function changed
// (recorded size r -> run-time size n), a baked size equal to r is replaced by n when the primitive needs it:
// Reshape/Unflatten only when the recorded shape no longer fits (Reshape: exactly one candidate dim, ties broken by
// the input axis that changed, else a one-line error naming the file and the tape entry); Broadcast and
// Slice/SliceUpdate only when their own input changed shape; Full's recorded shape and Arange's stop always (a
// constant that happens to equal the recorded length is substituted too: a known limit of re-baking).
struct RunShapes {
  std::map<int64_t, int64_t> changed;  // recorded size -> run-time size (function input dims that changed)
  std::vector<Dims> recorded_in;       // this entry's inputs as recorded in the tape
  size_t pos = 0;                      // tape position (for errors)
};

// Evaluates one tape entry. `file` names the .mlxfn in errors.
std::vector<Tensor> eval_primitive(const formats::mlxfn::TapeEntry& e, const std::vector<const Tensor*>& in,
                                   const std::string& file, const RunShapes* shapes = nullptr);

// x[..., K] · Wᵀ for a 2-d float weight W [N, K] (F32 storage, or raw f32/f16/bf16 bytes aligned to their size)
// straight through the CPU backend: what a Matmul of a Transpose of a constant weight computes, without
// materializing the transpose or widening the weight on every call.
Tensor matmul_transposed_weight(const Tensor& x, const Tensor& w, const std::string& file);
// The same for tape entry `e`: Matmul(x, Wᵀ), or AddMM(c, x, Wᵀ) = alpha·x·Wᵀ + beta·c (c broadcast).
Tensor eval_linear(const formats::mlxfn::TapeEntry& e, const Tensor& x, const Tensor& w, const Tensor* c,
                   const std::string& file);

}  // namespace mlx::graph
