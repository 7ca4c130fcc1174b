// The safetensors reader and writer: round trips, MLX's unpadded files, every bad-header class, and the
// fixture models' files checked against the tensor index in their golden.json (written by Python safetensors).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "common/fixtures.h"
#include "core/error.h"
#include "core/file_io.h"
#include "formats/safetensors.h"

namespace fs = std::filesystem;
using namespace mlx;
using namespace mlx::formats;

namespace {

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

// A file written byte by byte: header JSON as given, then `data`.
void write_raw(const fs::path& p, const std::string& header, const std::string& data, int64_t len_override = -1) {
  std::ofstream f(p, std::ios::binary);
  uint64_t n = len_override >= 0 ? uint64_t(len_override) : header.size();
  for (int i = 0; i < 8; ++i) f.put(char(n >> (8 * i)));
  f << header << data;
}

// Expects open() to fail with a one-line message that names the file and contains `needle`.
void expect_bad(const fs::path& p, const std::string& needle) {
  try {
    SafetensorsFile::open(p);
    FAIL() << "accepted a bad file, expected: " << needle;
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(p.string()), std::string::npos) << m;
    EXPECT_NE(m.find(needle), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

}  // namespace

TEST(Safetensors, RoundTripAllDtypesAligned) {
  test::TempDir tmp;
  std::vector<OwnedTensor> ts;
  const DType types[] = {DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16, DType::I8,
                         DType::U64, DType::U32, DType::U16, DType::U8,  DType::Bool, DType::F8_E4M3, DType::F8_E8M0};
  uint32_t seed = 1;
  for (DType t : types) {
    Shape shape{3, int64_t(seed % 5 + 1)};  // odd sizes: forces padding
    OwnedTensor o{{std::string("t.") + std::string(dtype_name(t)), t, shape}, {}};
    o.bytes = random_bytes(o.spec.nbytes(), seed++);
    ts.push_back(o);
  }
  ts.push_back({{"empty", DType::F32, {0, 4}}, ""});
  const fs::path p = tmp / "x.safetensors";
  write_safetensors(p, ts);
  SafetensorsFile f = SafetensorsFile::open(p);
  ASSERT_EQ(f.tensors().size(), ts.size());
  EXPECT_EQ(f.metadata().at("format"), "mlx");
  for (const auto& o : ts) {
    const TensorView* v = f.find(o.spec.name);
    ASSERT_NE(v, nullptr) << o.spec.name;
    EXPECT_EQ(v->dtype, o.spec.dtype);
    EXPECT_EQ(v->shape, o.spec.shape);
    ASSERT_EQ(v->nbytes, o.bytes.size());
    EXPECT_EQ(std::memcmp(v->data, o.bytes.data(), v->nbytes), 0);
    if (v->nbytes) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(v->data) % 8, 0u) << o.spec.name;
    }
  }
  // Header: keys sorted, data starts 8-byte aligned.
  std::string raw = test::slurp(p);
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  auto header = nlohmann::ordered_json::parse(raw.substr(8, n));
  std::vector<std::string> keys;
  for (auto it = header.begin(); it != header.end(); ++it) keys.push_back(it.key());
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

TEST(Safetensors, AcceptsUnpaddedMlxFile) {
  test::TempDir tmp;
  // As mx.save_safetensors writes: compact JSON, no padding, odd offsets, null metadata.
  std::string header = R"({"__metadata__":null,"a":{"data_offsets":[0,3],"dtype":"U8","shape":[3]},"b":{"data_offsets":[3,7],"dtype":"F32","shape":[1]}})";
  write_raw(tmp / "m.safetensors", header, std::string("abc\x00\x00\x80\x3f", 7));
  SafetensorsFile f = SafetensorsFile::open(tmp / "m.safetensors");
  ASSERT_NE(f.find("b"), nullptr);
  float v;
  std::memcpy(&v, f.find("b")->data, 4);
  EXPECT_EQ(v, 1.0f);
}

TEST(Safetensors, BadInputs) {
  test::TempDir tmp;
  auto p = [&](const char* n) { return tmp / n; };
  write_raw(p("short.safetensors"), "", "", 0);
  expect_bad(p("short.safetensors"), "not valid JSON");
  { std::ofstream(p("tiny.safetensors")) << "abc"; }
  expect_bad(p("tiny.safetensors"), "truncated");
  write_raw(p("len.safetensors"), "{}", "", 999999);
  expect_bad(p("len.safetensors"), "header length 999999 exceeds file size");
  write_raw(p("huge.safetensors"), "{}", "", 200'000'000);
  expect_bad(p("huge.safetensors"), "exceeds the 100000000 byte limit");
  write_raw(p("notjson.safetensors"), "{not json", "");
  expect_bad(p("notjson.safetensors"), "not valid JSON");
  write_raw(p("array.safetensors"), "[1,2]", "");
  expect_bad(p("array.safetensors"), "not a JSON object");
  write_raw(p("dtype.safetensors"), R"({"a":{"data_offsets":[0,4],"dtype":"F9","shape":[1]}})", "abcd");
  expect_bad(p("dtype.safetensors"), "unknown dtype");
  write_raw(p("size.safetensors"), R"({"a":{"data_offsets":[0,4],"dtype":"F32","shape":[2]}})", "abcd");
  expect_bad(p("size.safetensors"), "but data_offsets span 4 bytes");
  write_raw(p("range.safetensors"), R"({"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}})", "abcd");
  expect_bad(p("range.safetensors"), "outside the 4-byte data area");
  write_raw(p("overlap.safetensors"),
            R"({"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]},"b":{"data_offsets":[4,8],"dtype":"F32","shape":[1]}})",
            "abcdefgh");
  expect_bad(p("overlap.safetensors"), "overlap");
  write_raw(p("meta.safetensors"), R"({"__metadata__":{"format":1}})", "");
  expect_bad(p("meta.safetensors"), "__metadata__");
  write_raw(p("neg.safetensors"), R"({"a":{"data_offsets":[0,4],"dtype":"F32","shape":[-1]}})", "abcd");
  expect_bad(p("neg.safetensors"), "negative");
  expect_bad(p("missing.safetensors"), "no such file");
}

TEST(Safetensors, TruncatedCopyOfAFixtureIsRejected) {
  auto dirs = test::fixture_dirs("models");
  if (dirs.empty()) GTEST_SKIP() << "no model fixtures";
  test::TempDir tmp;
  std::string raw = test::slurp(dirs[0] / "model.safetensors");
  { std::ofstream(tmp / "t.safetensors", std::ios::binary) << raw.substr(0, raw.size() - 100); }
  expect_bad(tmp / "t.safetensors", "outside");
}

// Every fixture model file (written by Python safetensors) reads with exactly the index of its golden.json.
TEST(Safetensors, FixtureModelsMatchTheirGoldenIndex) {
  auto dirs = test::fixture_dirs("models");
  if (dirs.empty()) GTEST_SKIP() << "no model fixtures";
  for (const auto& d : dirs) {
    SCOPED_TRACE(d.string());
    SafetensorsFile f = SafetensorsFile::open(d / "model.safetensors");
    auto golden = read_json(d / "golden.json");
    const auto& index = golden["tensors"];
    EXPECT_EQ(f.tensors().size(), index.size());
    for (const auto& [name, info] : index.items()) {
      const TensorView* t = f.find(name);
      ASSERT_NE(t, nullptr) << name;
      EXPECT_EQ(dtype_name(t->dtype), info["dtype"].get<std::string>()) << name;
      EXPECT_EQ(t->shape, info["shape"].get<Shape>()) << name;
    }
  }
}
