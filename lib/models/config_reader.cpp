#include "models/config_reader.h"

#include <cmath>

#include "core/error.h"

namespace mlx::models {

namespace {
const char* type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "a list";
    case Json::value_t::object: return "an object";
    case Json::value_t::number_float: return "a float";
    default: return "an integer";
  }
}
}  // namespace

void ConfigReader::type_error(const char* key, const char* expected) const {
  fail("{}: key \"{}\" must be {}, got {}", file_, key, expected, type_name(j_.at(key)));
}

double json_number(const Json& v, const std::string& file, const std::string& key) {
  if (!v.is_number()) fail("{}: key \"{}\" must be a number, got {}", file, key, type_name(v));
  return v.get<double>();
}

bool ConfigReader::has(const char* key) const { return j_.is_object() && j_.contains(key) && !j_.at(key).is_null(); }

int64_t ConfigReader::integer(const char* key) const {
  if (!has(key)) fail("{}: missing required key \"{}\"", file_, key);
  const Json& v = j_.at(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) == d && std::abs(d) < 9e15) return static_cast<int64_t>(d);
  }
  type_error(key, "an integer");
}
int64_t ConfigReader::integer(const char* key, int64_t def) const { return has(key) ? integer(key) : def; }
std::optional<int64_t> ConfigReader::opt_integer(const char* key) const {
  if (!has(key)) return std::nullopt;
  return integer(key);
}

double ConfigReader::number(const char* key) const {
  if (!has(key)) fail("{}: missing required key \"{}\"", file_, key);
  const Json& v = j_.at(key);
  if (!v.is_number()) type_error(key, "a number");
  return v.get<double>();
}
double ConfigReader::number(const char* key, double def) const { return has(key) ? number(key) : def; }
std::optional<double> ConfigReader::opt_number(const char* key) const {
  if (!has(key)) return std::nullopt;
  return number(key);
}

bool ConfigReader::boolean(const char* key, bool def) const {
  if (!has(key)) return def;
  const Json& v = j_.at(key);
  if (!v.is_boolean()) type_error(key, "a boolean");
  return v.get<bool>();
}

std::string ConfigReader::string(const char* key, const std::string& def) const {
  if (!has(key)) return def;
  const Json& v = j_.at(key);
  if (!v.is_string()) type_error(key, "a string");
  return v.get<std::string>();
}

std::vector<int64_t> ConfigReader::eos_ids() const {
  std::vector<int64_t> out;
  if (!has("eos_token_id")) return out;
  const Json& v = j_.at("eos_token_id");
  if (v.is_number_integer()) {
    out.push_back(v.get<int64_t>());
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_number_integer()) type_error("eos_token_id", "an integer or a list of integers");
      out.push_back(e.get<int64_t>());
    }
  } else {
    type_error("eos_token_id", "an integer or a list of integers");
  }
  return out;
}

std::vector<std::string> ConfigReader::layer_types(int64_t num_layers) const {
  std::vector<std::string> out;
  if (!has("layer_types")) return out;
  const Json& v = j_.at("layer_types");
  if (!v.is_array()) type_error("layer_types", "a list of strings");
  for (const auto& e : v) {
    if (!e.is_string()) type_error("layer_types", "a list of strings");
    out.push_back(e.get<std::string>());
  }
  if (static_cast<int64_t>(out.size()) != num_layers)
    fail("{}: layer_types has {} entries but num_hidden_layers is {}", file_, out.size(), num_layers);
  return out;
}

void ConfigReader::read_common(ModelConfig& c, double default_rope_theta, bool default_tie) const {
  (void)default_rope_theta;
  c.model_type = string("model_type", "");
  c.hidden_size = integer("hidden_size");
  c.num_layers = integer("num_hidden_layers");
  c.intermediate_size = integer("intermediate_size", 0);
  c.num_heads = integer("num_attention_heads");
  c.num_kv_heads = integer("num_key_value_heads", c.num_heads);
  c.vocab_size = integer("vocab_size");
  c.rms_norm_eps = number("rms_norm_eps", 1e-6);
  if (c.hidden_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 || c.num_kv_heads <= 0 || c.vocab_size <= 0)
    fail("{}: hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads and vocab_size must be > 0",
         file_);
  if (c.num_heads % c.num_kv_heads != 0)
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", file_, c.num_heads,
         c.num_kv_heads);
  c.head_dim = integer("head_dim", c.hidden_size / c.num_heads);
  if (c.head_dim <= 0) fail("{}: head_dim must be > 0", file_);
  c.max_position_embeddings = integer("max_position_embeddings", 0);
  c.tie_word_embeddings = boolean("tie_word_embeddings", default_tie);
  c.attn_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));
  c.eos_token_ids = eos_ids();
  c.bos_token_id = opt_integer("bos_token_id");
  c.layers.assign(static_cast<size_t>(c.num_layers), LayerConfig{});
}

