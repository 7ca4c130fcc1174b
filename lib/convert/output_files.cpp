// config.json, side files and the model card of a converted directory.
#include "convert/output_files.h"

#include <algorithm>

#include "core/error.h"
#include "core/file_io.h"
#include "formats/py_json.h"

namespace mlx::convert {

namespace fs = std::filesystem;

std::string config_json_text(nlohmann::ordered_json config) {
  config.erase("_name_or_path");
  config.erase("vision_config");
  std::vector<std::string> keys;
  for (auto it = config.begin(); it != config.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());  // bytewise on UTF-8 = Python's code point order
  nlohmann::ordered_json sorted = nlohmann::ordered_json::object();
  for (const auto& k : keys) sorted[k] = config[k];
  return formats::python_json_dump(sorted, 4);
}

void copy_side_files(const formats::ModelDir& src, const fs::path& dst) {
  std::vector<fs::path> files = src.tokenizer_files();
  if (auto g = src.generation_config()) files.push_back(*g);
  for (const auto& p : src.python_files()) files.push_back(p);
  for (const auto& f : files) {
    std::error_code ec;
    fs::copy_file(f, dst / f.filename(), fs::copy_options::overwrite_existing, ec);
    if (ec) fail("{}: cannot copy to {}: {}", f.string(), (dst / f.filename()).string(), ec.message());
  }
}

std::string model_card_text(const std::string& source_arg, bool from_hub) {
  std::string s = "---\nlibrary_name: mlx\npipeline_tag: text-generation\ntags:\n- mlx\n";
  if (from_hub) s += "base_model: " + source_arg + "\n";
  s += "---\n";
  return s;
}

}  // namespace mlx::convert
