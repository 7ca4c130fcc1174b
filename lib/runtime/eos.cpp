#include "runtime/eos.h"

#include <algorithm>

#include "core/error.h"
#include "core/file_io.h"

namespace mlx::runtime {

namespace {
// eos_token_id may be an int, a list of ints, or null. Returns nullopt when absent / null / empty (falsy).
std::optional<std::vector<int32_t>> read_eos(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::nullopt;
  auto json = read_json(file);
  if (!json.is_object() || !json.contains("eos_token_id")) return std::nullopt;
  const auto& v = json["eos_token_id"];
  std::vector<int32_t> ids;
  auto bad = [&]() { fail("{}: eos_token_id must be an integer or a list of integers", file.string()); };
  if (v.is_null()) return std::nullopt;
  if (v.is_number_integer()) {
    ids.push_back(v.get<int32_t>());
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_number_integer()) bad();
      ids.push_back(e.get<int32_t>());
    }
  } else {
    bad();
  }
  if (ids.empty()) return std::nullopt;
  return ids;
}
}  // namespace

std::vector<int32_t> config_eos_ids(const std::filesystem::path& model_dir) {
  auto ids = read_eos(model_dir / "generation_config.json");
  if (!ids) ids = read_eos(model_dir / "config.json");
  std::vector<int32_t> out;
  if (ids)
    for (int32_t id : *ids)
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  return out;
}

std::vector<int32_t> resolve_eos_ids(const std::filesystem::path& model_dir, std::optional<int32_t> tokenizer_eos) {
  auto ids = config_eos_ids(model_dir);
  if (ids.empty() && tokenizer_eos) ids.push_back(*tokenizer_eos);
  return ids;
}

}  // namespace mlx::runtime
