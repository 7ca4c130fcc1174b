#include "generation_flags.h"

#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/model_dir.h"
#include "runtime/eos.h"

namespace mlx::cli {

using Json = nlohmann::ordered_json;

void add_generation_flags(CLI::App& app, GenerationFlags& f, bool with_min_p_top_k) {
  app.add_option("-m,--max-tokens", f.max_tokens, "Maximum number of tokens to generate")->capture_default_str();
  app.add_option("--temp", f.temp, "Sampling temperature (0 = greedy)")->capture_default_str();
  app.add_option("--top-p", f.top_p, "Sampling top-p")->capture_default_str();
  if (with_min_p_top_k) {
    app.add_option("--min-p", f.min_p, "Sampling min-p")->capture_default_str();
    app.add_option("--top-k", f.top_k, "Sampling top-k (0 = off)")->capture_default_str();
    app.add_option("--min-tokens-to-keep", f.min_tokens_to_keep, "Minimum tokens to keep for min-p sampling")
        ->capture_default_str();
  }
  app.add_option("--xtc-probability", f.xtc_probability, "Probability of XTC sampling at each token")
      ->capture_default_str();
  app.add_option("--xtc-threshold", f.xtc_threshold, "Probability threshold for XTC")->capture_default_str();
  app.add_option("--seed", f.seed, "PRNG seed");
  app.add_option("--repetition-penalty", f.repetition_penalty, "Repetition penalty (0 = off)");
  app.add_option("--repetition-context-size", f.repetition_context_size, "Tokens the repetition penalty looks at")
      ->capture_default_str();
  app.add_option("--presence-penalty", f.presence_penalty, "Presence penalty (0 = off)");
  app.add_option("--presence-context-size", f.presence_context_size, "Tokens the presence penalty looks at")
      ->capture_default_str();
  app.add_option("--frequency-penalty", f.frequency_penalty, "Frequency penalty (0 = off)");
  app.add_option("--frequency-context-size", f.frequency_context_size, "Tokens the frequency penalty looks at")
      ->capture_default_str();
  app.add_option("--logit-bias", f.logit_bias, "Additive logit bias as JSON, e.g. '{\"42\": -100}'");
  app.add_option("--max-kv-size", f.max_kv_size, "Maximum KV cache size (rotating; 0 = unbounded)");
  app.add_option("--prefill-step-size", f.prefill_step_size, "Prompt tokens per prefill chunk")->capture_default_str();
  app.add_option("--chat-template-config", f.chat_template_config,
                 "JSON object of extra chat-template variables, e.g. '{\"enable_thinking\": false}'");
  app.add_option("--stop", f.stop, "Stop when the output contains this string (repeatable; never printed)");
  app.add_option("--threads", f.threads, "Worker threads (0 = all cores)");
}

Json template_config(const GenerationFlags& f) {
  if (f.chat_template_config.empty()) return Json::object();
  Json j;
  try {
    j = Json::parse(f.chat_template_config);
  } catch (const std::exception&) {
    usage_fail("--chat-template-config is not valid JSON: {}", f.chat_template_config);
  }
  if (!j.is_object()) usage_fail("--chat-template-config must be a JSON object");
  return j;
}

runtime::GenerationParams to_params(const GenerationFlags& f) {
  runtime::GenerationParams p;
  if (f.max_tokens < 0) usage_fail("--max-tokens must be >= 0, got {}", f.max_tokens);
  if (f.prefill_step_size < 1) usage_fail("--prefill-step-size must be >= 1, got {}", f.prefill_step_size);
  if (f.max_kv_size < 0) usage_fail("--max-kv-size must be >= 0, got {}", f.max_kv_size);
  if (f.threads < 0) usage_fail("--threads must be >= 0, got {}", f.threads);
  p.max_tokens = f.max_tokens;
  p.sampler.temp = f.temp;
  p.sampler.top_p = f.top_p;
  p.sampler.min_p = f.min_p;
  p.sampler.top_k = f.top_k;
  p.sampler.min_tokens_to_keep = f.min_tokens_to_keep;
  p.sampler.xtc_probability = f.xtc_probability;
  p.sampler.xtc_threshold = f.xtc_threshold;
  runtime::validate(p.sampler);
  if (f.seed) p.seed = uint64_t(*f.seed);
  p.processors.repetition_penalty = f.repetition_penalty;
  p.processors.repetition_context_size = f.repetition_context_size;
  p.processors.presence_penalty = f.presence_penalty;
  p.processors.presence_context_size = f.presence_context_size;
  p.processors.frequency_penalty = f.frequency_penalty;
  p.processors.frequency_context_size = f.frequency_context_size;
  if (!f.logit_bias.empty()) {
    Json j;
    try {
      j = Json::parse(f.logit_bias);
    } catch (const std::exception&) {
      usage_fail("--logit-bias is not valid JSON: {}", f.logit_bias);
    }
    if (!j.is_object()) usage_fail("--logit-bias must be a JSON object of token id -> bias");
    for (auto it = j.begin(); it != j.end(); ++it) {
      int32_t id = 0;
      try {
        size_t used = 0;
        id = std::stoi(it.key(), &used);
        if (used != it.key().size()) throw std::invalid_argument("id");
      } catch (const std::exception&) {
        usage_fail("--logit-bias: key '{}' is not a token id", it.key());
      }
      if (!it.value().is_number()) usage_fail("--logit-bias: the bias of {} must be a number", it.key());
      p.processors.logit_bias[id] = it.value().get<float>();
    }
  }
  runtime::validate(p.processors);
  p.max_kv_size = f.max_kv_size;
  p.prefill_step_size = f.prefill_step_size;
  p.stop_strings = f.stop;
  return p;
}

namespace {
template <typename T>
void take(const Json& req, const char* key, T& out) {
  if (!req.contains(key) || req[key].is_null()) return;
  const auto& v = req[key];
  if constexpr (std::is_same_v<T, int>) {
    if (!v.is_number_integer()) fail("\"{}\" must be an integer", key);
  } else if constexpr (std::is_same_v<T, float>) {
    if (!v.is_number()) fail("\"{}\" must be a number", key);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) fail("\"{}\" must be true or false", key);
  }
  out = v.get<T>();
}
}  // namespace

