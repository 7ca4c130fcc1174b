// Flag validation and the command driver shared by `mlx convert` and `mlx quantize`.
#include "convert/cli_common.h"

#include <csignal>
#include <cstdio>

#include "convert/progress_bar.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/thread_pool.h"

namespace mlx::convert {

ConvertOptions make_options(const CommonFlags& f, bool quantize) {
  ConvertOptions c;
  auto mode = quant::parse_quant_mode(f.q_mode);
  if (!mode) usage_fail("--q-mode '{}': expected affine, mxfp4, nvfp4 or mxfp8", f.q_mode);
  c.policy.global = quant::default_spec(*mode);
  if (f.q_bits) c.policy.global.bits = *f.q_bits;
  if (f.q_group_size) c.policy.global.group_size = *f.q_group_size;
  c.policy.group_size_given = f.q_group_size.has_value();
  if (!f.quant_predicate.empty()) {
    auto r = parse_recipe(f.quant_predicate);
    if (!r) usage_fail("--quant-predicate '{}': expected mixed_2_6, mixed_3_4, mixed_3_6 or mixed_4_6", f.quant_predicate);
    if (*mode != quant::QuantMode::Affine) usage_fail("--quant-predicate works with --q-mode affine only");
    c.policy.recipe = *r;
  }
  if (quantize)
    if (auto p = quant::spec_problem(c.policy.global)) usage_fail("{}", *p);
  if (!f.dtype.empty()) {
    c.dtype = parse_torch_dtype(f.dtype);
    if (!c.dtype) usage_fail("--dtype '{}': expected float16, bfloat16 or float32", f.dtype);
  }
  if (f.q_rounding == "gpu") c.rounding = quant::Rounding::Gpu;
  else if (f.q_rounding == "cpu") c.rounding = quant::Rounding::Cpu;
  else usage_fail("--q-rounding '{}': expected gpu or cpu", f.q_rounding);
  if (f.threads < 0 || f.threads > 1024) usage_fail("--threads {}: expected 1..1024", f.threads);
  c.force = f.force;
  c.report = f.report;
  return c;
}

int run_command(ConvertOptions c, const CommonFlags& f) {
  if (f.threads > 0) ThreadPool::global().set_num_threads(f.threads);
  // A file-size limit (ulimit -f) must surface as a write error we can clean up after, not kill us.
  std::signal(SIGXFSZ, SIG_IGN);
  install_interrupt_handler();
  ProgressBar bar(!f.quiet && !f.json);
  c.on_progress = [&bar](const Progress& p) { bar.update(p); };
  ConvertSummary s;
  try {
    s = run_convert(c);
  } catch (const Interrupted&) {
    bar.finish();
    std::fprintf(stderr, "\ninterrupted: nothing was written\n");
    return 130;
  }
  bar.finish();
  if (!f.quiet && !f.json) {
    if (s.modules_quantized > 0 && s.total_parameters > 0)
      std::fprintf(stderr, "[INFO] Quantized model with %.3f bits per weight.\n",
                   double(s.output_bytes) * 8.0 / double(s.total_parameters));
    std::fprintf(stderr, "wrote %s: %zu tensors in %zu shard(s), %.3f GB from %.3f GB of source in %.2f s (%.2f GB/s)\n",
                 s.out.string().c_str(), s.tensors_written, s.shards, double(s.output_bytes) / 1e9,
                 double(s.source_bytes) / 1e9, s.seconds, s.seconds > 0 ? double(s.source_bytes) / 1e9 / s.seconds : 0.0);
  }
  if (f.json) {
    std::printf("%s\n", s.to_json().dump(2).c_str());
  } else if (c.report) {
    std::printf("%-60s %-16s %12s %9s\n", "tensor", "quantization", "rmse", "snr_db");
    for (const auto& t : s.report)
      std::printf("%-60s %-16s %12.6g %9.2f\n", t.name.c_str(), quant::format_spec(t.spec).c_str(), t.rmse, t.snr_db);
    std::printf("%-60s %-16s %12.6g %9.2f\n", "TOTAL", "", s.total_rmse, s.total_snr_db);
  }
  return 0;
}

}  // namespace mlx::convert