namespace {
// The rope dict to read: rope_parameters (maybe per layer type) or rope_scaling; nullptr when neither.
const Json* rope_dict(const ConfigReader& r, const char* layer_type) {
  const Json& j = r.json();
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!r.has(key)) continue;
    const Json& d = j.at(key);
    if (!d.is_object()) r.type_error(key, "an object");
    // transformers 5 may key rope_parameters by layer type; a family without layer kinds uses full_attention's.
    const char* pick = layer_type ? layer_type : "full_attention";
    if (d.contains(pick) && d.at(pick).is_object()) return &d.at(pick);
    if (d.contains("full_attention") || d.contains("sliding_attention")) return nullptr;
    return &d;
  }
  return nullptr;
}

std::vector<double> number_list(const Json& v, const std::string& file, const char* key) {
  if (!v.is_array()) fail("{}: rope key \"{}\" must be a list of numbers", file, key);
  std::vector<double> out;
  for (const auto& e : v) out.push_back(json_number(e, file, key));
  return out;
}
}  // namespace

RopeConfig ConfigReader::rope(const ModelConfig& c, const char* layer_type, const char* theta_key,
                              double default_theta, bool allow_scaling) const {
  RopeConfig r;
  r.max_position_embeddings = c.max_position_embeddings;
  r.base = number(theta_key, default_theta);
  double partial = number("partial_rotary_factor", 1.0);
  r.traditional = boolean("rope_traditional", false);
  const Json* d = rope_dict(*this, layer_type);
  if (d) {
    auto num = [&](const char* k) -> std::optional<double> {
      if (!d->contains(k) || d->at(k).is_null()) return std::nullopt;
      return json_number(d->at(k), file_, k);
    };
    // rope_parameters carries rope_theta itself (transformers 5); the classic form keeps it top-level.
    if (auto t = num("rope_theta")) r.base = *t;
    if (auto p = num("partial_rotary_factor")) partial = *p;
    std::string type = "default";
    for (const char* k : {"rope_type", "type"})
      if (d->contains(k) && d->at(k).is_string()) {
        type = d->at(k).get<std::string>();
        break;
      }
    if (type == "su") type = "longrope";
    if (allow_scaling) {
      r.type = type;
      if (auto f = num("factor")) r.factor = *f;
      if (auto v = num("low_freq_factor")) r.low_freq_factor = *v;
      if (auto v = num("high_freq_factor")) r.high_freq_factor = *v;
      r.original_max_position_embeddings = num("original_max_position_embeddings");
      if (auto v = num("beta_fast")) r.beta_fast = *v;
      if (auto v = num("beta_slow")) r.beta_slow = *v;
      r.mscale = num("mscale");
      r.mscale_all_dim = num("mscale_all_dim");
      r.attention_factor = num("attention_factor");
      if (d->contains("truncate") && d->at("truncate").is_boolean()) r.truncate = d->at("truncate").get<bool>();
      if (d->contains("short_factor")) r.short_factor = number_list(d->at("short_factor"), file_, "short_factor");
      if (d->contains("long_factor")) r.long_factor = number_list(d->at("long_factor"), file_, "long_factor");
    }
  }
  if (!r.original_max_position_embeddings && has("original_max_position_embeddings"))
    r.original_max_position_embeddings = number("original_max_position_embeddings");
  static const char* known[] = {"default", "linear", "dynamic", "llama3", "yarn", "longrope"};
  bool ok = false;
  for (const char* k : known) ok = ok || r.type == k;
  if (!ok) fail("{}: unsupported rope type \"{}\" (supported: default, linear, dynamic, llama3, yarn, longrope)", file_,
                r.type);
  r.rotary_dim = static_cast<int64_t>(static_cast<double>(c.head_dim) * partial);
  r.rotary_dim -= r.rotary_dim % 2;
  if (r.rotary_dim <= 0 || r.rotary_dim > c.head_dim) fail("{}: partial_rotary_factor {} is out of range", file_, partial);
  if (r.type == "longrope") {
    size_t half = static_cast<size_t>(r.rotary_dim / 2);
    if (r.long_factor.size() != half || r.short_factor.size() != half)
      fail("{}: longrope short_factor and long_factor need {} values each", file_, half);
  }
  return r;
}

}  // namespace mlx::models
