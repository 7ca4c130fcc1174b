#include "graph/kernels.h"

#include "graph/kernels_impl.h"

namespace mlx::graph {

std::vector<Tensor> eval_primitive(const formats::mlxfn::TapeEntry& e, const std::vector<const Tensor*>& in,
                                   const std::string& file) {
  detail::Ctx c{e, in, file, e.name};
  std::vector<Tensor> out = detail::eval_layout(e.name, c);
  if (out.empty()) out = detail::eval_math(e.name, c);
  if (out.empty()) out = detail::eval_fast(e.name, c);
  if (out.empty()) out = detail::eval_index(e.name, c);
  if (out.empty()) fail("{}: no kernel for primitive '{}'", file, e.name);
  for (size_t k = 0; k < out.size() && k < e.outputs.size(); ++k) {
    out[k].dtype = e.outputs[k].dtype;
    round_to(out[k]);
  }
  return out;
}

}  // namespace mlx::graph
