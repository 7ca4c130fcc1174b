// All tensors of a model directory: model.safetensors.index.json, or every *.safetensors shard found there.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "formats/safetensors.h"

namespace mlx::formats {

class WeightSet {
 public:
  // Errors: missing directory, no safetensors, index not JSON / missing shard / tensors missing vs the index,
  // a tensor present in two shards, and every check of SafetensorsFile::open.
  static WeightSet open(const fs::path& dir);

  const std::vector<const TensorView*>& tensors() const { return tensors_; }  // sorted by name
  const TensorView* find(std::string_view name) const;
  // The shard file holding `t` (for error messages and releasing pages).
  const SafetensorsFile& file_of(const TensorView& t) const;
  void release(const TensorView& t) const { file_of(t).release(t); }
  const std::vector<SafetensorsFile>& files() const { return files_; }
  uint64_t total_bytes() const;

 private:
  std::vector<SafetensorsFile> files_;
  std::vector<const TensorView*> tensors_;
  std::map<const TensorView*, size_t> owner_;
};

}  // namespace mlx::formats
