// Shared by the kernel files: the evaluation context of one tape entry.
#pragma once
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/mlxfn.h"
#include "graph/tensor.h"

namespace mlx::graph::detail {

struct Ctx {
  const formats::mlxfn::TapeEntry& e;
  const std::vector<const Tensor*>& in;
  const std::string& file;
  const std::string& name;
  const formats::mlxfn::StateField& field(size_t k) const {
    if (k >= e.state.size()) fail("{}: {} state has no field {}", file, name, k);
    return e.state[k];
  }
  int64_t i(size_t k) const { return field(k).i; }
  double f(size_t k) const { return field(k).f; }
  Dims vec(size_t k) const { return field(k).v; }
  MxDtype out_dtype(size_t k) const {
    if (k >= e.outputs.size()) fail("{}: {} has no output {}", file, name, k);
    return e.outputs[k].dtype;
  }
};

int64_t norm_axis(int64_t a, size_t ndim, const Ctx& c);
Dims strides_of(const Dims& s);
Tensor broadcast_to(const Tensor& x, const Dims& shape, const Ctx& c);
Tensor transpose(const Tensor& x, const Dims& axes, const Ctx& c);
// Each returns an empty vector when `name` is not theirs.
std::vector<Tensor> eval_layout(const std::string& name, const Ctx& c);
std::vector<Tensor> eval_math(const std::string& name, const Ctx& c);
std::vector<Tensor> eval_fast(const std::string& name, const Ctx& c);
std::vector<Tensor> eval_index(const std::string& name, const Ctx& c);

}  // namespace mlx::graph::detail
