// Shared helpers of the model tests: golden.json access, float comparisons, temp model directories.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "core/file_io.h"
#include "formats/safetensors.h"
#include "runtime/model.h"

namespace mlx::test {

using Json = nlohmann::ordered_json;

// Model fixture dirs that have a golden.json (or golden.json.zst).
inline std::vector<fs::path> model_fixtures() {
  std::vector<fs::path> out;
  for (const fs::path& d : fixture_dirs("models"))
    if (exists_maybe_zst(d / "golden.json") && fs::exists(d / "model.safetensors")) out.push_back(d);
  return out;
}

inline std::vector<int32_t> ids_of(const Json& a) {
  std::vector<int32_t> v;
  for (const auto& e : a) v.push_back(e.get<int32_t>());
  return v;
}

// Golden floats: shortest decimal of a float32; parse as double and round to float.
inline std::vector<float> floats_of(const Json& a) {
  std::vector<float> v;
  for (const auto& e : a) {
    if (e.is_array()) {
      for (const auto& x : e) v.push_back(static_cast<float>(x.get<double>()));
    } else {
      v.push_back(static_cast<float>(e.get<double>()));
    }
  }
  return v;
}

inline float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float d = std::fabs(a[i] - b[i]);
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

// abs diff <= atol + rtol * |ref| everywhere; returns the index of the first violation or -1.
inline int64_t first_violation(const float* got, const float* ref, size_t n, float atol, float rtol) {
  for (size_t i = 0; i < n; ++i)
    if (!(std::fabs(got[i] - ref[i]) <= atol + rtol * std::fabs(ref[i]))) return static_cast<int64_t>(i);
  return -1;
}

inline int32_t argmax(const float* x, int64_t n) { return static_cast<int32_t>(std::max_element(x, x + n) - x); }

// Copies a model dir's files into `dst` with `config` as config.json (model.safetensors is hard-linked or copied).
inline void clone_model_dir(const fs::path& src, const fs::path& dst, const Json& config) {
  fs::create_directories(dst);
  fs::copy_file(src / "model.safetensors", dst / "model.safetensors", fs::copy_options::overwrite_existing);
  write_file_atomic(dst / "config.json", config.dump(2));
}

// Logits for all positions of `ids` fed in one call.
inline std::vector<float> all_logits(Model& m, const std::vector<int32_t>& ids) {
  auto cache = m.make_cache();
  std::vector<float> out(ids.size() * size_t(m.info().vocab_size));
  m.forward(ids, *cache, out.data(), true);
  return out;
}

}  // namespace mlx::test
