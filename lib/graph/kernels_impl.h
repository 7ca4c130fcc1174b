// Shared by the kernel files: the evaluation context of one tape entry and the strided-copy helpers.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/mlxfn.h"
#include "graph/kernels.h"
#include "graph/tensor.h"

namespace mlx::graph::detail {

struct Ctx {
  const formats::mlxfn::TapeEntry& e;
  const std::vector<const Tensor*>& in;
  const std::string& file;
  const std::string& name;
  const RunShapes* shapes = nullptr;  // shapeless replay: recorded vs actual sizes (may be null)
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
  // Input k in float32 / int64 storage (shares the buffer when it already is).
  Tensor fin(size_t k) const { return as_store(*in.at(k), Store::F32); }
  Tensor iin(size_t k) const { return as_store(*in.at(k), Store::I64); }
  // Shapeless replay: substitutes run-time sizes into a shape baked in the state (see kernels.h).
  Dims rebake(Dims s, const Dims& recorded_out) const;
};

int64_t norm_axis(int64_t a, size_t ndim, const Ctx& c);
Dims strides_of(const Dims& s);
// out[idx] = x[offset + sum(idx * st)] element by element (any store; elements copied as bytes).
Tensor strided_copy(const Tensor& x, const Dims& out_shape, const Dims& st, int64_t offset);
void strided_copy_into(const Tensor& x, const Dims& out_shape, const Dims& st, int64_t offset, uint8_t* dst);
Tensor broadcast_to(const Tensor& x, const Dims& shape, const Ctx& c);
Tensor transpose(const Tensor& x, const Dims& axes, const Ctx& c);
// Strides of `x` broadcast (right-aligned, stride 0 on size-1 dims) to `shape`; fails if it does not broadcast.
Dims broadcast_strides(const Dims& x, const Dims& shape, const Ctx& c);
Dims broadcast_shapes(const std::vector<Dims>& shapes, const Ctx& c);
// OpenBLAS runs single-threaded inside our thread pool's slices (set once, as the CPU backend does).
void single_threaded_blas();
// Work big enough to be worth the thread pool.
inline bool big(int64_t work) { return work >= (1 << 16); }

// Each returns an empty vector when `name` is not theirs.
std::vector<Tensor> eval_layout(const std::string& name, const Ctx& c);
std::vector<Tensor> eval_math(const std::string& name, const Ctx& c);
std::vector<Tensor> eval_matmul(const std::string& name, const Ctx& c);
std::vector<Tensor> eval_fast(const std::string& name, const Ctx& c);
std::vector<Tensor> eval_index(const std::string& name, const Ctx& c);

// Calls fn(base, stride, len) for every 1-d lane along `axis`.
template <class F>
void lanes(const Dims& shape, int64_t axis, F fn) {
  int64_t len = shape[axis], inner = 1, outer = 1;
  for (size_t k = axis + 1; k < shape.size(); ++k) inner *= shape[k];
  for (int64_t k = 0; k < axis; ++k) outer *= shape[k];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) fn(o * len * inner + i, inner, len);
}

}  // namespace mlx::graph::detail