runtime::GenerationParams with_overrides(runtime::GenerationParams p, const Json& req) {
  take(req, "max_tokens", p.max_tokens);
  take(req, "temp", p.sampler.temp);
  take(req, "temperature", p.sampler.temp);
  take(req, "top_p", p.sampler.top_p);
  take(req, "min_p", p.sampler.min_p);
  take(req, "top_k", p.sampler.top_k);
  take(req, "min_tokens_to_keep", p.sampler.min_tokens_to_keep);
  take(req, "xtc_probability", p.sampler.xtc_probability);
  take(req, "xtc_threshold", p.sampler.xtc_threshold);
  take(req, "repetition_penalty", p.processors.repetition_penalty);
  take(req, "repetition_context_size", p.processors.repetition_context_size);
  take(req, "presence_penalty", p.processors.presence_penalty);
  take(req, "presence_context_size", p.processors.presence_context_size);
  take(req, "frequency_penalty", p.processors.frequency_penalty);
  take(req, "frequency_context_size", p.processors.frequency_context_size);
  take(req, "ignore_eos", p.ignore_eos);
  take(req, "logprobs", p.logprobs);
  if (req.contains("seed") && !req["seed"].is_null()) {
    if (!req["seed"].is_number_integer()) fail("\"seed\" must be an integer");
    p.seed = req["seed"].get<uint64_t>();
  }
  if (req.contains("stop") && !req["stop"].is_null()) {
    const auto& s = req["stop"];
    if (s.is_string()) {
      p.stop_strings = {s.get<std::string>()};
    } else if (s.is_array()) {
      p.stop_strings.clear();
      for (const auto& e : s) {
        if (!e.is_string()) fail("\"stop\" must be a string or a list of strings");
        p.stop_strings.push_back(e.get<std::string>());
      }
    } else {
      fail("\"stop\" must be a string or a list of strings");
    }
  }
  if (p.max_tokens < 0) fail("\"max_tokens\" must be >= 0");
  try {
    runtime::validate(p.sampler);
    runtime::validate(p.processors);
  } catch (const UsageError& e) {
    throw Error(e.what());
  }
  return p;
}

// The --json object (and a batch output line): exactly the keys of issue 4.
Json result_json(const runtime::GenerationResult& r, bool has_text) {
  Json j = Json::object();
  if (has_text) j["text"] = r.text;
  j["ids"] = r.ids;
  j["finish_reason"] = r.finish_reason;
  j["prompt_tokens"] = r.prompt_tokens;
  j["generation_tokens"] = r.generation_tokens;
  j["prompt_tps"] = r.prompt_tps;
  j["generation_tps"] = r.generation_tps;
  j["peak_memory_gb"] = r.peak_memory_gb;
  if (!r.logprobs.empty()) {
    Json list = Json::array();
    for (const auto& t : r.logprobs) {
      Json top = Json::array();
      for (const auto& [id, lp] : t.top) top.push_back({{"id", id}, {"logprob", lp}});
      list.push_back({{"id", t.id}, {"logprob", t.logprob}, {"top", top}});
    }
    j["logprobs"] = list;
  }
  return j;
}

void apply_threads(const GenerationFlags& f) {
  if (f.threads > 0) ThreadPool::global().set_num_threads(f.threads);
}

}  // namespace mlx::cli

// ---- model loading ----

namespace mlx::cli {

std::filesystem::path demo_model_dir() {
#ifdef MLX_SOURCE_DIR
  return std::filesystem::path(MLX_SOURCE_DIR) / "models" / "demo";
#else
  return std::filesystem::path("models") / "demo";
#endif
}

LoadedModel load_model(const std::string& arg, bool require_tokenizer, const std::vector<std::string>& extra_eos) {
  namespace fs = std::filesystem;
  LoadedModel m;
  if (arg.empty()) {
    m.dir = demo_model_dir();
    std::error_code ec;
    if (!fs::is_directory(m.dir, ec))
      fail("no --model given and the demo model {} is not there (build it with scripts/demo)", m.dir.string());
  } else {
    m.dir = formats::resolve_model_path(arg);
  }
  m.model = Model::load(m.dir);
  std::error_code ec;
  bool has_tokenizer = fs::exists(m.dir / "tokenizer.json", ec) || fs::exists(m.dir / "tokenizer.json.zst", ec);
  if (has_tokenizer) {
    m.tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(m.dir));
    m.chat_template = ChatTemplate::load(m.dir);
  } else if (require_tokenizer) {
    fail("{}: no tokenizer.json (pass --prompt-ids to run without a tokenizer)", m.dir.string());
  }
  m.eos_ids = runtime::resolve_eos_ids(m.dir, m.tokenizer ? m.tokenizer->eos_id() : std::nullopt);
  for (const auto& t : extra_eos) {
    std::optional<int32_t> id;
    try {
      size_t used = 0;
      int v = std::stoi(t, &used);
      if (used == t.size()) id = v;
    } catch (const std::exception&) {
    }
    if (!id && m.tokenizer) id = m.tokenizer->token_to_id(t);
    if (!id) usage_fail("--extra-eos-token: '{}' is not a token of this tokenizer", t);
    m.eos_ids.push_back(*id);
  }
  return m;
}

}  // namespace mlx::cli
