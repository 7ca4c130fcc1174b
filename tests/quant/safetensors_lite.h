// A tiny safetensors reader for the quant tests (header JSON + byte ranges); the real reader lives in formats/.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/file_io.h"

namespace mlx::test {

struct LiteTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  template <typename T>
  std::vector<T> as() const {
    std::vector<T> v(bytes.size() / sizeof(T));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
    return v;
  }
};

struct LiteFile {
  std::map<std::string, LiteTensor> tensors;
  std::map<std::string, std::string> metadata;

  const LiteTensor& at(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw std::runtime_error("missing tensor " + name);
    return it->second;
  }
  bool has(const std::string& name) const { return tensors.count(name) != 0; }
};

// Reads `path` (x.safetensors or x.safetensors.zst: core's read_file decompresses transparently).
inline LiteFile read_safetensors_lite(const std::filesystem::path& path) {
  const std::string data = mlx::read_file(path);
  if (data.size() < 8) throw std::runtime_error(path.string() + ": too short");
  uint64_t header_len = 0;
  std::memcpy(&header_len, data.data(), 8);
  if (header_len > data.size() - 8) throw std::runtime_error(path.string() + ": bad header length");
  const auto header = nlohmann::json::parse(data.substr(8, header_len));
  const size_t base = 8 + header_len;
  LiteFile file;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : info.items()) file.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    LiteTensor t;
    t.dtype = info.at("dtype").get<std::string>();
    t.shape = info.at("shape").get<std::vector<int64_t>>();
    const auto offsets = info.at("data_offsets").get<std::vector<size_t>>();
    if (offsets.size() != 2 || offsets[0] > offsets[1] || base + offsets[1] > data.size())
      throw std::runtime_error(path.string() + ": bad offsets for " + name);
    t.bytes = data.substr(base + offsets[0], offsets[1] - offsets[0]);
    file.tensors.emplace(name, std::move(t));
  }
  return file;
}

}  // namespace mlx::test
