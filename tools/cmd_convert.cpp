// `mlx convert`: a Hugging Face checkpoint (or MLX directory) to an MLX directory, optionally quantized
// (flags as mlx_lm.convert, plus --q-rounding, --threads, --quiet, --json, --force).
#include <memory>

#include "command.h"
#include "convert/cli_flags.h"
#include "convert/pipeline.h"
#include "core/error.h"

namespace {

struct Opts {
  mlx::convert::CommonFlags common;
  std::string model;
  std::string mlx_path = "mlx_model";
  bool quantize = false, dequantize = false, trust_remote_code = false;
  std::string upload_repo;
};

}  // namespace

static mlx::cli::RegisterCommand reg_convert{
    "convert", "Convert a Hugging Face model to MLX format (optionally quantized)",
    [](CLI::App& app) -> mlx::cli::Runner {
      auto o = std::make_shared<Opts>();
      app.add_option("--hf-path,--model", o->model, "model directory or Hugging Face repo id (local cache only)")
          ->required();
      app.add_option("--mlx-path", o->mlx_path, "output directory (default: mlx_model)");
      app.add_flag("-q,--quantize", o->quantize, "quantize the model");
      app.add_flag("-d,--dequantize", o->dequantize, "dequantize a quantized MLX model");
      app.add_flag("--trust-remote-code", o->trust_remote_code, "accepted for mlx_lm compatibility (no effect)");
      app.add_option("--upload-repo", o->upload_repo, "not supported (no network)");
      mlx::convert::add_common_flags(app, o->common);
      return [o]() -> int {
        if (!o->upload_repo.empty()) mlx::usage_fail("--upload-repo is not supported: mlx does not use the network");
        mlx::convert::ConvertOptions c = mlx::convert::make_options(o->common, o->quantize);
        c.model = o->model;
        c.out = o->mlx_path;
        c.quantize = o->quantize;
        c.dequantize = o->dequantize;
        return mlx::convert::run_command(c, o->common);
      };
    }};
