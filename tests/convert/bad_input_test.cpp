// Every bad-input class of issue 2 item 8, through the CLI: exit code, a one-line message naming the file and the
// problem, and no output (nor partial output) left behind.
#include <cstring>

#include "convert_helpers.h"

namespace fs = std::filesystem;
using namespace mlx;
using namespace mlx::test;

namespace {

std::string q(const fs::path& p) { return quote(p.string()); }

// A writable copy of the first fixture model.
fs::path copy_model(const TempDir& tmp) {
  auto dirs = fixture_dirs("models");
  fs::path dst = tmp / "model";
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(dirs.at(0)))
    if (e.path().filename() != "golden.json.zst" && e.path().filename() != "golden.json")
      fs::copy_file(e.path(), dst / e.path().filename());
  return dst;
}

// Rewrites model.safetensors with the header changed by `edit` (data kept).
void edit_header(const fs::path& model, const std::function<void(nlohmann::ordered_json&)>& edit) {
  std::string raw = slurp(model / "model.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  auto h = nlohmann::ordered_json::parse(raw.substr(8, n));
  edit(h);
  std::string text = h.dump();
  uint64_t len = text.size();
  std::string out(reinterpret_cast<const char*>(&len), 8);
  out += text + raw.substr(8 + n);
  std::ofstream(model / "model.safetensors", std::ios::binary | std::ios::trunc) << out;
}

// The first real tensor entry of a header.
nlohmann::ordered_json& first_tensor(nlohmann::ordered_json& h) {
  for (auto it = h.begin(); it != h.end(); ++it)
    if (it.key() != "__metadata__") return it.value();
  throw std::runtime_error("empty header");
}

void expect_failure(const std::string& args, const fs::path& out, int code, const std::vector<std::string>& needles) {
  auto r = mlx_cli(args);
  EXPECT_EQ(r.code, code) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "missing '" << n << "' in " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(no_output_left(out)) << "output left behind";
}

std::string convert_args(const fs::path& model, const fs::path& out, const std::string& extra = "-q") {
  return "convert --hf-path " + q(model) + " --mlx-path " + q(out) + " " + extra + " --quiet";
}

}  // namespace

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    if (fixture_dirs("models").empty()) GTEST_SKIP() << "no model fixtures";
    model = copy_model(tmp);
    out = tmp / "out";
  }
  TempDir tmp;
  fs::path model, out;
};

TEST_F(BadInput, MissingDirectory) {
  expect_failure(convert_args(tmp / "nope", out), out, 1, {(tmp / "nope").string(), "no such directory"});
}

TEST_F(BadInput, NoSafetensors) {
  fs::remove(model / "model.safetensors");
  expect_failure(convert_args(model, out), out, 1, {model.string(), "no *.safetensors"});
}

TEST_F(BadInput, TruncatedFile) {
  fs::resize_file(model / "model.safetensors", fs::file_size(model / "model.safetensors") - 1000);
  expect_failure(convert_args(model, out), out, 1, {"model.safetensors", "outside"});
}

TEST_F(BadInput, FileShorterThanTheLengthPrefix) {
  fs::resize_file(model / "model.safetensors", 5);
  expect_failure(convert_args(model, out), out, 1, {"model.safetensors", "truncated"});
}

TEST_F(BadInput, HeaderLengthPastTheFile) {
  std::string raw = slurp(model / "model.safetensors");
  uint64_t big = raw.size() + 10;
  std::memcpy(raw.data(), &big, 8);
  std::ofstream(model / "model.safetensors", std::ios::binary | std::ios::trunc) << raw;
  expect_failure(convert_args(model, out), out, 1, {"model.safetensors", "exceeds file size"});
}

TEST_F(BadInput, HeaderNotJson) {
  std::string raw = slurp(model / "model.safetensors");
  raw[8] = '#';
  std::ofstream(model / "model.safetensors", std::ios::binary | std::ios::trunc) << raw;
  expect_failure(convert_args(model, out), out, 1, {"model.safetensors", "not valid JSON"});
}

TEST_F(BadInput, OverlappingOffsets) {
  edit_header(model, [](nlohmann::ordered_json& h) {
    std::vector<nlohmann::ordered_json*> ts;
    for (auto it = h.begin(); it != h.end(); ++it)
      if (it.key() != "__metadata__") ts.push_back(&it.value());
    // Move the second tensor's span one element into the first one's.
    auto& b = *ts.at(1);
    uint64_t s = (*ts.at(0))["data_offsets"][1].get<uint64_t>() - 4, len = b["data_offsets"][1].get<uint64_t>() -
                                                                         b["data_offsets"][0].get<uint64_t>();
    uint64_t first_begin = (*ts.at(0))["data_offsets"][0].get<uint64_t>();
    if (s < first_begin) s = first_begin;
    b["data_offsets"] = {s, s + len};
  });
  expect_failure(convert_args(model, out), out, 1, {"model.safetensors", "overlap"});
}

