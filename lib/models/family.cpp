#include "models/family.h"

#include <algorithm>
#include <map>
#include <regex>

#include "core/error.h"
#include "models/families.h"

namespace mlx::models {

std::string PlannedTensor::module() const {
  static const std::string suffix = ".weight";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return name.substr(0, name.size() - suffix.size());
  return name;
}

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Mixtral's expert names -> the SwitchGLU projection names.
std::string expert_proj_name(const std::string& p) {
  if (p == "w1") return "gate_proj";
  if (p == "w3") return "up_proj";
  if (p == "w2") return "down_proj";
  return p;
}

struct Entry {
  std::string_view type;
  const Family& (*get)();
};

// mistral is llama (mlx_lm remap); the family keeps model_type to honour mistral's sliding window.
const Entry kFamilies[] = {
    {"gemma3_text", &gemma3_text_family}, {"llama", &llama_family},   {"mistral", &llama_family},
    {"mixtral", &mixtral_family},         {"phi3", &phi3_family},     {"qwen2", &qwen2_family},
    {"qwen3", &qwen3_family},             {"qwen3_moe", &qwen3_moe_family},
};

}  // namespace

std::vector<PlannedTensor> Family::sanitize(const ModelConfig& config, std::span<const SourceTensor> tensors) const {
  // <prefix>.experts.<e>.<proj>.<leaf>  (prefix ends in mlp / block_sparse_moe)
  static const std::regex expert_re(R"(^(.*)\.experts\.(\d+)\.([A-Za-z0-9_]+)\.(weight|scales|biases|bias)$)");
  std::vector<PlannedTensor> out;
  struct Group {
    size_t out_index;
    std::map<int64_t, const SourceTensor*> experts;
  };
  std::map<std::string, Group> groups;  // output name -> members
  for (const SourceTensor& t : tensors) {
    if (ends_with(t.name, ".inv_freq")) continue;
    if (config.tie_word_embeddings && t.name.rfind("lm_head.", 0) == 0) continue;
    std::smatch m;
    if (std::regex_match(t.name, m, expert_re)) {
      std::string name = m[1].str() + ".switch_mlp." + expert_proj_name(m[3].str()) + "." + m[4].str();
      auto [it, fresh] = groups.try_emplace(name, Group{out.size(), {}});
      if (fresh) {
        PlannedTensor p;
        p.name = name;
        p.dtype = t.dtype;
        out.push_back(std::move(p));
      }
      int64_t e = std::stoll(m[2].str());
      if (!it->second.experts.emplace(e, &t).second) fail("tensor {} appears twice", t.name);
      continue;
    }
    PlannedTensor p;
    p.name = t.name;
    p.sources = {t.name};
    p.dtype = t.dtype;
    p.shape = t.shape;
    out.push_back(std::move(p));
  }
  for (auto& [name, g] : groups) {
    PlannedTensor& p = out[g.out_index];
    int64_t expected = 0;
    const SourceTensor* first = g.experts.begin()->second;
    for (const auto& [e, t] : g.experts) {
      if (e != expected) fail("{}: expert {} is missing (found expert {})", name, expected, e);
      if (t->shape != first->shape || t->dtype != first->dtype)
        fail("{}: expert {} has a different shape or dtype than expert 0", name, e);
      p.sources.push_back(t->name);
      ++expected;
    }
    p.shape = first->shape;
    p.shape.insert(p.shape.begin(), expected);
  }
  for (PlannedTensor& p : out) p.quantizable = ends_with(p.name, ".weight") && p.shape.size() >= 2;
  return out;
}

std::optional<quant::QuantSpec> Family::quant_override(std::string_view, const quant::QuantSpec&) const {
  return std::nullopt;
}

const Family& family_for(std::string_view model_type, const std::string& file) {
  for (const Entry& e : kFamilies)
    if (e.type == model_type) return e.get();
  std::string list;
  for (const std::string& t : supported_model_types()) list += (list.empty() ? "" : ", ") + t;
  if (model_type.empty()) fail("{}: missing \"model_type\" (supported: {})", file, list);
  fail("{}: unsupported model_type \"{}\" (supported: {})", file, model_type, list);
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> out;
  for (const Entry& e : kFamilies) out.emplace_back(e.type);
  std::sort(out.begin(), out.end());
  return out;
}

ModelConfig parse_model_config(const Json& config, const std::string& file) {
  if (!config.is_object()) fail("{}: not a JSON object", file);
  std::string type;
  if (config.contains("model_type")) {
    if (!config.at("model_type").is_string()) fail("{}: key \"model_type\" must be a string", file);
    type = config.at("model_type").get<std::string>();
  }
  const Family& f = family_for(type, file);
  ModelConfig c = f.parse_config(config, file);
  c.model_type = type;
  c.family = std::string(f.name());
  return c;
}

}  // namespace mlx::models
