// Sharding and the index file, following mlx_lm's save() byte for byte where it matters.
#include "formats/shard_writer.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/file_io.h"
#include "formats/py_json.h"

namespace mlx::formats {

std::string shard_file_name(size_t index, size_t count) {
  if (count == 1) return "model.safetensors";
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, count);
}

ShardedWriter::ShardedWriter(const fs::path& dir, std::vector<TensorSpec> specs, uint64_t max_shard_bytes)
    : dir_(dir) {
  std::vector<std::vector<TensorSpec>> groups(1);
  uint64_t current = 0;
  for (auto& s : specs) {
    const uint64_t n = s.nbytes();
    total_bytes_ += n;
    if (!groups.back().empty() && current + n > max_shard_bytes) {
      groups.emplace_back();
      current = 0;
    }
    current += n;
    groups.back().push_back(std::move(s));
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    for (const auto& s : groups[i])
      if (!shard_of_.emplace(s.name, i).second) fail("{}: tensor '{}' given twice", dir_.string(), s.name);
    shards_.push_back(std::make_unique<SafetensorsWriter>(dir_ / shard_file_name(i, groups.size()), groups[i]));
  }
}

void ShardedWriter::write(std::string_view name, const void* data) {
  auto it = shard_of_.find(name);
  if (it == shard_of_.end()) fail("{}: tensor '{}' was not planned", dir_.string(), name);
  shards_[it->second]->write(name, data);
}

void ShardedWriter::finish(int64_t total_parameters) {
  for (auto& s : shards_) s->finish();
  nlohmann::ordered_json index;
  index["metadata"]["total_size"] = total_bytes_;
  index["metadata"]["total_parameters"] = total_parameters;
  index["weight_map"] = nlohmann::ordered_json::object();
  for (const auto& [name, i] : shard_of_)  // std::map: sorted, as mlx_lm sorts weight_map
    index["weight_map"][name] = shard_file_name(i, shards_.size());
  write_file_atomic(dir_ / "model.safetensors.index.json", python_json_dump(index, 4));
}

}  // namespace mlx::formats
