// `mlx convert` / `mlx quantize`: a model directory in, an MLX directory out, streaming tensor by tensor from the
// mmap into OUT.partial-XXXX/ and renamed to OUT only when everything is written.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "convert/recipes.h"
#include "core/dtype.h"
#include "quant/affine.h"

namespace mlx::convert {

namespace fs = std::filesystem;

struct Progress {
  size_t tensors_done = 0, tensors_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;  // source bytes
  double seconds = 0;
};

struct ConvertOptions {
  std::string model;  // directory or cached Hugging Face repo id
  fs::path out = "mlx_model";
  bool quantize = false;
  bool dequantize = false;
  bool requantize = false;  // `mlx quantize`: a quantized source is dequantized first instead of refused
  QuantPolicy policy;
  quant::Rounding rounding = quant::Rounding::Gpu;
  std::optional<DType> dtype;  // --dtype; else config torch_dtype / text_config.dtype
  bool force = false;
  bool report = false;  // per-tensor RMSE / SNR against the float weights
  std::function<void(const Progress&)> on_progress;
};

struct TensorReport {
  std::string name;
  quant::QuantSpec spec;
  int64_t elements = 0;
  double rmse = 0, snr_db = 0;
};

struct ConvertSummary {
  fs::path source, out;
  std::string model_type;
  size_t tensors_written = 0, modules_quantized = 0, modules_left_float = 0;
  uint64_t source_bytes = 0, output_bytes = 0;
  int64_t total_parameters = 0;
  size_t shards = 0;
  double seconds = 0;
  std::optional<DType> cast_to;
  nlohmann::ordered_json quantization;  // null when the output is not quantized
  std::vector<TensorReport> report;
  double total_rmse = 0, total_snr_db = 0;
  nlohmann::ordered_json to_json() const;
};

// Thrown when Ctrl-C stopped the conversion (the command exits 130; nothing is left behind).
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

ConvertSummary run_convert(const ConvertOptions& options);

// "float16" / "bfloat16" / "float32" -> DType (mlx_lm's --dtype names).
std::optional<DType> parse_torch_dtype(std::string_view name);

}  // namespace mlx::convert
