// `mlx quantize`: re-quantize an MLX or Hugging Face directory (dequantizing first where needed), with per-layer
// overrides and an optional error report.
#include <memory>

#include "command.h"
#include "convert/cli_flags.h"
#include "convert/pipeline.h"
#include "core/error.h"

namespace {

struct Opts {
  mlx::convert::CommonFlags common;
  std::string model, out;
  std::vector<std::string> layers;
};

}  // namespace

static mlx::cli::RegisterCommand reg_quantize{
    "quantize", "Re-quantize an MLX or Hugging Face model directory",
    [](CLI::App& app) -> mlx::cli::Runner {
      auto o = std::make_shared<Opts>();
      app.add_option("--model", o->model, "model directory or Hugging Face repo id (local cache only)")->required();
      app.add_option("--out", o->out, "output directory")->required();
      app.add_option("--layer", o->layers, "per-layer override GLOB=BITS[:GROUP] over module paths (repeatable)");
      app.add_flag("--report", o->common.report, "print per-tensor RMSE and SNR (dB) against the float weights");
      mlx::convert::add_common_flags(app, o->common);
      return [o]() -> int {
        mlx::convert::ConvertOptions c = mlx::convert::make_options(o->common, true);
        for (const auto& l : o->layers) c.policy.overrides.push_back(mlx::convert::parse_layer_override(l));
        c.model = o->model;
        c.out = o->out;
        c.quantize = true;
        c.requantize = true;
        return mlx::convert::run_command(c, o->common);
      };
    }};
