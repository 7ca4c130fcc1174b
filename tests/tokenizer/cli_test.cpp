// `mlx tokenize` end to end: --text, --count, --no-special, --lossy, JSON lines (text, ids, messages) against the
// golden files, and error lines.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/fixtures.h"
#include "common/jsonl.h"
#include "core/file_io.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using mlx::test::quote;
using mlx::test::run_cli;
using mlx::test::TempDir;
using mlx::test::read_jsonl;

std::vector<json> parse_lines(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) v.push_back(json::parse(line));
  return v;
}

std::vector<fs::path> tokenizer_dirs() {
  std::vector<fs::path> out;
  for (const fs::path& d : mlx::test::fixture_dirs("tokenizers"))
    if (mlx::exists_maybe_zst(d / "tokenizer.json") && fs::exists(d / "golden.jsonl")) out.push_back(d);
  return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

TEST(TokenizeCli, TextCountAndNoSpecial) {
  for (const fs::path& dir : tokenizer_dirs()) {
    SCOPED_TRACE(dir.string());
    // A simple golden line (no control characters that a shell argument could mangle).
    for (const json& g : read_jsonl(dir / "golden.jsonl")) {
      std::string text = g["text"].get<std::string>();
      if (text.empty() || text.find('\'') != std::string::npos || text.size() > 200) continue;
      bool add = g["add_special_tokens"].get<bool>();
      int code = -1;
      std::string out = run_cli("tokenize --model " + quote(dir.string()) + " --text " + quote(text) +
                                    (add ? "" : " --no-special"),
                                &code);
      ASSERT_EQ(code, 0) << out;
      json j = json::parse(out);
      EXPECT_EQ(j["ids"], g["ids"]) << text;
      EXPECT_EQ(j["count"].get<size_t>(), g["ids"].size());
      out = run_cli("tokenize --model " + quote(dir.string()) + " --count --text " + quote(text) +
                        (add ? "" : " --no-special"),
                    &code);
      ASSERT_EQ(code, 0);
      EXPECT_EQ(out, std::to_string(g["ids"].size()) + "\n");
      break;
    }
  }
}

TEST(TokenizeCli, JsonLinesTextAndIds) {
  for (const fs::path& dir : tokenizer_dirs()) {
    SCOPED_TRACE(dir.string());
    TempDir tmp;
    std::vector<json> golden = read_jsonl(dir / "golden.jsonl");
    {
      std::ofstream in(tmp / "in.jsonl");
      for (const json& g : golden) {
        in << dump(json{{"text", g["text"]}, {"add_special_tokens", g["add_special_tokens"]}}) << "\n";
        in << dump(json{{"ids", g["ids"]}}) << "\n";
        in << dump(json{{"ids", g["ids"]}, {"skip_special_tokens", true}}) << "\n";
      }
    }
    int code = -1;
    std::string out = run_cli("tokenize --model " + quote(dir.string()) + " < " + quote((tmp / "in.jsonl").string()),
                              &code);
    EXPECT_EQ(code, 0);
    auto lines = parse_lines(out);
    ASSERT_EQ(lines.size(), golden.size() * 3);
    for (size_t i = 0; i < golden.size(); ++i) {
      EXPECT_EQ(lines[3 * i]["ids"], golden[i]["ids"]) << "line " << i;
      EXPECT_EQ(lines[3 * i]["count"].get<size_t>(), golden[i]["ids"].size());
      EXPECT_EQ(lines[3 * i + 1]["text"], golden[i]["decoded"]) << "line " << i;
      EXPECT_EQ(lines[3 * i + 2]["text"], golden[i]["decoded_skip_special"]) << "line " << i;
    }
  }
}

TEST(TokenizeCli, JsonLinesMessages) {
  for (const fs::path& dir : tokenizer_dirs()) {
    if (!fs::exists(dir / "chat_golden.jsonl")) continue;
    SCOPED_TRACE(dir.string());
    TempDir tmp;
    std::vector<json> golden = read_jsonl(dir / "chat_golden.jsonl");
    {
      std::ofstream in(tmp / "in.jsonl");
      for (const json& g : golden) {
        json line = {{"messages", g["messages"]},
                     {"tools", g.contains("tools") ? g["tools"] : json(nullptr)},
                     {"add_generation_prompt", g.value("add_generation_prompt", false)},
                     {"chat_template_kwargs", g.contains("extra") ? g["extra"] : json::object()}};
        in << dump(line) << "\n";
      }
    }
    int code = -1;
    std::string out = run_cli("tokenize --model " + quote(dir.string()) + " < " + quote((tmp / "in.jsonl").string()),
                              &code);
    auto lines = parse_lines(out);
    ASSERT_EQ(lines.size(), golden.size());
    bool any_error = false;
    for (size_t i = 0; i < golden.size(); ++i) {
      const json& g = golden[i];
      SCOPED_TRACE(g.value("name", "?"));
      if (g.contains("error")) {
        any_error = true;
        ASSERT_TRUE(lines[i].contains("error")) << dump(lines[i]);
        std::string want = g["error"].get<std::string>();
        if (want.rfind("TemplateError: ", 0) == 0) want = want.substr(15);
        EXPECT_NE(lines[i]["error"].get<std::string>().find(want), std::string::npos) << dump(lines[i]);
        continue;
      }
      ASSERT_FALSE(lines[i].contains("error")) << dump(lines[i]);
      EXPECT_EQ(lines[i]["rendered"], g["rendered"]);
      EXPECT_EQ(lines[i]["ids"], g["ids"]);
    }
    EXPECT_EQ(code, any_error ? 1 : 0);
  }
}

TEST(TokenizeCli, ErrorLinesKeepGoing) {
  fs::path dir = tokenizer_dirs().front();
  TempDir tmp;
  {
    std::ofstream in(tmp / "in.jsonl", std::ios::binary);
    in << "{\"text\": \"hello\"}\n";
    in << "not json\n";
    in << "{\"neither\": 1}\n";
    in << "{\"ids\": [1, \"x\"]}\n";
    in << "{\"text\": \"caf\xff\"}\n";
    in << "{\"text\": \"world\", \"add_special_tokens\": false}\n";
  }
  int code = -1;
  std::string out =
      run_cli("tokenize --model " + quote(dir.string()) + " < " + quote((tmp / "in.jsonl").string()), &code);
  EXPECT_EQ(code, 1);
  auto lines = parse_lines(out);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_TRUE(lines[0].contains("ids"));
  EXPECT_TRUE(lines[1].contains("error"));
  EXPECT_TRUE(lines[2].contains("error"));
  EXPECT_TRUE(lines[3].contains("error"));
  ASSERT_TRUE(lines[4].contains("error"));
  EXPECT_NE(lines[4]["error"].get<std::string>().find("byte offset"), std::string::npos) << dump(lines[4]);
  EXPECT_TRUE(lines[5].contains("ids"));
  // --lossy: the invalid byte becomes U+FFFD and the line succeeds.
  out = run_cli("tokenize --lossy --model " + quote(dir.string()) + " < " + quote((tmp / "in.jsonl").string()),
                &code);
  lines = parse_lines(out);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_TRUE(lines[4].contains("ids")) << dump(lines[4]);
}

TEST(TokenizeCli, InvalidUtf8TextArgument) {
  fs::path dir = tokenizer_dirs().front();
  int code = -1;
  std::string err;
  run_cli("tokenize --model " + quote(dir.string()) + " --text \"$(printf 'ab\\377c')\"", &code, &err);
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("invalid UTF-8 at byte offset 2"), std::string::npos) << err;
  std::string out = run_cli("tokenize --lossy --model " + quote(dir.string()) + " --text \"$(printf 'ab\\377c')\"",
                            &code, &err);
  EXPECT_EQ(code, 0) << err;
  EXPECT_NE(out.find("\"count\""), std::string::npos);
}

TEST(TokenizeCli, BadModelAndUsage) {
  TempDir tmp;
  int code = -1;
  std::string err;
  run_cli("tokenize --model " + quote(tmp.path().string()) + " --text hi", &code, &err);
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("tokenizer.json"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << "one line: " << err;
  run_cli("tokenize --text hi", &code, &err);
  EXPECT_EQ(code, 2);
  run_cli("tokenize --model " + quote(tokenizer_dirs().front().string()) + " --count < /dev/null", &code, &err);
  EXPECT_EQ(code, 2);
}

}  // namespace
