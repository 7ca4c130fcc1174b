// `mlx perplexity`: mean NLL and perplexity of a model over a text file, in mlx_lm.perplexity's way (windows of
// --sequence-length tokens, mean over every predicted token, standard error) and with its flag names.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "command.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/interrupt.h"
#include "core/thread_pool.h"
#include "generation_flags.h"
#include "runtime/perplexity.h"

namespace {

using Json = nlohmann::ordered_json;

struct Opts {
  std::string model, data;
  int64_t sequence_length = 512;
  int64_t batch_size = 8;
  int64_t num_samples = 256;
  int threads = 0;
  bool json = false;
};

int run(const Opts& o) {
  if (o.sequence_length < 2) mlx::usage_fail("--sequence-length must be at least 2 (got {})", o.sequence_length);
  if (o.batch_size < 1) mlx::usage_fail("--batch-size must be at least 1 (got {})", o.batch_size);
  if (o.num_samples == 0 || o.num_samples < -1)
    mlx::usage_fail("--num-samples must be positive or -1 for all windows (got {})", o.num_samples);
  if (o.threads < 0) mlx::usage_fail("--threads must be >= 0 (got {})", o.threads);
  if (o.threads > 0) mlx::ThreadPool::global().set_num_threads(o.threads);

  auto m = mlx::cli::load_model(o.model, /*require_tokenizer=*/true, {});
  std::filesystem::path data = o.data.empty() ? mlx::cli::demo_model_dir() / "heldout.txt" : std::filesystem::path(o.data);
  std::string text = mlx::read_file(data);
  std::vector<int32_t> ids;
  try {
    ids = m.tokenizer->encode(text, /*add_special_tokens=*/false);
  } catch (const mlx::Error& e) {
    mlx::fail("{}: {}", data.string(), e.what());
  }
  mlx::runtime::PerplexityOptions opt;
  opt.sequence_length = o.sequence_length;
  opt.num_samples = o.num_samples;
  if (mlx::runtime::perplexity_windows(int64_t(ids.size()), opt) == 0)
    mlx::fail("{}: {} tokens, fewer than one window of --sequence-length {}", data.string(), ids.size(),
              o.sequence_length);

  mlx::install_interrupt_handler();
  const bool tty = isatty(STDERR_FILENO);
  auto progress = [&](int64_t done, int64_t total) {
    if (tty) std::fprintf(stderr, "  Processed %lld/%lld windows...\r", (long long)done, (long long)total);
  };
  auto r = mlx::runtime::evaluate_perplexity(*m.model, ids, opt, progress);
  if (tty) std::fprintf(stderr, "\n");
  if (r.interrupted) {
    std::fprintf(stderr, "interrupted after %lld windows\n", (long long)r.num_windows);
    return 130;
  }

  if (o.json) {
    Json j = Json::object();
    j["model"] = m.dir.string();
    j["data"] = data.string();
    j["sequence_length"] = o.sequence_length;
    j["num_tokens_in_data"] = ids.size();
    j["num_windows"] = r.num_windows;
    j["num_tokens"] = r.num_losses;
    j["mean_nll"] = r.mean_nll;
    j["std_nll"] = r.std_nll;
    j["perplexity"] = r.perplexity;
    j["perplexity_se"] = r.perplexity_se;
    j["seconds"] = r.seconds;
    j["tokens_per_second"] = r.tokens_per_second;
    j["window_mean_nll"] = r.window_mean_nll;
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("Model: %s\n", m.dir.string().c_str());
  std::printf("Data: %s (%zu tokens, %lld windows of %lld)\n", data.string().c_str(), ids.size(),
              (long long)r.num_windows, (long long)o.sequence_length);
  std::printf("Perplexity: %.3f \xC2\xB1 %.3f\n", r.perplexity, r.perplexity_se);
  std::printf("Mean NLL: %.5f over %lld tokens\n", r.mean_nll, (long long)r.num_losses);
  std::printf("Evaluation time: %.2f seconds\n", r.seconds);
  std::printf("Tokens per second: %.0f\n", r.tokens_per_second);
  return 0;
}

mlx::cli::RegisterCommand reg{
    "perplexity", "Perplexity of a model over a text file (non-overlapping windows, as mlx_lm.perplexity)",
    [](CLI::App& app) -> mlx::cli::Runner {
      auto o = std::make_shared<Opts>();
      app.add_option("--model", o->model, "Model directory or Hugging Face repo id (default: the demo model)");
      app.add_option("--data", o->data,
                     "UTF-8 text file (.zst read transparently), tokenized whole without special tokens "
                     "(default: the demo model's held-out text)");
      app.add_option("--sequence-length", o->sequence_length, "Window length in tokens")->capture_default_str();
      app.add_option("--batch-size", o->batch_size,
                     "Accepted for mlx_lm compatibility; windows run one at a time, each forward multithreaded")
          ->capture_default_str();
      app.add_option("--num-samples", o->num_samples, "Number of windows, in file order (-1 for all)")
          ->capture_default_str();
      app.add_option("--threads", o->threads, "Worker threads (0 = all cores)");
      app.add_flag("--json", o->json, "Print one JSON object (with per-window mean NLL)");
      return [o]() -> int { return run(*o); };
    }};

}  // namespace
