// `mlx tokenize`: text -> ids, ids -> text and chat messages -> rendered prompt + ids, for scripts; needs only the
// tokenizer files of a model directory. One JSON line out per JSON line in; failing lines get {"error": ...}.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "command.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#if __has_include("template/chat_template.h")
#include "template/chat_template.h"
#define MLX_TOKENIZE_HAS_TEMPLATE 1
#endif

namespace {

using json = nlohmann::ordered_json;

struct Opts {
  std::string model;
  std::optional<std::string> text;
  bool no_special = false;
  bool count = false;
  bool lossy = false;
};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Makes `s` valid UTF-8: U+FFFD for invalid bytes with --lossy, otherwise an error naming the byte offset.
std::string checked_utf8(const std::string& s, bool lossy, const std::string& what) {
  if (lossy) return mlx::tok::utf8_lossy(s);
  mlx::tok::require_utf8(s, what);
  return s;
}

class LineProcessor {
 public:
  LineProcessor(const Opts& o, const mlx::Tokenizer& tok) : opts_(o), tok_(tok) {}

  json process(const std::string& raw_line) {
    const std::string line = checked_utf8(raw_line, opts_.lossy, "input line");
    json in = json::parse(line, nullptr, false);
    if (in.is_discarded()) mlx::fail("input line is not valid JSON");
    if (!in.is_object()) mlx::fail("input line must be a JSON object with \"text\", \"ids\" or \"messages\"");
    if (in.contains("text")) {
      if (!in["text"].is_string()) mlx::fail("\"text\" must be a string");
      bool add = boolean(in, "add_special_tokens", !opts_.no_special);
      auto ids = tok_.encode(in["text"].get<std::string>(), add);
      return json{{"ids", ids}, {"count", ids.size()}};
    }
    if (in.contains("ids")) {
      const json& ids = in["ids"];
      if (!ids.is_array()) mlx::fail("\"ids\" must be an array of integers");
      std::vector<int32_t> v;
      v.reserve(ids.size());
      for (const json& id : ids) {
        if (!id.is_number_integer()) mlx::fail("\"ids\" must be an array of integers, got {}", id.dump());
        auto x = id.get<int64_t>();
        if (x < 0 || x >= tok_.vocab_size()) mlx::fail("id {} is out of range (vocabulary size {})", x, tok_.vocab_size());
        v.push_back(static_cast<int32_t>(x));
      }
      return json{{"text", tok_.decode(v, boolean(in, "skip_special_tokens", false))}};
    }
    if (in.contains("messages")) return render(in);
    mlx::fail("input object has none of \"text\", \"ids\", \"messages\"");
  }

 private:
  static bool boolean(const json& in, const char* key, bool dflt) {
    auto it = in.find(key);
    if (it == in.end() || it->is_null()) return dflt;
    if (!it->is_boolean()) mlx::fail("\"{}\" must be true or false", key);
    return it->get<bool>();
  }

  json render(const json& in) {
#ifdef MLX_TOKENIZE_HAS_TEMPLATE
    if (!template_loaded_) {
      template_ = mlx::ChatTemplate::load(opts_.model);
      template_loaded_ = true;
    }
    if (!template_) mlx::fail("{}: the model has no chat template", opts_.model);
    if (!in["messages"].is_array()) mlx::fail("\"messages\" must be an array");
    json tools = in.contains("tools") ? in["tools"] : json(nullptr);
    json kwargs = in.contains("chat_template_kwargs") && !in["chat_template_kwargs"].is_null()
                      ? in["chat_template_kwargs"]
                      : json::object();
    if (!kwargs.is_object()) mlx::fail("\"chat_template_kwargs\" must be an object");
    std::string rendered = template_->render(in["messages"], tools, boolean(in, "add_generation_prompt", false),
                                             boolean(in, "continue_final_message", false), kwargs);
    auto ids = tok_.encode(rendered, false);
    return json{{"rendered", rendered}, {"ids", ids}};
#else
    (void)in;
    mlx::fail("chat templates are not available in this build");
#endif
  }

  const Opts& opts_;
  const mlx::Tokenizer& tok_;
#ifdef MLX_TOKENIZE_HAS_TEMPLATE
  bool template_loaded_ = false;
  std::optional<mlx::ChatTemplate> template_;
#endif
};

int run(const Opts& o) {
  mlx::Tokenizer tok = mlx::Tokenizer::load(o.model);
  if (o.text) {
    auto ids = tok.encode(checked_utf8(*o.text, o.lossy, "--text"), !o.no_special);
    if (o.count) std::printf("%zu\n", ids.size());
    else std::printf("%s\n", dump(json{{"ids", ids}, {"count", ids.size()}}).c_str());
    return 0;
  }
  LineProcessor proc(o, tok);
  bool any_failed = false;
  std::string line;
  size_t line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    json out;
    try {
      out = proc.process(line);
    } catch (const std::exception& e) {
      any_failed = true;
      out = json{{"error", std::string(e.what())}};
    }
    std::string s = dump(out);
    s += '\n';
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }
  return any_failed ? 1 : 0;
}

}  // namespace

static mlx::cli::RegisterCommand reg_tokenize{
    "tokenize", "Token ids, counts, decoded text and rendered chat prompts (JSON lines on stdin, or --text)",
    [](CLI::App& app) -> mlx::cli::Runner {
      auto o = std::make_shared<Opts>();
      app.add_option("--model", o->model, "model directory (only the tokenizer files are needed)")->required();
      app.add_option("--text", o->text, "encode this text instead of reading JSON lines from stdin");
      app.add_flag("--no-special", o->no_special, "do not add special tokens (BOS/EOS) when encoding text");
      app.add_flag("--count", o->count, "with --text: print only the number of tokens");
      app.add_flag("--lossy", o->lossy, "replace invalid UTF-8 in the input with U+FFFD instead of failing");
      app.footer(
          "stdin lines: {\"text\": T, \"add_special_tokens\": bool} -> {\"ids\", \"count\"};  {\"ids\": [...], "
          "\"skip_special_tokens\": bool} -> {\"text\"};  {\"messages\": [...], \"tools\", \"add_generation_prompt\", "
          "\"continue_final_message\", \"chat_template_kwargs\"} -> {\"rendered\", \"ids\"}. A failing line gives "
          "{\"error\": ...} and exit code 1.");
      return [o]() -> int {
        if (o->count && !o->text) mlx::usage_fail("--count needs --text");
        return run(*o);
      };
    }};
