// `mlx generate`: one prompt (streamed text + mlx_lm's stats block) or a JSONL batch, mlx_lm.generate's flags.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "command.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/interrupt.h"
#include "generation_flags.h"
#include "runtime/generator.h"
#include "runtime/kv_cache.h"
#include "runtime/prompt.h"

namespace {

using Json = nlohmann::ordered_json;
namespace rt = mlx::runtime;

struct Opts {
  std::string model;
  std::string prompt = "hello";
  std::optional<std::string> system_prompt, prefill_response;
  bool ignore_chat_template = false;
  std::vector<std::string> extra_eos;
  std::string verbose = "true";
  std::optional<std::string> prompt_ids;
  bool ignore_eos = false;
  int logprobs = 0;
  bool json = false;
  std::string batch, output;
  mlx::cli::GenerationFlags gen;
};

bool str2bool(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s != "false" && s != "f";
}

void print_stats(const rt::GenerationResult& r) {
  std::fprintf(stderr, "Prompt: %lld tokens, %.3f tokens-per-sec\n", (long long)r.prompt_tokens, r.prompt_tps);
  std::fprintf(stderr, "Generation: %lld tokens, %.3f tokens-per-sec\n", (long long)r.generation_tokens,
               r.generation_tps);
  std::fprintf(stderr, "Peak memory: %.3f GB\n", r.peak_memory_gb);
}

// Prompt ids for one request: explicit ids, a messages list, or a text prompt (through the chat template unless
// ignored or absent).
std::vector<int32_t> request_ids(const mlx::cli::LoadedModel& m, const Opts& o, const Json& req) {
  std::vector<int32_t> ids;
  if (req.contains("prompt_ids")) {
    const auto& v = req["prompt_ids"];
    if (v.is_string()) {
      ids = rt::parse_prompt_ids(v.get<std::string>());
    } else if (v.is_array()) {
      for (const auto& e : v) {
        if (!e.is_number_integer()) mlx::fail("\"prompt_ids\" must be a list of integers");
        ids.push_back(e.get<int32_t>());
      }
    } else {
      mlx::fail("\"prompt_ids\" must be a list of integers");
    }
  } else {
    if (!m.tokenizer) mlx::fail("{}: no tokenizer.json, so only prompt ids can be given", m.dir.string());
    Json kwargs = mlx::cli::template_config(o.gen);
    if (req.contains("chat_template_config")) {
      if (!req["chat_template_config"].is_object()) mlx::fail("\"chat_template_config\" must be an object");
      for (auto it = req["chat_template_config"].begin(); it != req["chat_template_config"].end(); ++it)
        kwargs[it.key()] = it.value();
    }
    if (req.contains("messages")) {
      const auto& msgs = req["messages"];
      if (!msgs.is_array() || msgs.empty()) mlx::fail("\"messages\" must be a non-empty list");
      for (const auto& msg : msgs)
        if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string())
          mlx::fail("every message needs a string \"role\"");
      rt::ChatPrompt chat;
      chat.messages = msgs;
      chat.template_kwargs = kwargs;
      bool prefill = msgs.back().value("role", std::string()) == "assistant";
      chat.continue_final_message = prefill;
      if (m.chat_template && !o.ignore_chat_template) {
        ids = rt::encode_chat(&*m.chat_template, *m.tokenizer, chat);
      } else {
        ids = rt::encode_chat(nullptr, *m.tokenizer, chat);
      }
    } else {
      if (!req.contains("prompt") || !req["prompt"].is_string())
        mlx::fail("a request needs \"prompt\" (string), \"messages\" or \"prompt_ids\"");
      std::string prompt = req["prompt"].get<std::string>();
      if (prompt.empty()) mlx::fail("the prompt is empty");
      std::optional<std::string> system = o.system_prompt, prefill = o.prefill_response;
      if (req.contains("system_prompt") && req["system_prompt"].is_string()) system = req["system_prompt"];
      if (m.chat_template && !o.ignore_chat_template) {
        auto chat = rt::make_chat_prompt(prompt, system, prefill, kwargs);
        ids = rt::encode_chat(&*m.chat_template, *m.tokenizer, chat);
      } else {
        ids = m.tokenizer->encode(prompt, true);
      }
    }
  }
  if (ids.empty()) mlx::fail("the prompt is empty");
  rt::check_ids_in_vocab(ids, m.model->info().vocab_size);
  return ids;
}

rt::GenerationResult run_one(mlx::cli::LoadedModel& m, const std::vector<int32_t>& ids, const rt::GenerationParams& p,
                             const rt::TextSink& sink) {
  auto cache = m.model->make_cache(p.max_kv_size);
  return rt::generate(*m.model, *cache, m.tokenizer.get(), ids, p, sink);
}

