// The non-weight files of an MLX directory: config.json (mlx_lm's save_config), tokenizer files,
// generation_config.json and *.py copied from the source, and the model card README.md.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "formats/model_dir.h"

namespace mlx::convert {

// mlx_lm save_config: drops _name_or_path and vision_config, sorts the top-level keys, json.dump(indent=4).
std::string config_json_text(nlohmann::ordered_json config);

// Copies tokenizer files, generation_config.json and every *.py from `src` into `dst` (bytes unchanged).
void copy_side_files(const formats::ModelDir& src, const std::filesystem::path& dst);

// The Hugging Face model card mlx_lm writes (library_name mlx, pipeline_tag text-generation, tags [mlx],
// base_model only when the source was a hub repo id).
std::string model_card_text(const std::string& source_arg, bool from_hub);

}  // namespace mlx::convert
