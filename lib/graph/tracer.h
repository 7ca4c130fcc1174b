// Records ops as an MLX tape while evaluating them eagerly (the values give every shape, and tests can compare
// the traced result with the replay). Used by the exporter; each op is named and stated as MLX's primitive.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/mlxfn.h"
#include "graph/tensor.h"

namespace mlx::graph {

struct Val {
  uint64_t id = 0;
  std::shared_ptr<const Tensor> t;
  const Dims& shape() const { return t->shape; }
};

namespace st {
formats::mlxfn::StateField i(int64_t v);
formats::mlxfn::StateField f(double v);
formats::mlxfn::StateField d(double v);
formats::mlxfn::StateField b(bool v);
formats::mlxfn::StateField v(const Dims& v);
formats::mlxfn::StateField n();
formats::mlxfn::StateField t(MxDtype d);  // a Dtype field (AsType, View, NumberOfElements)
}  // namespace st

class Tracer {
 public:
  explicit Tracer(formats::mlxfn::Stream stream) : stream_(stream) {}
  Val input(Tensor t);
  Val constant(Tensor t);
  // Appends primitive `name` with `state`; the output dtype defaults to the first input's.
  Val op(const std::string& name, const std::vector<Val>& in, std::vector<formats::mlxfn::StateField> state = {},
         std::optional<MxDtype> out_dtype = std::nullopt);
  formats::mlxfn::Function finish(const std::vector<Val>& outputs, bool shapeless, std::string metadata);

 private:
  formats::mlxfn::Stream stream_;
  formats::mlxfn::Trace trace_;
  uint64_t next_id_ = 1;
};

}  // namespace mlx::graph