int run_batch(mlx::cli::LoadedModel& m, const Opts& o, const rt::GenerationParams& base) {
  if (o.output.empty()) mlx::usage_fail("--batch needs --output FILE");
  std::string input = mlx::read_file(o.batch);
  std::vector<std::string> lines;
  for (size_t pos = 0; pos <= input.size();) {
    size_t nl = input.find('\n', pos);
    if (nl == std::string::npos) nl = input.size();
    std::string line = input.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
    pos = nl + 1;
  }
  const bool tty = isatty(STDERR_FILENO);
  std::string out;
  int errors = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    Json record = Json::object();
    Json req;
    try {
      req = Json::parse(lines[i]);
      if (!req.is_object()) mlx::fail("a batch line must be a JSON object");
      if (req.contains("id")) record["id"] = req["id"];
      else record["id"] = i;
      auto params = mlx::cli::with_overrides(base, req);
      auto ids = request_ids(m, o, req);
      auto r = run_one(m, ids, params, {});
      const Json result = mlx::cli::result_json(r, m.tokenizer != nullptr);
      for (auto it = result.begin(); it != result.end(); ++it) record[it.key()] = it.value();
      if (r.interrupted) break;
    } catch (const nlohmann::json::exception& e) {
      record["error"] = fmt::format("{}: line {}: not valid JSON", o.batch, i + 1);
      ++errors;
    } catch (const std::exception& e) {
      record["error"] = fmt::format("{}: line {}: {}", o.batch, i + 1, e.what());
      ++errors;
    }
    if (!record.contains("id")) record["id"] = i;
    out += record.dump() + "\n";
    if (tty) std::fprintf(stderr, "\r[batch] %zu/%zu", i + 1, lines.size());
    if (mlx::interrupted()) break;
  }
  if (tty) std::fprintf(stderr, "\n");
  mlx::write_file_atomic(o.output, out);
  if (errors) std::fprintf(stderr, "%d of %zu requests failed (see \"error\" in %s)\n", errors, lines.size(),
                           o.output.c_str());
  return mlx::interrupted() ? 130 : 0;
}

int run(Opts& o) {
  mlx::cli::apply_threads(o.gen);
  auto params = mlx::cli::to_params(o.gen);
  (void)mlx::cli::template_config(o.gen);  // bad JSON is a usage error even when no template is rendered
  params.ignore_eos = o.ignore_eos;
  if (o.logprobs < 0) mlx::usage_fail("--logprobs must be >= 0, got {}", o.logprobs);
  params.logprobs = o.logprobs;
  const bool verbose = str2bool(o.verbose);
  const bool use_ids = o.prompt_ids.has_value();
  auto m = mlx::cli::load_model(o.model, !use_ids && o.batch.empty(), o.extra_eos);
  params.eos_ids = m.eos_ids;
  // XTC never removes "\n" or an EOS token (mlx_lm passes these as xtc_special_tokens).
  params.sampler.xtc_special_tokens = m.eos_ids;
  if (m.tokenizer) {
    auto nl = m.tokenizer->encode("\n", false);
    params.sampler.xtc_special_tokens.insert(params.sampler.xtc_special_tokens.end(), nl.begin(), nl.end());
  }
  mlx::install_interrupt_handler();
  if (!o.batch.empty()) return run_batch(m, o, params);

  Json req = Json::object();
  if (use_ids) {
    req["prompt_ids"] = *o.prompt_ids;
  } else {
    req["prompt"] = rt::read_prompt_argument(o.prompt);
  }
  auto ids = request_ids(m, o, req);

  const int64_t context = m.model->info().max_position_embeddings;
  if (params.max_kv_size <= 0 && context > 0 && int64_t(ids.size()) > context)
    mlx::fail("the prompt has {} tokens but the model's context is {} (max_position_embeddings); shorten it or pass "
              "--max-kv-size to use a rotating cache",
              ids.size(), context);
  const bool stream = !o.json;
  if (stream && verbose) std::fprintf(stderr, "==========\n");
  auto sink = [&](std::string_view s) {
    if (!stream) return;
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  };
  auto r = run_one(m, ids, params, sink);
  if (o.json) {
    std::printf("%s\n", mlx::cli::result_json(r, m.tokenizer != nullptr).dump().c_str());
  } else {
    std::printf("\n");
    std::fflush(stdout);
    if (verbose) {
      std::fprintf(stderr, "==========\n");
      if (r.text.empty() && m.tokenizer) std::fprintf(stderr, "No text generated for this prompt\n");
      else print_stats(r);
    }
  }
  if (r.interrupted) {
    if (!verbose || o.json) print_stats(r);
    return 130;
  }
  return 0;
}

}  // namespace

static mlx::cli::RegisterCommand reg_generate{
    "generate", "Generate text from a model", [](CLI::App& app) -> mlx::cli::Runner {
      auto o = std::make_shared<Opts>();
      app.add_option("--model", o->model, "Model directory or Hugging Face repo id (default: the demo model)");
      app.add_option("-p,--prompt", o->prompt, "Message to be processed by the model ('-' reads stdin)")
          ->capture_default_str();
      app.add_option("--system-prompt", o->system_prompt, "System prompt for the chat template");
      app.add_option("--prefill-response", o->prefill_response, "Start of the assistant's reply to continue");
      app.add_flag("--ignore-chat-template", o->ignore_chat_template, "Use the raw prompt without the chat template");
      app.add_option("--extra-eos-token", o->extra_eos, "More tokens (strings or ids) that end generation");
      app.add_option("--verbose", o->verbose, "'false'/'f' prints only the text; anything else adds the stats")
          ->capture_default_str();
      app.add_option("--prompt-ids", o->prompt_ids, "Prompt token ids (comma-separated or a JSON list)");
      app.add_flag("--ignore-eos", o->ignore_eos, "Do not stop at EOS: generate exactly --max-tokens");
      app.add_option("--logprobs", o->logprobs, "Report the top-N log-probabilities of every generated token");
      app.add_flag("--json", o->json, "Print one JSON object instead of streamed text");
      app.add_option("--batch", o->batch, "JSONL file of requests ({id, prompt|messages|prompt_ids, overrides})");
      app.add_option("--output", o->output, "JSONL results of --batch");
      mlx::cli::add_generation_flags(app, o->gen);
      return [o]() -> int { return run(*o); };
    }};
