// A replay value: shape, MLX dtype, and elements held as double (exact for every dtype we replay: f32/bf16/f16
// values, 32-bit integers and packed uint32 weights), rounded to the dtype after each primitive.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "formats/mlxfn.h"

namespace mlx::graph {

using Dims = std::vector<int64_t>;
using formats::mlxfn::MxDtype;

struct Tensor {
  Dims shape;
  MxDtype dtype;
  std::vector<double> v;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

int64_t numel(const Dims& d);
std::string dims_string(const Dims& d);
// Rounds every element to what `dtype` can hold (float32 rounding, bf16/f16 round-to-nearest-even, integer wrap).
void round_to(Tensor& t);
// Raw little-endian bytes of MLX dtype `dtype` -> tensor, and back.
Tensor from_bytes(const uint8_t* data, size_t nbytes, const Dims& shape, MxDtype dtype, const std::string& what);
std::string to_bytes(const Tensor& t);

}  // namespace mlx::graph
