// A model directory (config.json, weights, tokenizer files, generation_config.json, *.py) and the shared
// --model / --hf-path resolver: a directory, or a Hugging Face repo id already in the local HF cache.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mlx::formats {

namespace fs = std::filesystem;

// `arg` is a directory -> that directory. Otherwise, if it looks like "ORG/NAME", the snapshot named by
// refs/main in $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub (models--ORG--NAME/snapshots/<rev>/).
// Anything else is an mlx::Error that says where it looked (there is no network download).
fs::path resolve_model_path(const std::string& arg);
// True when `arg` was resolved through the cache (used for the model card's base_model).
bool is_hf_repo_id(const std::string& arg);

// Files the tokenizer needs, copied by convert when present.
const std::vector<std::string>& tokenizer_file_names();

struct ModelDir {
  fs::path path;
  nlohmann::ordered_json config;  // config.json, key order kept

  // Reads config.json: error if the directory or the file is missing, not JSON, or not an object.
  static ModelDir open(const fs::path& dir);

  std::string model_type() const;  // "" when absent
  std::vector<fs::path> tokenizer_files() const;
  std::optional<fs::path> generation_config() const;
  std::vector<fs::path> python_files() const;  // *.py, sorted
  // mlx_lm's load_config: config.json with eos_token_id taken from generation_config.json when that sets one.
  nlohmann::ordered_json effective_config() const;
};

}  // namespace mlx::formats
