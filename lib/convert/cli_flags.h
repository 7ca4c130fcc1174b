// CLI11 registration of the flags in CommonFlags (header-only so that lib/convert does not link CLI11).
#pragma once
#include <CLI/CLI.hpp>

#include "convert/cli_common.h"

namespace mlx::convert {

inline void add_common_flags(CLI::App& app, CommonFlags& f) {
  app.add_option("--q-bits", f.q_bits, "bits per weight (default: 4, or 8 for mxfp8)");
  app.add_option("--q-group-size", f.q_group_size, "group size (default: affine 64, mxfp4/mxfp8 32, nvfp4 16)");
  app.add_option("--q-mode", f.q_mode, "affine | mxfp4 | nvfp4 | mxfp8 (default affine)");
  app.add_option("--quant-predicate", f.quant_predicate, "mixed recipe: mixed_2_6 | mixed_3_4 | mixed_3_6 | mixed_4_6");
  app.add_option("--dtype", f.dtype, "float16 | bfloat16 | float32 (default: config torch_dtype)");
  app.add_option("--q-rounding", f.q_rounding, "gpu (Apple-silicon conversions, default) | cpu (MLX CPU kernel)");
  app.add_option("--threads", f.threads, "worker threads (default: all cores)");
  app.add_flag("--quiet", f.quiet, "no progress or summary on stderr");
  app.add_flag("--json", f.json, "print a machine-readable summary on stdout");
  app.add_flag("--force", f.force, "replace the output directory if it exists");
}

}  // namespace mlx::convert
