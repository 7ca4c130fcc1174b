// `mlx generate` bad inputs (issue 4 item 6): each exits with the right code and one line that names the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "generate/e2e_model.h"

using namespace mlx::test;
using Json = nlohmann::ordered_json;

namespace {

// A copy of a fixture model directory whose config.json is `config` (files symlinked, config rewritten).
std::unique_ptr<TempDir> model_with_config(const fs::path& src, const Json& config) {
  auto dir = std::make_unique<TempDir>();
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().filename() != "config.json") fs::create_symlink(fs::absolute(e.path()), dir->path() / e.path().filename());
  std::ofstream(dir->path() / "config.json") << config.dump(2);
  return dir;
}

fs::path first_model() {
  auto dirs = fixture_dirs("models");
  for (const auto& d : dirs)
    if (d.filename() == "llama") return d;
  return dirs.empty() ? fs::path() : dirs[0];
}

std::string gen(const fs::path& model, const std::string& extra, int* code, std::string* err) {
  return run_cli("generate --model " + quote(model.string()) + " " + extra, code, err);
}

}  // namespace

TEST(GenerateBadInput, UnknownModelTypeListsTheSupportedOnes) {
  auto src = first_model();
  if (src.empty()) GTEST_SKIP();
  auto config = mlx::read_json(src / "config.json");
  config["model_type"] = "no_such_arch";
  auto dir = model_with_config(src, config);
  int code = -1;
  std::string err;
  auto out = gen(dir->path(), "--prompt-ids 1,2,3", &code, &err);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(out, "");
  expect_one_line_error(err, "no_such_arch");
  EXPECT_NE(err.find("llama"), std::string::npos) << err;
}

TEST(GenerateBadInput, WrongTypedConfigKey) {
  auto src = first_model();
  if (src.empty()) GTEST_SKIP();
  auto config = mlx::read_json(src / "config.json");
  config["num_hidden_layers"] = "two";
  auto dir = model_with_config(src, config);
  int code = -1;
  std::string err;
  gen(dir->path(), "--prompt-ids 1,2,3", &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "num_hidden_layers");
}

TEST(GenerateBadInput, MissingTensorIsNamed) {
  auto src = first_model();
  if (src.empty()) GTEST_SKIP();
  // Rewrite model.safetensors without one tensor (header edited, data kept).
  std::string bytes = slurp(src / "model.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  auto header = Json::parse(bytes.substr(8, n));
  std::string victim;
  for (auto it = header.begin(); it != header.end(); ++it)
    if (it.key().find("layers.1.mlp.down_proj") != std::string::npos) victim = it.key();
  ASSERT_FALSE(victim.empty());
  header.erase(victim);
  std::string h = header.dump();
  uint64_t hn = h.size();
  TempDir dir;
  for (const auto& e : fs::directory_iterator(src))
    if (e.path().filename() != "model.safetensors") fs::create_symlink(fs::absolute(e.path()), dir / e.path().filename().string());
  std::ofstream f(dir / "model.safetensors", std::ios::binary);
  f.write(reinterpret_cast<const char*>(&hn), 8);
  f << h << bytes.substr(8 + n);
  f.close();
  int code = -1;
  std::string err;
  gen(dir.path(), "--prompt-ids 1,2,3", &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "layers.1.mlp.down_proj");
}

TEST(GenerateBadInput, PromptIdsOutOfVocabulary) {
  auto src = first_model();
  if (src.empty()) GTEST_SKIP();
  int code = -1;
  std::string err;
  gen(src, "--prompt-ids 1,2,999999", &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "999999");
  gen(src, "--prompt-ids 1,-4", &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "-4");
  gen(src, "--prompt-ids 1,two", &code, &err);
  EXPECT_EQ(code, 2);
  expect_one_line_error(err, "two");
}

TEST(GenerateBadInput, EmptyPrompt) {
  auto src = first_model();
  if (src.empty()) GTEST_SKIP();
  int code = -1;
  std::string err;
  gen(src, "--prompt-ids ''", &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "empty");
  auto models = e2e_models();
  if (models.empty()) return;
  gen(models[0].path(), "--prompt ''", &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "empty");
}

TEST(GenerateBadInput, PromptLongerThanTheContext) {
  auto src = first_model();
  if (src.empty()) GTEST_SKIP();
  auto config = mlx::read_json(src / "config.json");
  int64_t context = config["max_position_embeddings"];
  std::string ids;
  for (int64_t i = 0; i < context + 5; ++i) {
    if (i) ids += ',';
    ids += std::to_string(3 + i % 100);
  }
  int code = -1;
  std::string err;
  gen(src, "--prompt-ids " + ids + " -m 2", &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "context");
  // With a rotating cache the same prompt runs.
  auto out = gen(src, "--prompt-ids " + ids + " -m 2 --max-kv-size 64 --json", &code, &err);
  EXPECT_EQ(code, 0) << err;
}

TEST(GenerateBadInput, BadBatchLineGetsAnErrorRecordAndTheRestRun) {
  auto src = first_model();
  if (src.empty()) GTEST_SKIP();
  TempDir tmp;
  std::ofstream(tmp / "in.jsonl") << "{\"id\": \"a\", \"prompt_ids\": [1, 2, 3], \"max_tokens\": 3}\n"
                                  << "this is not json\n"
                                  << "{\"id\": \"c\", \"prompt_ids\": [1, 99999999]}\n"
                                  << "{\"id\": \"d\", \"prompt_ids\": [1, 2], \"max_tokens\": \"many\"}\n"
                                  << "{\"id\": \"e\", \"prompt_ids\": [4, 5], \"max_tokens\": 2, \"temp\": 0.7, \"seed\": 3}\n";
  int code = -1;
  std::string err;
  gen(src, "--batch " + quote((tmp / "in.jsonl").string()) + " --output " + quote((tmp / "out.jsonl").string()), &code,
      &err);
  EXPECT_EQ(code, 0) << err;
  auto out = lines_of(slurp(tmp / "out.jsonl"));
  ASSERT_EQ(out.size(), 5u);
  auto a = Json::parse(out[0]), b = Json::parse(out[1]), c = Json::parse(out[2]), d = Json::parse(out[3]),
       e = Json::parse(out[4]);
  EXPECT_EQ(a["id"], "a");
  EXPECT_EQ(a["ids"].size(), 3u);
  EXPECT_TRUE(b.contains("error"));
  EXPECT_NE(b["error"].get<std::string>().find("line 2"), std::string::npos);
  EXPECT_EQ(c["id"], "c");
  EXPECT_NE(c["error"].get<std::string>().find("99999999"), std::string::npos);
  EXPECT_NE(d["error"].get<std::string>().find("max_tokens"), std::string::npos);
  EXPECT_EQ(e["id"], "e");
  EXPECT_EQ(e["ids"].size(), 2u);
}

TEST(GenerateBadInput, BadUsage) {
  auto src = first_model();
  if (src.empty()) GTEST_SKIP();
  int code = -1;
  std::string err;
  gen(src, "--prompt-ids 1,2 --xtc-threshold 0.9", &code, &err);
  EXPECT_EQ(code, 2);
  expect_one_line_error(err, "--xtc-threshold");
  gen(src, "--prompt-ids 1,2 --chat-template-config '[1'", &code, &err);
  EXPECT_EQ(code, 2);
  expect_one_line_error(err, "--chat-template-config");
  run_cli("generate --model /nonexistent/model/dir --prompt-ids 1", &code, &err);
  EXPECT_EQ(code, 1);
  expect_one_line_error(err, "/nonexistent/model/dir");
}
