// Model directories and the --model resolver (local directory or Hugging Face cache, never the network).
#include "formats/model_dir.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "core/error.h"
#include "core/file_io.h"

namespace mlx::formats {

namespace {

fs::path hub_cache_dir() {
  if (const char* c = std::getenv("HF_HUB_CACHE"); c && *c) return c;
  if (const char* h = std::getenv("HF_HOME"); h && *h) return fs::path(h) / "hub";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "huggingface" / "hub";
  return fs::path(".cache") / "huggingface" / "hub";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

bool is_hf_repo_id(const std::string& arg) {
  auto slash = arg.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == arg.size()) return false;
  if (arg.find('/', slash + 1) != std::string::npos) return false;
  if (arg[0] == '.' || arg[0] == '~') return false;
  for (char c : arg)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/')) return false;
  return true;
}

fs::path resolve_model_path(const std::string& arg) {
  std::error_code ec;
  if (arg.empty()) usage_fail("no model given (--model DIR or a Hugging Face repo id)");
  fs::path p(arg);
  if (fs::is_directory(p, ec)) return p;
  if (fs::exists(p, ec)) fail("{}: not a directory (a model is a directory with config.json)", arg);
  if (!is_hf_repo_id(arg)) fail("{}: no such directory", arg);
  const fs::path cache = hub_cache_dir();
  const fs::path model = cache / ("models--" + arg.substr(0, arg.find('/')) + "--" + arg.substr(arg.find('/') + 1));
  if (!fs::is_directory(model / "snapshots", ec))
    fail("{}: no such directory, and not in the Hugging Face cache ({} does not exist; mlx does not download)",
         arg, model.string());
  std::string rev;
  if (fs::exists(model / "refs" / "main", ec)) rev = trim(read_file(model / "refs" / "main"));
  if (rev.empty()) {
    // No refs/main: accept the snapshot when there is exactly one.
    std::vector<fs::path> snaps;
    for (const auto& e : fs::directory_iterator(model / "snapshots", ec))
      if (e.is_directory()) snaps.push_back(e.path());
    if (snaps.size() != 1)
      fail("{}: {} has no refs/main and {} snapshots; cannot choose", arg, model.string(), snaps.size());
    return snaps[0];
  }
  fs::path snap = model / "snapshots" / rev;
  if (!fs::is_directory(snap, ec))
    fail("{}: snapshot {} named by refs/main is not in the cache ({})", arg, rev, snap.string());
  return snap;
}

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {
      "tokenizer.json",     "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
      "chat_template.jinja", "chat_template.json",   "tokenizer.model",         "vocab.json",
      "merges.txt",         "spiece.model",          "tokenizer.json.zst"};
  return names;
}

ModelDir ModelDir::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail("{}: no such directory", dir.string());
  if (!fs::is_directory(dir, ec)) fail("{}: not a directory", dir.string());
  const fs::path cfg = dir / "config.json";
  if (!fs::exists(cfg, ec)) fail("{}: no such file (a model directory needs config.json)", cfg.string());
  ModelDir m;
  m.path = dir;
  m.config = read_json(cfg);
  if (!m.config.is_object()) fail("{}: not a JSON object", cfg.string());
  return m;
}

std::string ModelDir::model_type() const {
  auto it = config.find("model_type");
  return it != config.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<fs::path> ModelDir::tokenizer_files() const {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& n : tokenizer_file_names())
    if (fs::is_regular_file(path / n, ec)) out.push_back(path / n);
  return out;
}

std::optional<fs::path> ModelDir::generation_config() const {
  std::error_code ec;
  if (fs::is_regular_file(path / "generation_config.json", ec)) return path / "generation_config.json";
  return std::nullopt;
}

std::vector<fs::path> ModelDir::python_files() const {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.is_regular_file() && e.path().extension() == ".py") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::ordered_json ModelDir::effective_config() const {
  nlohmann::ordered_json c = config;
  if (auto g = generation_config()) {
    nlohmann::ordered_json gen;
    try {
      gen = nlohmann::ordered_json::parse(read_file(*g));
    } catch (const nlohmann::json::exception&) {
      return c;  // mlx_lm ignores an unreadable generation_config.json here
    }
    // Python truthiness: a missing, null, 0, false or empty-list eos_token_id leaves config.json's value.
    if (gen.is_object() && gen.contains("eos_token_id")) {
      const auto& e = gen["eos_token_id"];
      bool truthy = !(e.is_null() || (e.is_boolean() && !e.get<bool>()) || (e.is_number() && e.get<double>() == 0) ||
                      (e.is_array() && e.empty()) || (e.is_string() && e.get<std::string>().empty()));
      if (truthy) c["eos_token_id"] = e;
    }
  }
  return c;
}

}  // namespace mlx::formats
