// A replay value: shape, MLX dtype and a shared, contiguous element buffer.
// Storage (`Store`): floating dtypes (f32/f16/bf16/f64) are held as float32 whose values are rounded to the dtype
// after each primitive; integer and bool dtypes as int64; `Raw` is the dtype's own little-endian bytes, used for
// zero-copy constants (packed uint32 weights, uint8 scales, bf16 tables, unaligned f32) and values read from files,
// so they are never copied or widened unless a kernel needs them widened. Raw bytes may be unaligned (the .mlxfn
// format does not align constants), so they are only read through memcpy or after aligned_for_compute. Buffers are
// shared (shared_ptr), so Reshape/ExpandDims/Squeeze/Flatten/Unflatten/contiguous Slice/AsType-to-same are O(1) views.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/mlxfn.h"
#include "formats/safetensors.h"

namespace mlx::graph {

using Dims = std::vector<int64_t>;
using formats::mlxfn::MxDtype;

enum class Store : uint8_t { F32, I64, Raw };

bool is_floating(MxDtype d);            // f16, f32, bf16, f64
Store natural_store(MxDtype d);          // F32 for floating dtypes, I64 otherwise

struct Tensor {
  Dims shape;
  MxDtype dtype;
  Store store = Store::F32;
  std::shared_ptr<const void> hold;  // owns (or keeps alive, e.g. the mapped file) the bytes `data` points into
  const uint8_t* data = nullptr;     // element 0

  Tensor() = default;
  // From doubles (tests, tracer inputs): the dtype's natural storage, rounded to the dtype.
  Tensor(Dims s, MxDtype d, const std::vector<double>& v);
  // Uninitialized (alloc) or zero-filled (zeros) buffer in the dtype's natural storage.
  static Tensor alloc(Dims s, MxDtype d);
  static Tensor zeros(Dims s, MxDtype d);
  // Adopts float values (rounded to `d`, which must be floating).
  static Tensor of_f32(Dims s, MxDtype d, std::vector<float> v);
  // A view of bytes owned by `keep`, in storage `st` (no copy).
  static Tensor view(Dims s, MxDtype d, Store st, std::shared_ptr<const void> keep, const void* p);

  int64_t numel() const;
  size_t elem_bytes() const;  // 4 (F32), 8 (I64) or the dtype's size (Raw)
  size_t nbytes() const { return size_t(numel()) * elem_bytes(); }
  // Typed element pointers; the store must match (fail() otherwise). The _mut forms are for buffers the caller
  // just allocated (never for views of inputs or constants).
  const float* f32() const;
  const int64_t* i64() const;
  float* f32_mut() { return const_cast<float*>(f32()); }
  int64_t* i64_mut() { return const_cast<int64_t*>(i64()); }
  double at(int64_t i) const;          // any store
  std::vector<double> values() const;  // all elements as double (tests, parity checks)
  std::vector<float> floats() const;   // all elements as float
  // Same buffer, other shape (same numel).
  Tensor reshaped(Dims s) const;
};

// Dims is formats::Shape (both std::vector<int64_t>): the safetensors helpers serve.
inline int64_t numel(const Dims& d) { return formats::shape_numel(d); }
inline std::string dims_string(const Dims& d) { return formats::shape_string(d); }
// The same values in storage `s` (shares the buffer when already so; Raw -> Raw is only allowed as identity).
Tensor as_store(const Tensor& t, Store s);
// Converts `t` (whose elements are interpreted by its current dtype and store) to dtype `d`: rounds floats to
// bf16/f16, wraps integers, bool is x != 0, float -> int truncates (non-finite -> 0). Copies before changing a
// shared buffer. Raw storage of the same dtype is kept as is.
void convert_to(Tensor& t, MxDtype d);
// Rounds every element to what its dtype can hold (float32 rounding, bf16/f16 round-to-nearest-even, integer wrap).
void round_to(Tensor& t);
// Raw little-endian bytes of MLX dtype `dtype` -> tensor (copied: floats widened to F32, integers kept Raw), and back.
Tensor from_bytes(const uint8_t* data, size_t nbytes, const Dims& shape, MxDtype dtype, const std::string& what);
// Zero-copy: aligned f32 as Store::F32, everything else as Store::Raw (which may be unaligned: raw elements are
// only ever read with memcpy; see aligned_for_compute). `keep` keeps `data` alive.
Tensor view_bytes(const uint8_t* data, size_t nbytes, const Dims& shape, MxDtype dtype, std::shared_ptr<const void> keep,
                  const std::string& what);
std::string to_bytes(const Tensor& t);
// What a compute kernel wants of a raw constant, made once per constant by the Program: floating dtypes widened to
// float32, integer dtypes aligned to their size (a copy only when the file placed them unaligned).
Tensor aligned_for_compute(const Tensor& t);

}  // namespace mlx::graph
