// Shared helpers of the convert tests: running `mlx`, reading outputs, and what convert must do to source names.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "common/fixtures.h"
#include "core/file_io.h"
#include "formats/safetensors.h"
#include "formats/weight_set.h"

namespace mlx::test {

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline CliResult mlx_cli(const std::string& args) {
  CliResult r;
  r.out = run_cli(args, &r.code, &r.err);
  return r;
}

// Source tensor name -> (output tensor name, expert index or -1), per mlx-reference.md §b (independent of lib/models).
inline std::pair<std::string, int> expected_name(const std::string& name) {
  static const std::regex re(R"(^(.*)\.experts\.(\d+)\.([A-Za-z0-9_]+)\.weight$)");
  std::smatch m;
  if (!std::regex_match(name, m, re)) return {name, -1};
  std::string proj = m[3].str();
  if (proj == "w1") proj = "gate_proj";
  if (proj == "w3") proj = "up_proj";
  if (proj == "w2") proj = "down_proj";
  return {m[1].str() + ".switch_mlp." + proj + ".weight", std::stoi(m[2].str())};
}

inline bool tied(const fs::path& model) {
  auto c = read_json(model / "config.json");
  return c.contains("tie_word_embeddings") && c["tie_word_embeddings"].is_boolean() &&
         c["tie_word_embeddings"].get<bool>();
}

// The float tensor convert starts from, for each output weight name (experts stacked in index order).
struct SourceWeight {
  DType dtype;
  formats::Shape shape;
  std::string bytes;
};
inline std::map<std::string, SourceWeight> expected_float_tensors(const fs::path& model) {
  formats::WeightSet ws = formats::WeightSet::open(model);
  const bool is_tied = tied(model);
  std::map<std::string, std::map<int, const formats::TensorView*>> stacks;
  std::map<std::string, SourceWeight> out;
  for (const auto* t : ws.tensors()) {
    if (t->name.size() >= 9 && t->name.compare(t->name.size() - 9, 9, ".inv_freq") == 0) continue;
    if (is_tied && t->name.rfind("lm_head.", 0) == 0) continue;
    auto [name, e] = expected_name(t->name);
    if (e < 0) {
      out[name] = {t->dtype, t->shape, std::string(reinterpret_cast<const char*>(t->data), t->nbytes)};
    } else {
      stacks[name][e] = t;
    }
  }
  for (auto& [name, experts] : stacks) {
    SourceWeight w{experts.begin()->second->dtype, experts.begin()->second->shape, ""};
    w.shape.insert(w.shape.begin(), int64_t(experts.size()));
    for (auto& [e, t] : experts) w.bytes.append(reinterpret_cast<const char*>(t->data), t->nbytes);
    out[name] = w;
  }
  return out;
}

inline std::string bytes_of(const formats::TensorView& t) {
  return std::string(reinterpret_cast<const char*>(t.data), t.nbytes);
}

// True when nothing named like the output or its partial directory exists next to it.
inline bool no_output_left(const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec)) return false;
  for (const auto& e : fs::directory_iterator(out.parent_path(), ec))
    if (e.path().filename().string().find(".partial-") != std::string::npos) return false;
  return true;
}

}  // namespace mlx::test
