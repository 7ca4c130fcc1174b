// Test helpers: where golden fixtures live, and running the built `mlx` binary.
#pragma once
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace mlx::test {

namespace fs = std::filesystem;

inline fs::path test_data_dir() { return fs::path(MLX_TEST_DATA); }

// The shared fixtures beside the checkout (MLX_FIXTURES overrides); may not exist.
inline fs::path shared_fixtures_dir() {
  if (const char* env = std::getenv("MLX_FIXTURES")) return fs::path(env);
  return fs::path(MLX_SHARED_FIXTURES);
}

// Every subdirectory of tests/data/<kind>/ and of <shared fixtures>/<kind>/, sorted, so that tests iterate over
// whatever fixtures exist (held-back fixtures of the same layout are dropped into either place).
inline std::vector<fs::path> fixture_dirs(const std::string& kind) {
  std::vector<fs::path> out;
  for (const fs::path& root : {test_data_dir() / kind, shared_fixtures_dir() / kind}) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) continue;
    for (const auto& entry : fs::directory_iterator(root, ec))
      if (entry.is_directory()) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every file named `name` (or `name.zst`) found under tests/data/<kind>/ and <shared fixtures>/<kind>/ (not recursive).
inline std::vector<fs::path> fixture_files(const std::string& kind, const std::string& extension) {
  std::vector<fs::path> out;
  for (const fs::path& root : {test_data_dir() / kind, shared_fixtures_dir() / kind}) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) continue;
    for (const auto& entry : fs::directory_iterator(root, ec))
      if (entry.is_regular_file() && entry.path().extension() == extension) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A fresh temporary directory, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("mlx-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `mlx <args>` through /bin/sh (args are shell words: quote them yourself), returns stdout; the exit code and
// stderr go to the out-parameters.
inline std::string run_cli(const std::string& args, int* exit_code, std::string* stderr_out = nullptr) {
  TempDir tmp;
  fs::path out = tmp / "stdout", err = tmp / "stderr";
  std::string cmd = std::string("'") + MLX_BIN + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
  int status = std::system(cmd.c_str());
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (exit_code) *exit_code = code;
  if (stderr_out) *stderr_out = slurp(err);
  return slurp(out);
}

// Shell-quotes one word.
inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

}  // namespace mlx::test
