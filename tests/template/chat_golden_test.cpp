// Every chat_golden.jsonl under the tokenizer fixtures renders byte-exactly (or fails with the same message).
#include <gtest/gtest.h>

#include <sstream>

#include "common/fixtures.h"
#include "core/error.h"
#include "core/file_io.h"
#include "template/chat_template.h"

namespace {

using json = nlohmann::ordered_json;

TEST(ChatGolden, EveryFixtureRendersExactly) {
  int checked = 0;
  for (const auto& dir : mlx::test::fixture_dirs("tokenizers")) {
    if (!mlx::exists_maybe_zst(dir / "chat_golden.jsonl")) continue;
    auto tmpl = mlx::ChatTemplate::load(dir);
    ASSERT_TRUE(tmpl.has_value()) << dir << ": chat_golden.jsonl but no chat template";
    std::istringstream lines(mlx::read_file(dir / "chat_golden.jsonl"));
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      ++n;
      json g = json::parse(line);
      std::string where = dir.filename().string() + " line " + std::to_string(n) + " (" + g.value("name", "") + ")";
      json extra = g.contains("extra") && g["extra"].is_object() ? g["extra"] : json::object();
      json tools = g.contains("tools") ? g["tools"] : json();
      bool agp = g.value("add_generation_prompt", false);
      if (g.contains("error")) {
        std::string expected = g["error"].get<std::string>();
        std::string text = expected.substr(expected.find(": ") == std::string::npos ? 0 : expected.find(": ") + 2);
        try {
          std::string out = tmpl->render(g["messages"], tools, agp, false, extra);
          ADD_FAILURE() << where << ": expected error '" << expected << "', rendered:\n" << out;
        } catch (const mlx::Error& e) {
          EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << where << ": got " << e.what();
        }
      } else {
        try {
          std::string out = tmpl->render(g["messages"], tools, agp, false, extra);
          EXPECT_EQ(out, g["rendered"].get<std::string>()) << where;
        } catch (const mlx::Error& e) {
          ADD_FAILURE() << where << ": " << e.what();
        }
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no chat_golden.jsonl found";
}

// continue_final_message cuts the render right after the final message's content, as transformers does.
TEST(ChatGolden, ContinueFinalMessage) {
  for (const auto& dir : mlx::test::fixture_dirs("tokenizers")) {
    auto tmpl = mlx::ChatTemplate::load(dir);
    if (!tmpl) continue;
    json messages = json::parse(R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "The answer is"}])");
    std::string full = tmpl->render(messages, json(), false, false, json::object());
    std::string cut = tmpl->render(messages, json(), false, true, json::object());
    ASSERT_EQ(full.compare(0, cut.size(), cut), 0) << dir;
    EXPECT_EQ(cut.substr(cut.size() - 13), "The answer is") << dir;
  }
}

TEST(ChatTemplateLoad, SourcesInTransformersOrder) {
  mlx::test::TempDir tmp;
  mlx::write_file_atomic(tmp / "tokenizer_config.json",
                         R"({"bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "</s>", "add_bos_token": true,
                             "chat_template": [{"name": "default", "template": "cfg{{ bos_token }}"}, {"name": "tool_use", "template": "tools"}]})");
  auto t = mlx::ChatTemplate::load(tmp.path());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render(json::array(), json(), false, false, json::object()), "cfg<s>");
  EXPECT_EQ(mlx::ChatTemplate::load(tmp.path(), "tool_use")->render(json::array(), json(), false, false, json::object()), "tools");
  EXPECT_FALSE(mlx::ChatTemplate::load(tmp.path(), "missing"));
  mlx::write_file_atomic(tmp / "chat_template.json", R"({"chat_template": "json{{ eos_token }}"})");
  EXPECT_EQ(mlx::ChatTemplate::load(tmp.path())->render(json::array(), json(), false, false, json::object()), "json</s>");
  mlx::write_file_atomic(tmp / "chat_template.jinja", "jinja{{ eos_token }}\n");
  EXPECT_EQ(mlx::ChatTemplate::load(tmp.path())->render(json::array(), json(), false, false, json::object()), "jinja</s>");
}

TEST(ChatTemplateLoad, NoTemplateIsNullopt) {
  mlx::test::TempDir tmp;
  mlx::write_file_atomic(tmp / "tokenizer_config.json", R"({"eos_token": "</s>"})");
  EXPECT_FALSE(mlx::ChatTemplate::load(tmp.path()));
}

TEST(ChatTemplateLoad, SyntaxErrorNamesFileLineAndColumn) {
  mlx::test::TempDir tmp;
  mlx::write_file_atomic(tmp / "chat_template.jinja", "line one\n{% if x %}\n  {{ 1 + }}\n{% endif %}");
  try {
    mlx::ChatTemplate::load(tmp.path());
    FAIL() << "expected a syntax error";
  } catch (const mlx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("chat_template.jinja:3:"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplateRender, RaiseExceptionMessage) {
  auto t = mlx::ChatTemplate::from_source("{{ raise_exception('roles must alternate') }}");
  try {
    t.render(json::array(), json(), false, false, json::object());
    FAIL();
  } catch (const mlx::Error& e) {
    EXPECT_STREQ(e.what(), "TemplateError: roles must alternate");
  }
}

}  // namespace
