// Opening a sharded or single-file weight directory, checked against its index.
#include "formats/weight_set.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace mlx::formats {

WeightSet WeightSet::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail("{}: no such directory", dir.string());
  if (!fs::is_directory(dir, ec)) fail("{}: not a directory", dir.string());
  WeightSet ws;
  const fs::path index_path = dir / "model.safetensors.index.json";
  std::vector<std::pair<std::string, std::string>> expected;  // tensor -> shard file, from the index
  std::vector<std::string> shard_names;
  if (fs::exists(index_path, ec)) {
    auto index = read_json(index_path);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      fail("{}: no \"weight_map\" object", index_path.string());
    std::set<std::string> seen;
    for (const auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) fail("{}: weight_map entry '{}' is not a file name", index_path.string(), name);
      std::string f = file.get<std::string>();
      if (f.find('/') != std::string::npos || f == ".." || f.empty())
        fail("{}: weight_map entry '{}' names a path outside the directory: {}", index_path.string(), name, f);
      expected.emplace_back(name, f);
      if (seen.insert(f).second) shard_names.push_back(f);
    }
    std::sort(shard_names.begin(), shard_names.end());
    for (const auto& f : shard_names)
      if (!fs::exists(dir / f, ec))
        fail("{}: shard {} named in model.safetensors.index.json does not exist", (dir / f).string(), f);
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".safetensors" && e.is_regular_file()) shard_names.push_back(e.path().filename());
    std::sort(shard_names.begin(), shard_names.end());
    if (shard_names.empty()) fail("{}: no *.safetensors files in this directory", dir.string());
  }

  ws.files_.reserve(shard_names.size());
  for (const auto& f : shard_names) ws.files_.push_back(SafetensorsFile::open(dir / f));
  std::map<std::string_view, size_t> where;
  for (size_t i = 0; i < ws.files_.size(); ++i) {
    for (const auto& t : ws.files_[i].tensors()) {
      auto [it, fresh] = where.emplace(t.name, i);
      if (!fresh)
        fail("{}: tensor '{}' is also in {}", ws.files_[i].path().string(), t.name,
             ws.files_[it->second].path().filename().string());
      ws.tensors_.push_back(&t);
      ws.owner_[&t] = i;
    }
  }
  for (const auto& [name, file] : expected) {
    auto it = where.find(name);
    if (it == where.end())
      fail("{}: tensor '{}' listed in model.safetensors.index.json is missing", (dir / file).string(), name);
    if (ws.files_[it->second].path().filename() != file)
      fail("{}: tensor '{}' is in {}, not in {} as the index says", index_path.string(), name,
           ws.files_[it->second].path().filename().string(), file);
  }
  std::sort(ws.tensors_.begin(), ws.tensors_.end(), [](auto* a, auto* b) { return a->name < b->name; });
  return ws;
}

const TensorView* WeightSet::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView* t, std::string_view n) { return t->name < n; });
  return it != tensors_.end() && (*it)->name == name ? *it : nullptr;
}

const SafetensorsFile& WeightSet::file_of(const TensorView& t) const { return files_[owner_.at(&t)]; }

uint64_t WeightSet::total_bytes() const {
  uint64_t n = 0;
  for (auto* t : tensors_) n += t->nbytes;
  return n;
}

}  // namespace mlx::formats
