// The model being converted, seen as logical float tensors: an HF or MLX directory whose quantized modules
// ({p}.weight uint32 + {p}.scales [+ {p}.biases]) appear as one float {p}.weight, dequantized on demand.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "formats/model_dir.h"
#include "formats/weight_set.h"
#include "models/family.h"
#include "quant/spec.h"

namespace mlx::convert {

struct LogicalTensor {
  std::string name;
  DType dtype = DType::F32;      // plain: the stored dtype; quantized: the dequantized dtype (scales' or BF16)
  formats::Shape shape;          // float shape
  const formats::TensorView* view = nullptr;  // plain tensor
  // Quantized module (view == nullptr):
  const formats::TensorView* qweight = nullptr;
  const formats::TensorView* scales = nullptr;
  const formats::TensorView* biases = nullptr;
  quant::QuantSpec spec;
  bool quantized() const { return qweight != nullptr; }
  uint64_t source_bytes() const;
};

// Bytes in a given dtype, owned or borrowed from the mmap.
struct TensorData {
  DType dtype = DType::F32;
  formats::Shape shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::vector<uint8_t> owned;  // when not borrowed
};

class SourceModel {
 public:
  // `dir` is already resolved. Reads config.json, the weights, and (for MLX dirs) the quantization section.
  static SourceModel open(const formats::fs::path& dir);

  formats::ModelDir dir;
  formats::WeightSet weights;
  std::vector<LogicalTensor> tensors;  // sorted by name
  bool quantized = false;              // any module stored quantized

  const LogicalTensor* find(const std::string& name) const;
  std::vector<models::SourceTensor> metadata() const;

  // The tensor's values in `as` (F32/F16/BF16 for floats; nullopt keeps the logical dtype). A plain tensor
  // already in that dtype is borrowed from the mmap (no copy). Quantized tensors are dequantized as mlx_lm does:
  // scales/biases first cast to `as`, then dequantized in that dtype.
  TensorData read(const LogicalTensor& t, std::optional<DType> as) const;
  // Drops the mapped pages of `t` from this process (streaming keeps RSS low).
  void release(const LogicalTensor& t) const;
};

// Converts n values between dtypes (via float32, parallel over chunks).
void convert_dtype(const void* src, DType from, void* dst, DType to, size_t n);

}  // namespace mlx::convert
