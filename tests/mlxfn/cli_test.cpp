// `mlx export` / `mlx import-run` end to end, and each class of bad input: one-line error, exit 1 (2 for usage).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "../common/fixtures.h"
#include "core/file_io.h"

namespace fs = std::filesystem;
using mlx::test::run_cli;

namespace {

fs::path tmp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("mlx_mlxfn_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

fs::path first_model() {
  for (const fs::path& d : mlx::test::fixture_dirs("models"))
    if (d.filename() == "llama") return d;
  return {};
}

void expect_one_line_error(const std::string& err, const std::string& needle) {
  EXPECT_NE(err.find("error: "), std::string::npos) << err;
  EXPECT_NE(err.find(needle), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace

TEST(MlxfnCli, ExportThenImportRunWithExpected) {
  fs::path model = first_model();
  if (model.empty()) GTEST_SKIP() << "no llama fixture";
  fs::path b = tmp_dir("bundle");
  int code = -1;
  std::string err;
  run_cli("export --model " + model.string() + " --out " + b.string() + " --sample-prompt-ids 1,2,3,4,5", &code, &err);
  ASSERT_EQ(code, 0) << err;
  ASSERT_TRUE(fs::exists(b / "function.mlxfn"));
  ASSERT_TRUE(fs::exists(b / "inputs.safetensors"));
  std::string out = run_cli("import-run " + (b / "function.mlxfn").string() + " " + (b / "inputs.safetensors").string() +
                                " --out " + (b / "expected.safetensors").string() + " --iters 1 --warmup 0",
                            &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_NE(out.find("output_0: [1, 5, "), std::string::npos) << out;
  out = run_cli("import-run " + (b / "function.mlxfn").string() + " " + (b / "inputs.safetensors").string() +
                    " --expected " + (b / "expected.safetensors").string() + " --iters 2 --warmup 1 --json",
                &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_NE(out.find("\"max_abs_diff\":0.0"), std::string::npos) << out;
  out = run_cli("import-run --report " + b.string() + " --iters 1 --warmup 0 --json", &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_NE(out.find("\"max_abs_diff\": 0.0"), std::string::npos) << out;
  fs::remove_all(b);
}

TEST(MlxfnCli, BadInputsAreOneLineErrors) {
  fs::path model = first_model();
  if (model.empty()) GTEST_SKIP() << "no llama fixture";
  fs::path b = tmp_dir("bad");
  int code = -1;
  std::string err;
  run_cli("export --model " + model.string() + " --out " + b.string() + " --sample-prompt-ids 1,2,3", &code, &err);
  ASSERT_EQ(code, 0) << err;
  std::string fn = (b / "function.mlxfn").string(), in = (b / "inputs.safetensors").string();

  // truncated file
  std::string bytes = mlx::read_file(fn);
  fs::path cut = b / "cut.mlxfn";
  std::ofstream(cut, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
  run_cli("import-run " + cut.string() + " " + in, &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "cut.mlxfn: truncated file");

  // not an mlxfn file
  fs::path junk = b / "junk.mlxfn";
  std::ofstream(junk, std::ios::binary) << std::string(64, '\xff');
  run_cli("import-run " + junk.string() + " " + in, &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "junk.mlxfn");

  // missing input name
  fs::path names = b / "names.json";
  std::ofstream(names) << "[\"nope\"]";
  run_cli("import-run " + fn + " " + in + " " + names.string(), &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "no tensor named 'nope'");

  // wrong input rank: the inputs file of a function is fed as names file -> not JSON
  run_cli("import-run " + fn + " " + in + " " + in, &code, &err);
  EXPECT_EQ(code, 1);

  // usage errors
  run_cli("import-run " + fn, &code, &err);
  EXPECT_EQ(code, 2);
  run_cli("export --model " + model.string() + " --out " + (b / "x").string() + " --sample-prompt-ids a,b", &code, &err);
  EXPECT_EQ(code, 2);
  // token id outside the vocabulary
  run_cli("export --model " + model.string() + " --out " + (b / "y").string() + " --sample-prompt-ids 99999", &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "outside the vocabulary");
  EXPECT_FALSE(fs::exists(b / "y" / "function.mlxfn"));
  fs::remove_all(b);
}
