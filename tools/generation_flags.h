// The sampling / stopping flags shared by `mlx generate` and `mlx chat` (mlx_lm names and defaults).
#pragma once
#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/generator.h"
#include "runtime/model.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace mlx::cli {

struct GenerationFlags {
  int max_tokens = 100;
  float temp = 0.0f, top_p = 1.0f, min_p = 0.0f;
  int top_k = 0;
  float xtc_probability = 0.0f, xtc_threshold = 0.1f;
  int min_tokens_to_keep = 1;
  std::optional<int64_t> seed;
  float repetition_penalty = 0.0f, presence_penalty = 0.0f, frequency_penalty = 0.0f;
  int repetition_context_size = 20, presence_context_size = 20, frequency_context_size = 20;
  std::string logit_bias;  // JSON object {"id": bias}
  int max_kv_size = 0;
  int prefill_step_size = 2048;
  std::string chat_template_config;  // JSON object of template kwargs
  std::vector<std::string> stop;
  int threads = 0;
};

// Adds the flags to `app`; `max_tokens_default` differs between generate (100) and chat (256).
void add_generation_flags(CLI::App& app, GenerationFlags& f, bool with_min_p_top_k = true);

// The runtime parameters for these flags (validated; UsageError on out-of-range values or bad JSON).
runtime::GenerationParams to_params(const GenerationFlags& f);

// --chat-template-config parsed (an object; UsageError otherwise).
nlohmann::ordered_json template_config(const GenerationFlags& f);

// Applies per-request overrides (batch lines: "max_tokens", "temp", "top_p", ...) onto a copy of the params.
// Unknown keys are ignored; a wrong type throws mlx::Error naming the key.
runtime::GenerationParams with_overrides(runtime::GenerationParams params, const nlohmann::ordered_json& request);

// The --json object of generate and chat (and a batch output line): text (when there is a tokenizer), ids,
// finish_reason, prompt_tokens, generation_tokens, prompt_tps, generation_tps, peak_memory_gb[, logprobs].
nlohmann::ordered_json result_json(const runtime::GenerationResult& r, bool has_text);

// Applies --threads (0 = leave the pool's default).
void apply_threads(const GenerationFlags& f);

}  // namespace mlx::cli

namespace mlx::cli {

// ---- A model ready to generate from: weights, tokenizer (optional), chat template, EOS ids. ----
struct LoadedModel {
  std::filesystem::path dir;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;  // null when the directory has no tokenizer files
  std::optional<ChatTemplate> chat_template;
  std::vector<int32_t> eos_ids;
};

// `arg`: a directory or a Hugging Face repo id in the local cache; empty = the shipped demo model. With
// `require_tokenizer` a directory without tokenizer files is an error. `extra_eos`: token strings or integer ids.
LoadedModel load_model(const std::string& arg, bool require_tokenizer, const std::vector<std::string>& extra_eos);

// The directory of the shipped demo model (<source>/models/demo).
std::filesystem::path demo_model_dir();

}  // namespace mlx::cli
