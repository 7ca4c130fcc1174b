// Locating the MLX quantization reference files and naming their keys, for the quant tests.
#pragma once

#include <algorithm>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "core/dtype.h"
#include "quant/affine.h"
#include "quant/spec.h"
#include "safetensors_lite.h"

namespace mlx::test {

// Every x.safetensors / x.safetensors.zst in tests/data/quant/ and <shared fixtures>/quant/.
inline std::vector<fs::path> quant_fixture_files() {
  std::vector<fs::path> out;
  for (const fs::path& root : {test_data_dir() / "quant", shared_fixtures_dir() / "quant"}) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) continue;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      const std::string name = entry.path().filename().string();
      const bool st = name.ends_with(".safetensors") || name.ends_with(".safetensors.zst");
      if (entry.is_regular_file() && st) out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Which MLX path produced a file: by name ("gpu"/"cpu"), else by its producer metadata.
inline std::optional<mlx::quant::Rounding> file_rounding(const fs::path& path, const LiteFile& file) {
  const std::string name = path.filename().string();
  if (name.find("gpu") != std::string::npos) return mlx::quant::Rounding::Gpu;
  if (name.find("cpu") != std::string::npos) return mlx::quant::Rounding::Cpu;
  auto it = file.metadata.find("producer");
  if (it != file.metadata.end()) {
    if (it->second.find("Metal") != std::string::npos) return mlx::quant::Rounding::Gpu;
    if (it->second.find("mlx") == 0) return mlx::quant::Rounding::Cpu;
  }
  return std::nullopt;
}

inline std::optional<mlx::DType> short_dtype(const std::string& s) {
  if (s == "f32") return mlx::DType::F32;
  if (s == "f16") return mlx::DType::F16;
  if (s == "bf16") return mlx::DType::BF16;
  return std::nullopt;
}

// q_DT_bB_gG_w -> (DT, B, G)
struct AffineKey {
  std::string prefix;  // "q_DT_bB_gG"
  std::string dt_name;
  mlx::DType dt;
  int bits;
  int group;
};

inline std::vector<AffineKey> affine_keys(const LiteFile& file) {
  static const std::regex re("^(q_(f32|bf16|f16)_b([0-9]+)_g([0-9]+))_w$");
  std::vector<AffineKey> keys;
  for (const auto& [name, t] : file.tensors) {
    std::smatch m;
    if (!std::regex_match(name, m, re)) continue;
    keys.push_back({m[1], m[2], *short_dtype(m[2]), std::stoi(m[3]), std::stoi(m[4])});
  }
  return keys;
}

// q_DT_MODE_w -> (DT, MODE)
struct FpKey {
  std::string prefix;
  std::string dt_name;
  mlx::DType dt;
  mlx::quant::QuantMode mode;
};

inline std::vector<FpKey> fp_keys(const LiteFile& file) {
  static const std::regex re("^(q_(f32|bf16|f16)_([a-z0-9]+))_w$");
  std::vector<FpKey> keys;
  for (const auto& [name, t] : file.tensors) {
    std::smatch m;
    if (!std::regex_match(name, m, re)) continue;
    auto mode = mlx::quant::parse_quant_mode(m[3].str());
    if (!mode || *mode == mlx::quant::QuantMode::Affine) continue;
    keys.push_back({m[1], m[2], *short_dtype(m[2]), *mode});
  }
  return keys;
}

// Number of elements (of `elem` bytes) whose bit patterns differ; first differing index in *first.
inline int64_t count_diffs(const std::string& a, const std::string& b, size_t elem, int64_t* first = nullptr) {
  if (a.size() != b.size()) return -1;
  int64_t n = 0;
  for (size_t i = 0; i < a.size(); i += elem) {
    if (std::memcmp(a.data() + i, b.data() + i, elem) != 0) {
      if (n == 0 && first) *first = static_cast<int64_t>(i / elem);
      ++n;
    }
  }
  return n;
}

}  // namespace mlx::test
