#include "graph/kernels.h"

#include "graph/kernels_impl.h"

namespace mlx::graph {

static std::vector<Tensor> eval_unchecked(const formats::mlxfn::TapeEntry& e, const std::vector<const Tensor*>& in,
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

std::vector<Tensor> eval_primitive(const formats::mlxfn::TapeEntry& e, const std::vector<const Tensor*>& in,
                                   const std::string& file, const RunShapes* shapes) {
  try {
    return eval_unchecked(e, in, file, shapes);
  } catch (const Error& err) {
    // Helpers deep in the kernels do not know the file: every message names it and the primitive.
    std::string m = err.what();
    if (m.rfind(file + ":", 0) == 0) throw;
    fail("{}: {}: {}", file, e.name, m);
  }
}

}  // namespace mlx::graph
