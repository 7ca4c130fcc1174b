#include "graph/kernels.h"

#include "graph/kernels_impl.h"

namespace mlx::graph {

std::vector<Tensor> eval_primitive(const formats::mlxfn::TapeEntry& e, const std::vector<const Tensor*>& in,
                                   const std::string& file, const RunShapes* shapes) {
  detail::Ctx c{e, in, file, e.name, shapes};
  std::vector<Tensor> out = detail::eval_layout(e.name, c);
  if (out.empty()) out = detail::eval_math(e.name, c);
  if (out.empty()) out = detail::eval_matmul(e.name, c);
  if (out.empty()) out = detail::eval_fast(e.name, c);
  if (out.empty()) out = detail::eval_index(e.name, c);
  if (out.empty()) fail("{}: no kernel for primitive '{}'", file, e.name);
  // Kernels label their results with the dtype their storage holds; the tape's dtype decides what is stored
  // (bf16/f16 rounding, integer wrap, bool). Views of inputs that already have the tape's dtype are left alone.
  for (size_t k = 0; k < out.size() && k < e.outputs.size(); ++k) {
    bool view = false;
    for (const Tensor* t : in) view |= t->hold == out[k].hold && t->dtype == e.outputs[k].dtype;
    if (view && out[k].dtype == e.outputs[k].dtype) continue;
    convert_to(out[k], e.outputs[k].dtype);
  }
  return out;
}

}  // namespace mlx::graph
