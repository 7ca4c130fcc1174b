// Typed access to config.json keys with mlx_lm defaults; a key of the wrong type is an error naming file and key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/family.h"

namespace mlx::models {

class ConfigReader {
 public:
  ConfigReader(const Json& config, std::string file) : j_(config), file_(std::move(file)) {}

  // Present and not null.
  bool has(const char* key) const;
  // Required keys (missing -> error) and keys with defaults (missing or null -> default).
  int64_t integer(const char* key) const;
  int64_t integer(const char* key, int64_t def) const;
  double number(const char* key) const;
  double number(const char* key, double def) const;
  bool boolean(const char* key, bool def) const;
  std::string string(const char* key, const std::string& def) const;
  std::optional<int64_t> opt_integer(const char* key) const;
  std::optional<double> opt_number(const char* key) const;

  // Shared pieces every family reads the same way.
  void read_common(ModelConfig& c, double default_rope_theta, bool default_tie) const;
  // RoPE from rope_parameters (transformers 5; `layer_type` selects the per-layer-type entry when there is one)
  // or rope_theta + rope_scaling (classic). `theta_key` lets gemma3 read rope_local_base_freq for sliding layers.
  RopeConfig rope(const ModelConfig& c, const char* layer_type, const char* theta_key, double default_theta,
                  bool allow_scaling) const;
  // layer_types ["sliding_attention", "full_attention", ...] when present (validated length), else empty.
  std::vector<std::string> layer_types(int64_t num_layers) const;
  // eos_token_id as int or list.
  std::vector<int64_t> eos_ids() const;

  const Json& json() const { return j_; }
  const std::string& file() const { return file_; }
  [[noreturn]] void type_error(const char* key, const char* expected) const;

 private:
  const Json& j_;
  std::string file_;
};

double json_number(const Json& v, const std::string& file, const std::string& key);

}  // namespace mlx::models