TEST_F(BadInput, OutOfRangeOffsets) {
  edit_header(model, [](nlohmann::ordered_json& h) {
    auto& t = first_tensor(h);
    uint64_t len = t["data_offsets"][1].get<uint64_t>() - t["data_offsets"][0].get<uint64_t>();
    t["data_offsets"] = {uint64_t(1) << 40, (uint64_t(1) << 40) + len};
  });
  expect_failure(convert_args(model, out), out, 1, {"model.safetensors", "outside"});
}

TEST_F(BadInput, DtypeShapeSizeMismatch) {
  edit_header(model, [](nlohmann::ordered_json& h) { first_tensor(h)["dtype"] = "F64"; });
  expect_failure(convert_args(model, out), out, 1, {"model.safetensors", "data_offsets span"});
}

TEST_F(BadInput, UnknownDtype) {
  edit_header(model, [](nlohmann::ordered_json& h) { first_tensor(h)["dtype"] = "Q4"; });
  expect_failure(convert_args(model, out), out, 1, {"model.safetensors", "unknown dtype"});
}

TEST_F(BadInput, ConfigMissing) {
  fs::remove(model / "config.json");
  expect_failure(convert_args(model, out), out, 1, {"config.json"});
}

TEST_F(BadInput, ConfigNotJson) {
  std::ofstream(model / "config.json", std::ios::trunc) << "{\"model_type\": ";
  expect_failure(convert_args(model, out), out, 1, {"config.json", "not valid JSON"});
}

TEST_F(BadInput, UnknownModelType) {
  auto c = read_json(model / "config.json");
  c["model_type"] = "transformer9000";
  std::ofstream(model / "config.json", std::ios::trunc) << c.dump();
  expect_failure(convert_args(model, out), out, 1, {"config.json", "transformer9000", "llama", "qwen3"});
}

TEST_F(BadInput, TensorsMissingVsIndex) {
  formats::SafetensorsFile f = formats::SafetensorsFile::open(model / "model.safetensors");
  nlohmann::ordered_json idx;
  for (const auto& t : f.tensors()) idx["weight_map"][t.name] = "model.safetensors";
  idx["weight_map"]["model.layers.99.mlp.up_proj.weight"] = "model.safetensors";
  std::ofstream(model / "model.safetensors.index.json") << idx.dump();
  expect_failure(convert_args(model, out), out, 1, {"model.layers.99.mlp.up_proj.weight", "missing"});
}

TEST_F(BadInput, UnsupportedBitsOrGroupIsAUsageError) {
  expect_failure(convert_args(model, out, "-q --q-bits 7"), out, 2, {"7"});
  expect_failure(convert_args(model, out, "-q --q-group-size 48"), out, 2, {"48"});
  expect_failure(convert_args(model, out, "-q --q-mode mxfp4 --q-group-size 64"), out, 2, {"mxfp4"});
  expect_failure(convert_args(model, out, "-q -d"), out, 2, {"-d"});
  expect_failure(convert_args(model, out, "-q --quant-predicate mixed_9_9"), out, 2, {"mixed_9_9"});
  expect_failure(convert_args(model, out, "--dtype float8"), out, 2, {"float8"});
}

TEST_F(BadInput, OutputExistsUnlessForce) {
  fs::create_directories(out);
  std::ofstream(out / "keep") << "x";
  auto r = mlx_cli(convert_args(model, out));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(out.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(out / "keep"));
  r = mlx_cli(convert_args(model, out, "-q --force"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(out / "keep"));
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));
}

TEST_F(BadInput, DiskFullLeavesNothing) {
  // ulimit -f 64: at most 64 KiB per file, far less than the model's weights.
  std::string cmd = "sh -c " + quote("ulimit -f 64; exec '" + std::string(MLX_BIN) + "' " +
                                     convert_args(model, out, "") + " 2>" + (tmp / "err").string());
  int status = std::system(cmd.c_str());
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::string err = slurp(tmp / "err");
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("write failed"), std::string::npos) << err;
  EXPECT_NE(err.find(".safetensors"), std::string::npos) << err;
  EXPECT_TRUE(no_output_left(out));
}
