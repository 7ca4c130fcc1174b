// What `mlx convert` and `mlx quantize` share: the quantization / dtype / output flags, their validation, and
// running the pipeline with progress, summary, --json output and exit codes (130 on Ctrl-C).
#pragma once
#include <optional>
#include <string>

#include "convert/pipeline.h"

namespace mlx::convert {

struct CommonFlags {
  std::optional<int> q_bits, q_group_size;
  std::string q_mode = "affine";
  std::string quant_predicate;
  std::string dtype;
  std::string q_rounding = "gpu";
  int threads = 0;
  bool quiet = false, json = false, force = false, report = false;
};

// Validates the flags (UsageError, exit 2) and fills the pipeline options (not model/out).
ConvertOptions make_options(const CommonFlags& f, bool quantize);

// Runs the pipeline: progress bar on a TTY unless --quiet, summary lines on stderr, --json summary on stdout,
// --report table. Returns the exit code (0, or 130 when interrupted; errors propagate as exceptions).
int run_command(ConvertOptions options, const CommonFlags& f);

}  // namespace mlx::convert
