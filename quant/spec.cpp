// Quantization spec: names, defaults and MLX's validity rules (mx:mlx/ops.cpp affine_quantize / fp_quantize).
#include "quant/spec.h"

#include <fmt/format.h>

#include "core/error.h"

namespace mlx::quant {

const char* quant_mode_name(QuantMode mode) {
  switch (mode) {
    case QuantMode::Affine: return "affine";
    case QuantMode::MxFp4: return "mxfp4";
    case QuantMode::NvFp4: return "nvfp4";
    case QuantMode::MxFp8: return "mxfp8";
  }
  return "?";
}

std::optional<QuantMode> parse_quant_mode(std::string_view name) {
  for (QuantMode m : {QuantMode::Affine, QuantMode::MxFp4, QuantMode::NvFp4, QuantMode::MxFp8}) {
    if (name == quant_mode_name(m)) return m;
  }
  return std::nullopt;
}

int default_bits(QuantMode mode) { return mode == QuantMode::MxFp8 ? 8 : 4; }

int default_group_size(QuantMode mode) {
  switch (mode) {
    case QuantMode::Affine: return 64;
    case QuantMode::NvFp4: return 16;
    default: return 32;
  }
}

QuantSpec default_spec(QuantMode mode) { return {mode, default_bits(mode), default_group_size(mode)}; }

std::optional<std::string> spec_problem(const QuantSpec& spec) {
  const char* name = quant_mode_name(spec.mode);
  if (spec.mode == QuantMode::Affine) {
    const bool bits_ok = spec.bits >= 2 && spec.bits <= 8 && spec.bits != 7;
    const bool group_ok = spec.group_size == 32 || spec.group_size == 64 || spec.group_size == 128;
    if (bits_ok && group_ok) return std::nullopt;
    return fmt::format(
        "affine quantization with bits={} and group_size={} is not supported "
        "(bits must be 2, 3, 4, 5, 6 or 8; group_size 32, 64 or 128)",
        spec.bits, spec.group_size);
  }
  const int want_bits = default_bits(spec.mode);
  const int want_group = default_group_size(spec.mode);
  if (spec.bits == want_bits && spec.group_size == want_group) return std::nullopt;
  return fmt::format("{} quantization with bits={} and group_size={} is not supported ({} requires bits={} and "
                     "group_size={})",
                     name, spec.bits, spec.group_size, name, want_bits, want_group);
}

void validate_spec(const QuantSpec& spec) {
  if (auto problem = spec_problem(spec)) throw Error(*problem);
}

std::string format_spec(const QuantSpec& spec) {
  return fmt::format("{} {}-bit g{}", quant_mode_name(spec.mode), spec.bits, spec.group_size);
}

}  // namespace mlx::quant
