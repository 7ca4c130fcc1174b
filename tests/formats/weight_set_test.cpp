// Weight directories: single file, shards without an index, shards with an index (checked against it), and the
// MLX sharded writer (names, 5 GiB rule, index in Python's json.dump(indent=4) format).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "common/fixtures.h"
#include "core/error.h"
#include "core/file_io.h"
#include "formats/model_dir.h"
#include "formats/shard_writer.h"
#include "formats/weight_set.h"

namespace fs = std::filesystem;
using namespace mlx;
using namespace mlx::formats;

namespace {

OwnedTensor tensor(const std::string& name, int64_t n, char fill) {
  OwnedTensor t{{name, DType::F32, {n}}, std::string(size_t(n) * 4, fill)};
  return t;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(WeightSet, SingleAndMultipleShardsWithoutIndex) {
  test::TempDir tmp;
  write_safetensors(tmp / "a.safetensors", {tensor("x", 4, 1)});
  write_safetensors(tmp / "b.safetensors", {tensor("y", 2, 2)});
  WeightSet ws = WeightSet::open(tmp.path());
  ASSERT_EQ(ws.tensors().size(), 2u);
  EXPECT_EQ(ws.find("y")->nbytes, 8u);
  EXPECT_EQ(ws.file_of(*ws.find("y")).path().filename(), "b.safetensors");
}

TEST(WeightSet, ShardedWriterOutputReadsBackThroughItsIndex) {
  test::TempDir tmp;
  std::vector<TensorSpec> specs = {{"m.layers.0.w", DType::F32, {100}}, {"m.layers.1.w", DType::F32, {100}},
                                   {"m.layers.2.w", DType::F32, {300}}, {"m.norm", DType::F32, {2}}};
  {
    ShardedWriter w(tmp.path(), specs, /*max_shard_bytes=*/800);
    EXPECT_EQ(w.num_shards(), 3u);  // 400+400 | 1200 (alone, over the limit) | 8
    for (const auto& s : specs) w.write(s.name, std::string(s.nbytes(), 'z').data());
    w.finish(502);
  }
  for (const char* n : {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                        "model-00003-of-00003.safetensors"})
    EXPECT_TRUE(fs::exists(tmp / n)) << n;
  WeightSet ws = WeightSet::open(tmp.path());
  EXPECT_EQ(ws.tensors().size(), 4u);
  const std::string expected = R"({
    "metadata": {
        "total_size": 2008,
        "total_parameters": 502
    },
    "weight_map": {
        "m.layers.0.w": "model-00001-of-00003.safetensors",
        "m.layers.1.w": "model-00001-of-00003.safetensors",
        "m.layers.2.w": "model-00002-of-00003.safetensors",
        "m.norm": "model-00003-of-00003.safetensors"
    }
})";
  EXPECT_EQ(test::slurp(tmp / "model.safetensors.index.json"), expected);
}

TEST(WeightSet, SingleShardIsNamedModelSafetensors) {
  test::TempDir tmp;
  ShardedWriter w(tmp.path(), {{"a", DType::U8, {3}}});
  w.write("a", "abc");
  w.finish(3);
  EXPECT_TRUE(fs::exists(tmp / "model.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "model.safetensors.index.json"));
}

TEST(WeightSet, BadDirectories) {
  test::TempDir tmp;
  EXPECT_NE(error_of([&] { WeightSet::open(tmp / "nope"); }).find("no such directory"), std::string::npos);
  fs::create_directories(tmp / "empty");
  EXPECT_NE(error_of([&] { WeightSet::open(tmp / "empty"); }).find("no *.safetensors"), std::string::npos);
  // Index lists a tensor that its shard does not have.
  fs::create_directories(tmp / "idx");
  write_safetensors(tmp / "idx" / "model-00001-of-00001.safetensors", {tensor("x", 1, 0)});
  write_file_atomic(tmp / "idx" / "model.safetensors.index.json",
                    R"({"weight_map": {"x": "model-00001-of-00001.safetensors", "y": "model-00001-of-00001.safetensors"}})");
  std::string e = error_of([&] { WeightSet::open(tmp / "idx"); });
  EXPECT_NE(e.find("tensor 'y' listed in model.safetensors.index.json is missing"), std::string::npos) << e;
  // Index names a shard that does not exist.
  write_file_atomic(tmp / "idx" / "model.safetensors.index.json", R"({"weight_map": {"x": "gone.safetensors"}})");
  e = error_of([&] { WeightSet::open(tmp / "idx"); });
  EXPECT_NE(e.find("gone.safetensors"), std::string::npos) << e;
  write_file_atomic(tmp / "idx" / "model.safetensors.index.json", "{oops");
  e = error_of([&] { WeightSet::open(tmp / "idx"); });
  EXPECT_NE(e.find("not valid JSON"), std::string::npos) << e;
}

TEST(ModelDir, ConfigAndResolver) {
  test::TempDir tmp;
  EXPECT_NE(error_of([&] { ModelDir::open(tmp.path()); }).find("config.json"), std::string::npos);
  write_file_atomic(tmp / "config.json", "{bad");
  EXPECT_NE(error_of([&] { ModelDir::open(tmp.path()); }).find("not valid JSON"), std::string::npos);
  write_file_atomic(tmp / "config.json", R"({"model_type": "llama", "eos_token_id": 2})");
  write_file_atomic(tmp / "generation_config.json", R"({"eos_token_id": [2, 7]})");
  write_file_atomic(tmp / "tokenizer.json", "{}");
  write_file_atomic(tmp / "modeling_x.py", "");
  ModelDir m = ModelDir::open(tmp.path());
  EXPECT_EQ(m.model_type(), "llama");
  EXPECT_EQ(m.tokenizer_files().size(), 1u);
  EXPECT_EQ(m.python_files().size(), 1u);
  EXPECT_EQ(m.effective_config()["eos_token_id"], nlohmann::ordered_json({2, 7}));

  EXPECT_EQ(resolve_model_path(tmp.path().string()), tmp.path());
  // A fake Hugging Face cache.
  fs::path hub = tmp / "hf" / "hub" / "models--org--tiny";
  fs::create_directories(hub / "refs");
  fs::create_directories(hub / "snapshots" / "abc123");
  write_file_atomic(hub / "refs" / "main", "abc123\n");
  setenv("HF_HOME", (tmp / "hf").c_str(), 1);
  unsetenv("HF_HUB_CACHE");
  EXPECT_EQ(resolve_model_path("org/tiny"), hub / "snapshots" / "abc123");
  std::string e = error_of([&] { resolve_model_path("org/uncached"); });
  EXPECT_NE(e.find("not in the Hugging Face cache"), std::string::npos) << e;
  e = error_of([&] { resolve_model_path((tmp / "no" / "such" / "dir").string()); });
  EXPECT_NE(e.find("no such directory"), std::string::npos) << e;
}
