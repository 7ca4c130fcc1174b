// A loaded .mlxfn ready to replay: constants become zero-copy views of the mapped file where their bytes are used
// as they are (f32, packed integer weights; other float widths are widened to float32 once), then each run walks
// the tape of the trace whose inputs match (dtype and ndim when shapeless, exact shapes otherwise), recomputing
// shapes by each primitive's rule and freeing every intermediate after its last use.
#pragma once
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/mlxfn.h"
#include "graph/tensor.h"

namespace mlx::graph {

class Program {
 public:
  static Program load(const std::filesystem::path& path);
  static Program from(formats::mlxfn::Function f, std::string name);

  const formats::mlxfn::Function& function() const { return fn_; }
  const std::string& name() const { return name_; }
  // Positional inputs of the first trace (what callers bind by name or order).
  const std::vector<formats::mlxfn::ArrayDesc>& input_descs() const { return fn_.traces.at(0).inputs; }
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;

 private:
  const formats::mlxfn::Trace& pick_trace(const std::vector<Tensor>& inputs) const;
  formats::mlxfn::Function fn_;
  std::string name_;
  std::unordered_map<uint64_t, Tensor> constants_;
  // Recorded shape of every array id (for shapeless replay at other sizes).
  std::unordered_map<uint64_t, Dims> recorded_;
  // Constants as compute kernels want them (raw floats widened, unaligned integers aligned), made once on first
  // use, so layout-only uses (an embedding table's Gather) never touch the whole constant.
  const Tensor& ready(uint64_t id, const Tensor& raw) const;
  struct Ready {
    std::mutex mu;
    std::unordered_map<uint64_t, Tensor> map;
  };
  std::shared_ptr<Ready> ready_ = std::make_shared<Ready>();
  // A Transpose [1, 0] of a 2-d float constant read only as the right operand of Matmuls is never materialized:
  // those Matmuls multiply by the constant directly (x·Wᵀ, MLX's Linear). Transpose output id -> constant id.
  std::unordered_map<uint64_t, uint64_t> lazy_t_;
  const Tensor& weight_view(uint64_t id) const;
  void release_pages(const Tensor& raw) const;  // the constant's bytes aligned for cpu::DenseWeight (once)
};

}  // namespace mlx::graph
