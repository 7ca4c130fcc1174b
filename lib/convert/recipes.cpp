// Quantization decisions per module, following mlx_lm's quantize_model / mixed_quant_predicate_builder.
#include "convert/recipes.h"

#include <fnmatch.h>

#include <cctype>

#include "core/error.h"

namespace mlx::convert {

std::optional<Recipe> parse_recipe(std::string_view name) {
  if (name == "mixed_2_6") return Recipe::Mixed_2_6;
  if (name == "mixed_3_4") return Recipe::Mixed_3_4;
  if (name == "mixed_3_6") return Recipe::Mixed_3_6;
  if (name == "mixed_4_6") return Recipe::Mixed_4_6;
  return std::nullopt;
}

const char* recipe_name(Recipe r) {
  switch (r) {
    case Recipe::Mixed_2_6: return "mixed_2_6";
    case Recipe::Mixed_3_4: return "mixed_3_4";
    case Recipe::Mixed_3_6: return "mixed_3_6";
    case Recipe::Mixed_4_6: return "mixed_4_6";
    default: return "none";
  }
}

bool glob_match(std::string_view glob, std::string_view text) {
  return ::fnmatch(std::string(glob).c_str(), std::string(text).c_str(), 0) == 0;
}

LayerOverride parse_layer_override(const std::string& text) {
  auto eq = text.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    usage_fail("--layer '{}': expected GLOB=BITS or GLOB=BITS:GROUP", text);
  LayerOverride o;
  o.glob = text.substr(0, eq);
  std::string rest = text.substr(eq + 1);
  auto colon = rest.find(':');
  auto parse_int = [&](const std::string& s) {
    if (s.empty() || s.size() > 4) usage_fail("--layer '{}': '{}' is not a number", text, s);
    for (char c : s)
      if (!std::isdigit(static_cast<unsigned char>(c))) usage_fail("--layer '{}': '{}' is not a number", text, s);
    return std::stoi(s);
  };
  o.bits = parse_int(rest.substr(0, colon));
  if (colon != std::string::npos) o.group_size = parse_int(rest.substr(colon + 1));
  return o;
}

QuantPlanner::QuantPlanner(QuantPolicy policy, const models::Family* family, std::vector<std::string> modules,
                           int64_t num_layers)
    : policy_(std::move(policy)), family_(family), modules_(std::move(modules)), num_layers_(num_layers) {
  if (policy_.recipe == Recipe::None) return;
  // mlx_lm: the position of the first all-digit component of the first module path containing "down_proj".
  for (const auto& m : modules_) {
    if (m.find("down_proj") == std::string::npos) continue;
    size_t pos = 0, start = 0;
    while (true) {
      size_t dot = m.find('.', start);
      std::string comp = m.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      bool digits = !comp.empty();
      for (char c : comp) digits = digits && std::isdigit(static_cast<unsigned char>(c));
      if (digits || dot == std::string::npos) {
        layer_position_ = pos;  // like Python's for/break: the last position when nothing matched
        break;
      }
      start = dot + 1;
      ++pos;
    }
    break;
  }
  if (layer_position_ == size_t(-1)) fail("model has no down_proj module: cannot apply the {} recipe", recipe_name(policy_.recipe));
}

std::optional<quant::QuantSpec> QuantPlanner::recipe_spec(const std::string& module) const {
  int high = policy_.recipe == Recipe::Mixed_3_4 ? 4 : 6;
  int low = policy_.recipe == Recipe::Mixed_2_6 ? 2 : policy_.recipe == Recipe::Mixed_4_6 ? 4 : 3;
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = module.find('.', start);
    parts.push_back(module.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  int64_t index = 0;
  if (parts.size() > layer_position_) {
    const std::string& c = parts[layer_position_];
    bool digits = !c.empty() && c.size() < 10;
    for (char ch : c) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
    index = digits ? std::stoll(c) : 0;
  }
  const int64_t n = num_layers_;
  auto pymod = [](int64_t a, int64_t b) { return ((a % b) + b) % b; };
  const bool more = index < n / 8 || index >= 7 * n / 8 || pymod(index - n / 8, 3) == 2;
  auto has = [&](const char* s) { return module.find(s) != std::string::npos; };
  int bits = low;
  if ((has("v_proj") || has("v_a_proj") || has("v_b_proj")) && more) bits = high;
  else if (has("down_proj") && more) bits = high;
  else if (has("lm_head")) bits = high;
  return quant::QuantSpec{quant::QuantMode::Affine, bits, policy_.global.group_size};
}

namespace {
nlohmann::ordered_json spec_entry(const quant::QuantSpec& s, bool with_mode) {
  nlohmann::ordered_json e;
  e["group_size"] = s.group_size;
  e["bits"] = s.bits;
  if (with_mode) e["mode"] = quant::quant_mode_name(s.mode);
  return e;
}
}  // namespace

QuantDecision QuantPlanner::decide(const std::string& module, int64_t last_dim) const {
  QuantDecision d;
  d.spec = policy_.global;
  // mlx_lm checks divisibility against the *global* group size before any predicate runs.
  if (last_dim % policy_.global.group_size != 0) {
    d.why_float = fmt::format("last dim {} not divisible by group size {}", last_dim, policy_.global.group_size);
    return d;
  }
  if (policy_.recipe != Recipe::None) {
    d.spec = *recipe_spec(module);
    d.config_entry = spec_entry(d.spec, true);
  } else if (family_) {
    if (auto o = family_->quant_override(module, policy_.global)) {
      d.spec = *o;
      // mlx_lm stores the family predicate's dict as returned: {"group_size", "bits"}; no mode means affine.
      d.config_entry = spec_entry(d.spec, d.spec.mode != quant::QuantMode::Affine);
    }
  }
  for (const auto& o : policy_.overrides) {
    if (!glob_match(o.glob, module)) continue;
    d.spec = quant::QuantSpec{quant::QuantMode::Affine, o.bits, o.group_size.value_or(policy_.global.group_size)};
    if (policy_.global.mode != quant::QuantMode::Affine && !o.group_size) d.spec.group_size = 64;
    d.config_entry = spec_entry(d.spec, true);
  }
  if (!quant::quantizable_cols(last_dim, d.spec)) {
    d.why_float = fmt::format("last dim {} does not fit {}", last_dim, quant::format_spec(d.spec));
    d.config_entry.reset();
    return d;
  }
  d.quantize = true;
  return d;
}

nlohmann::ordered_json QuantPlanner::global_entry() const { return spec_entry(policy_.global, true); }

}  // namespace mlx::convert
