// What a quantized tensor is: mode, bits and group size, MLX's validity rules, and the packed shapes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mlx::quant {

// MLX's quantization modes (`mode=` of mx.quantize). Affine has per-group scale + bias in the model dtype;
// the floating-point modes have uint8 scales (E8M0 for mx*, E4M3 for nvfp4) and no biases.
enum class QuantMode { Affine, MxFp4, NvFp4, MxFp8 };

struct QuantSpec {
  QuantMode mode = QuantMode::Affine;
  int bits = 4;
  int group_size = 64;
  bool operator==(const QuantSpec&) const = default;
};

// "affine", "mxfp4", "nvfp4", "mxfp8" (MLX spelling, as in config.json "mode").
const char* quant_mode_name(QuantMode mode);
std::optional<QuantMode> parse_quant_mode(std::string_view name);

// MLX defaults when bits / group_size are not given: affine 4/64, mxfp4 4/32, nvfp4 4/16, mxfp8 8/32.
int default_bits(QuantMode mode);
int default_group_size(QuantMode mode);
QuantSpec default_spec(QuantMode mode);

// MLX's rules: affine bits {2,3,4,5,6,8} x group {32,64,128}; mxfp4 g32 b4; nvfp4 g16 b4; mxfp8 g32 b8.
// Returns the problem in one line (naming the combination), or nullopt when the spec is valid.
std::optional<std::string> spec_problem(const QuantSpec& spec);
// Throws mlx::Error with spec_problem's text (callers that parse CLI flags may rethrow as UsageError).
void validate_spec(const QuantSpec& spec);

// Affine quantization stores biases; the fp modes do not.
inline bool has_biases(QuantMode mode) { return mode == QuantMode::Affine; }

// uint32 words per packed row: cols*bits/32 (a row is an LSB-first bit stream; cols*bits must be a multiple of 32).
inline int64_t packed_cols(int64_t cols, int bits) { return cols * bits / 32; }
// Scales (and biases) per row: cols/group.
inline int64_t groups(int64_t cols, int group_size) { return cols / group_size; }
// True when a last dimension of `cols` can be quantized with `spec` (MLX: divisible by the group size).
inline bool quantizable_cols(int64_t cols, const QuantSpec& spec) {
  return cols > 0 && cols % spec.group_size == 0 && (cols * spec.bits) % 32 == 0;
}

std::string format_spec(const QuantSpec& spec);  // e.g. "affine 4-bit g64"

}  // namespace mlx::quant
