// An MLX weight directory writer: shards of at most 5 GiB and model.safetensors.index.json, as mlx_lm's save().
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/safetensors.h"

namespace mlx::formats {

constexpr uint64_t kMaxShardBytes = uint64_t(5) << 30;

// Shard file names: "model.safetensors" for one shard, else "model-00001-of-0000N.safetensors" (1-based).
std::string shard_file_name(size_t index, size_t count);

class ShardedWriter {
 public:
  // `specs` in parameter order: a new shard starts when adding a tensor would pass `max_shard_bytes`
  // (a single larger tensor gets a shard of its own). Creates the shard files at once (headers first).
  ShardedWriter(const fs::path& dir, std::vector<TensorSpec> specs, uint64_t max_shard_bytes = kMaxShardBytes);

  // Thread-safe; each tensor exactly once.
  void write(std::string_view name, const void* data);
  // Closes every shard and writes the index (metadata.total_size = sum of tensor bytes, total_parameters as given;
  // weight_map sorted; Python json.dump(indent=4) bytes).
  void finish(int64_t total_parameters);

  size_t num_shards() const { return shards_.size(); }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  fs::path dir_;
  std::vector<std::unique_ptr<SafetensorsWriter>> shards_;
  std::map<std::string, size_t, std::less<>> shard_of_;
  uint64_t total_bytes_ = 0;
};

}  // namespace mlx::formats
