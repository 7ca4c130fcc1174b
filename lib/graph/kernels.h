// Reference CPU kernels for replaying MLX primitives. Output shapes are recomputed from the inputs by each
// primitive's shape rule (shapeless replay); output dtypes come from the tape (they never depend on shapes).
#pragma once
#include <string>
#include <vector>

#include "formats/mlxfn.h"
#include "graph/tensor.h"

namespace mlx::graph {

// Evaluates one tape entry. `file` names the .mlxfn in errors.
std::vector<Tensor> eval_primitive(const formats::mlxfn::TapeEntry& e, const std::vector<const Tensor*>& in,
                                   const std::string& file);

}  // namespace mlx::graph
