// Test helper: the e2e fixture models (real vocabulary) assembled into a model directory with their tokenizer.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/fixtures.h"
#include "core/file_io.h"

namespace mlx::test {

struct E2EModel {
  fs::path fixture;                 // the e2e fixture directory (golden.json)
  std::unique_ptr<TempDir> dir;     // model files + tokenizer files, symlinked
  nlohmann::ordered_json golden;
  fs::path path() const { return dir->path(); }
};

// The tokenizer directory named by golden.json "tokenizer" (e.g. "tokenizers/qwen3"), in tests/data or the shared
// fixtures.
inline std::optional<fs::path> find_tokenizer_dir(const std::string& rel) {
  for (const fs::path& root : {test_data_dir(), shared_fixtures_dir()}) {
    std::error_code ec;
    if (fs::is_directory(root / rel, ec)) return root / rel;
  }
  return std::nullopt;
}

inline std::vector<E2EModel> e2e_models() {
  std::vector<E2EModel> out;
  for (const auto& d : fixture_dirs("e2e")) {
    E2EModel m;
    m.fixture = d;
    m.golden = read_json(d / "golden.json");
    auto tok = find_tokenizer_dir(m.golden.value("tokenizer", std::string("tokenizers/qwen3")));
    if (!tok) continue;
    m.dir = std::make_unique<TempDir>();
    for (const auto& e : fs::directory_iterator(d))
      if (e.path().filename() != "golden.json") fs::create_symlink(fs::absolute(e.path()), m.path() / e.path().filename());
    for (const auto& e : fs::directory_iterator(*tok)) {
      auto name = e.path().filename().string();
      if (name.rfind("tokenizer", 0) == 0 || name.rfind("special_tokens", 0) == 0 || name.rfind("chat_template", 0) == 0)
        if (!fs::exists(m.path() / name)) fs::create_symlink(fs::absolute(e.path()), m.path() / name);
    }
    out.push_back(std::move(m));
  }
  return out;
}

// Lines of a string (without the newlines, empty last line dropped).
inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// A bad-input error: exactly one line on stderr, "error: ..." containing `needle`.
inline void expect_one_line_error(const std::string& err, const std::string& needle) {
  auto ls = lines_of(err);
  ASSERT_EQ(ls.size(), 1u) << err;
  EXPECT_EQ(ls[0].rfind("error: ", 0), 0u) << err;
  EXPECT_NE(ls[0].find(needle), std::string::npos) << "expected '" << needle << "' in: " << err;
}

}  // namespace mlx::test
