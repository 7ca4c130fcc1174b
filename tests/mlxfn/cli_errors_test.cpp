// `mlx import-run` on small hand-built functions: every class of bad input gives exit 1 (2 for usage) and one
// line naming the file; Ctrl-C during the iterations exits 130 and writes nothing; --report writes its JSON.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "../common/fixtures.h"
#include "formats/safetensors.h"
#include "mlxfn_bytes.h"

namespace fs = std::filesystem;
using mlx::test::run_cli;
using mlx::test::TempDir;
using namespace mlxfn_test;

namespace {

// A one-input function: y = exp(x), x float32 [2, 3], shapeless.
std::string exp_function() {
  Bytes f;
  f.str("0.32.2").i32(1).b(true).str("");
  f.u64(0).u64(1).u64(1).u64(1).shape({2, 3}).dtype(10, 4).u64(1).u64(2);
  f.u64(2);
  f.u64(1).b(false).b(false);
  f.u64(2).b(true).u64(1).u64(1).stream(1).str("Exp").u64(0).shape({2, 3}).dtype(10, 4);
  return f.s;
}

void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

void write_input(const fs::path& p, mlx::DType dt, std::vector<int64_t> shape, const std::string& name = "x") {
  mlx::formats::OwnedTensor t;
  t.spec = {name, dt, shape};
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  t.bytes.assign(size_t(n) * mlx::dtype_size(dt), '\0');
  mlx::formats::write_safetensors(p, {t});
}

void expect_one_line_error(int code, int want, const std::string& err, const std::string& needle) {
  EXPECT_EQ(code, want) << err;
  EXPECT_NE(err.find("error: "), std::string::npos) << err;
  EXPECT_NE(err.find(needle), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace

TEST(MlxfnImportRun, EveryBadInputClass) {
  TempDir d;
  write(d / "f.mlxfn", exp_function());
  write_input(d / "in.safetensors", mlx::DType::F32, {2, 5});
  int code = -1;
  std::string err;
  std::string out = run_cli("import-run " + (d / "f.mlxfn").string() + " " + (d / "in.safetensors").string() + " --iters 1 --warmup 0", &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_NE(out.find("output_0: [2, 5] float32"), std::string::npos) << out;

  // missing function file
  run_cli("import-run " + (d / "nope.mlxfn").string() + " " + (d / "in.safetensors").string(), &code, &err);
  expect_one_line_error(code, 1, err, "nope.mlxfn");
  // missing inputs file
  run_cli("import-run " + (d / "f.mlxfn").string() + " " + (d / "nope.safetensors").string(), &code, &err);
  expect_one_line_error(code, 1, err, "nope.safetensors");
  // truncated function
  std::string bytes = exp_function();
  write(d / "cut.mlxfn", bytes.substr(0, bytes.size() - 3));
  run_cli("import-run " + (d / "cut.mlxfn").string() + " " + (d / "in.safetensors").string(), &code, &err);
  expect_one_line_error(code, 1, err, "cut.mlxfn: truncated file");
  // unknown primitive: named with the MLX version of the file
  write(d / "unk.mlxfn", one_primitive_file("0.32.2", "FrobnicateXYZ", ""));
  run_cli("import-run " + (d / "unk.mlxfn").string() + " " + (d / "in.safetensors").string(), &code, &err);
  expect_one_line_error(code, 1, err, "unk.mlxfn: unsupported primitive 'FrobnicateXYZ' (file written by MLX 0.32.2)");
  // wrong input dtype and wrong ndim
  write_input(d / "i32.safetensors", mlx::DType::I32, {2, 3});
  run_cli("import-run " + (d / "f.mlxfn").string() + " " + (d / "i32.safetensors").string(), &code, &err);
  expect_one_line_error(code, 1, err, "f.mlxfn: no trace matches the inputs: input 0 must be float32, got int32");
  write_input(d / "rank1.safetensors", mlx::DType::F32, {6});
  run_cli("import-run " + (d / "f.mlxfn").string() + " " + (d / "rank1.safetensors").string(), &code, &err);
  expect_one_line_error(code, 1, err, "f.mlxfn: no trace matches the inputs: input 0 must have shape");
  // bad names JSON: not JSON, not an array, a missing tensor
  write(d / "bad.json", "[\"x\"");
  run_cli("import-run " + (d / "f.mlxfn").string() + " " + (d / "in.safetensors").string() + " " + (d / "bad.json").string(), &code, &err);
  expect_one_line_error(code, 1, err, "bad.json");
  write(d / "obj.json", "{\"x\": 0}");
  run_cli("import-run " + (d / "f.mlxfn").string() + " " + (d / "in.safetensors").string() + " " + (d / "obj.json").string(), &code, &err);
  expect_one_line_error(code, 1, err, "obj.json: expected a JSON array of tensor names");
  write(d / "names.json", "[\"y\"]");
  run_cli("import-run " + (d / "f.mlxfn").string() + " " + (d / "in.safetensors").string() + " " + (d / "names.json").string(), &code, &err);
  expect_one_line_error(code, 1, err, "in.safetensors: no tensor named 'y'");
  // usage
  run_cli("import-run " + (d / "f.mlxfn").string(), &code, &err);
  EXPECT_EQ(code, 2) << err;
  EXPECT_FALSE(fs::exists(d / "o.safetensors"));
}

TEST(MlxfnImportRun, CtrlCExits130AndWritesNothing) {
  TempDir d;
  write(d / "f.mlxfn", exp_function());
  write_input(d / "in.safetensors", mlx::DType::F32, {2, 3});
  fs::path out = d / "out.safetensors";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string f = (d / "f.mlxfn").string(), in = (d / "in.safetensors").string(), o = out.string();
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(MLX_BIN, MLX_BIN, "import-run", f.c_str(), in.c_str(), "--out", o.c_str(), "--iters", "2000000000",
            "--warmup", "1", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until the child has spent 0.3 s of CPU (it is then iterating, long past installing its handler; the
  // load itself takes milliseconds), so a loaded machine does not make the signal arrive too early.
  auto cpu_ticks = [pid]() {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string field;
    long ticks = 0;
    for (int i = 1; i <= 15 && stat >> field; ++i)
      if (i == 14 || i == 15) ticks += std::atol(field.c_str());
    return ticks;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (cpu_ticks() < 30 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_FALSE(fs::exists(out));
}

TEST(MlxfnImportRun, ReportPrintsTheTableAndWritesJson) {
  TempDir d;
  for (const char* name : {"one", "two"}) {
    fs::create_directories(d / name);
    write(d / name / "function.mlxfn", exp_function());
    write_input(d / name / "inputs.safetensors", mlx::DType::F32, {1, 4});
  }
  // Only "one" has expected outputs: exp(0) = 1 everywhere.
  {
    mlx::formats::OwnedTensor t;
    t.spec = {"output_0", mlx::DType::F32, {1, 4}};
    std::vector<float> ones(4, 1.0f);
    t.bytes.assign(reinterpret_cast<const char*>(ones.data()), 16);
    mlx::formats::write_safetensors(d / "one" / "expected.safetensors", {t});
  }
  int code = -1;
  std::string err;
  std::string out = run_cli("import-run --report " + (d / "one").string() + " " + (d / "two").string() + " --iters 1 --warmup 0 --out " +
                                (d / "report.json").string(), &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_NE(out.find("model"), std::string::npos) << out;
  EXPECT_NE(out.find("avg ms"), std::string::npos) << out;
  EXPECT_NE(out.find("max abs diff"), std::string::npos) << out;
  nlohmann::json j = nlohmann::json::parse(mlx::test::slurp(d / "report.json"));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["model"], "one");
  EXPECT_EQ(j[0]["max_abs_diff"].get<double>(), 0.0);
  EXPECT_TRUE(j[0]["avg_ms"].is_number());
  EXPECT_EQ(j[1]["model"], "two");
  EXPECT_TRUE(j[1]["max_abs_diff"].is_null());
}

// Keyword inputs (export.cpp puts them after the positional ones, in kwarg_keys order) bind by their key.
TEST(MlxfnImportRun, KeywordInputsBindByTheirKey) {
  TempDir d;
  Bytes f;  // y = a - b with a positional, b the keyword "bias"
  f.str("0.32.2").i32(1).b(false).str("");
  f.u64(1).str("bias");
  f.u64(2).u64(1).u64(2);
  f.u64(2).shape({2}).dtype(10, 4).shape({2}).dtype(10, 4);
  f.u64(1).u64(3);
  f.u64(3);
  f.u64(1).b(false).b(false);
  f.u64(2).b(false).b(false);
  f.u64(3).b(true).u64(2).u64(1).u64(2).stream(1).str("Subtract").u64(0).shape({2}).dtype(10, 4);
  write(d / "f.mlxfn", f.s);
  mlx::formats::OwnedTensor a, b;
  std::vector<float> av = {5, 7}, bv = {1, 2};
  a.spec = {"arg_0", mlx::DType::F32, {2}};
  a.bytes.assign(reinterpret_cast<const char*>(av.data()), 8);
  b.spec = {"bias", mlx::DType::F32, {2}};
  b.bytes.assign(reinterpret_cast<const char*>(bv.data()), 8);
  mlx::formats::write_safetensors(d / "in.safetensors", {a, b});
  int code = -1;
  std::string err;
  run_cli("import-run " + (d / "f.mlxfn").string() + " " + (d / "in.safetensors").string() + " --iters 1 --warmup 0 --out " +
              (d / "o.safetensors").string(), &code, &err);
  ASSERT_EQ(code, 0) << err;
  auto out = mlx::formats::SafetensorsFile::open(d / "o.safetensors");
  const auto* t = out.find("output_0");
  ASSERT_NE(t, nullptr);
  float y[2];
  std::memcpy(y, t->data, 8);
  EXPECT_EQ(y[0], 4.f);
  EXPECT_EQ(y[1], 5.f);
}

// --mlx-version picks the header (no metadata before 0.32.1) and state layouts of that MLX; --stream-index and
// --target set every primitive's stream.
TEST(MlxfnExport, VersionAndStreamOptions) {
  fs::path model;
  for (const fs::path& d : mlx::test::fixture_dirs("models"))
    if (d.filename() == "llama") model = d;
  if (model.empty()) GTEST_SKIP() << "no llama fixture";
  TempDir d;
  int code = -1;
  std::string err;
  run_cli("export --model " + model.string() + " --out " + (d / "b").string() +
              " --sample-prompt-ids 1,2,3 --mlx-version 0.30.4 --target cpu --stream-index 1", &code, &err);
  ASSERT_EQ(code, 0) << err;
  const std::string bytes = mlx::test::slurp(d / "b" / "function.mlxfn");
  auto fn = parse(bytes);
  EXPECT_EQ(fn.version, "0.30.4");
  EXPECT_FALSE(mlx::formats::mlxfn::has_metadata_field(fn.version));
  for (const auto& e : fn.traces[0].tape)
    if (e.kind == mlx::formats::mlxfn::TapeEntry::kPrimitive) {
      EXPECT_EQ(e.stream.index, 1);
      EXPECT_EQ(e.stream.device_type, 0);
    }
  // the default version carries the metadata string
  run_cli("export --model " + model.string() + " --out " + (d / "m").string() + " --sample-prompt-ids 1,2,3", &code, &err);
  ASSERT_EQ(code, 0) << err;
  const std::string mbytes = mlx::test::slurp(d / "m" / "function.mlxfn");
  auto meta = nlohmann::json::parse(parse(mbytes).metadata);
  EXPECT_EQ(meta["model_type"], "llama");
  EXPECT_EQ(meta["sample_tokens"], 3);
  run_cli("export --model " + model.string() + " --out " + (d / "c").string() + " --mlx-version banana", &code, &err);
  EXPECT_EQ(code, 2) << err;
}
