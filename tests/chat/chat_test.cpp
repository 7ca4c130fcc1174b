// `mlx chat` end to end: scripted turns from a pipe equal single-shot greedy generation on the whole rendered
// conversation; later turns prefill only the new suffix; commands; a tmux-driven TTY session.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "generate/e2e_model.h"

using namespace mlx::test;
using Json = nlohmann::ordered_json;

namespace {
std::string chat(const E2EModel& m, const std::string& input, const std::string& flags, int* code, std::string* err) {
  TempDir tmp;
  std::ofstream(tmp / "in.txt") << input;
  return run_cli("chat --model " + quote(m.path().string()) + " " + flags + " < " + quote((tmp / "in.txt").string()),
                 code, err);
}
}  // namespace

TEST(Chat, ScriptedTurnsEqualSingleShotGenerateOnTheRenderedConversation) {
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  const auto& m = models[0];
  const std::vector<std::string> turns = {"Hello! Who are you?", "Tell me about the sea.", "And the mountains?"};
  std::string input;
  for (const auto& t : turns) input += t + "\n";
  int code = -1;
  std::string err;
  auto out = chat(m, input, "--temp 0 --ignore-eos -m 10 --json --system-prompt 'Be brief.'", &code, &err);
  ASSERT_EQ(code, 0) << err;
  auto replies = lines_of(out);
  ASSERT_EQ(replies.size(), turns.size()) << out;

  Json messages = Json::array({{{"role", "system"}, {"content", "Be brief."}}});
  TempDir tmp;
  std::string batch;
  std::vector<Json> chat_results;
  for (size_t i = 0; i < turns.size(); ++i) {
    messages.push_back({{"role", "user"}, {"content", turns[i]}});
    batch += Json({{"id", i}, {"messages", messages}}).dump() + "\n";
    auto r = Json::parse(replies[i]);
    chat_results.push_back(r);
    messages.push_back({{"role", "assistant"}, {"content", r["text"]}});
  }
  std::ofstream(tmp / "in.jsonl") << batch;
  run_cli("generate --model " + quote(m.path().string()) + " --temp 0 --ignore-eos -m 10 --batch " +
              quote((tmp / "in.jsonl").string()) + " --output " + quote((tmp / "out.jsonl").string()),
          &code, &err);
  ASSERT_EQ(code, 0) << err;
  auto single = lines_of(slurp(tmp / "out.jsonl"));
  ASSERT_EQ(single.size(), turns.size());
  for (size_t i = 0; i < turns.size(); ++i) {
    auto s = Json::parse(single[i]);
    EXPECT_EQ(chat_results[i]["ids"], s["ids"]) << "turn " << i;
    EXPECT_EQ(chat_results[i]["text"], s["text"]) << "turn " << i;
    if (i == 0) {
      EXPECT_EQ(chat_results[i]["prompt_tokens"], s["prompt_tokens"]);
    } else {
      // Later turns prefill only the new user turn plus template glue, far less than the whole conversation.
      EXPECT_LT(chat_results[i]["prompt_tokens"].get<int64_t>(), s["prompt_tokens"].get<int64_t>() / 2)
          << "turn " << i << " prefilled " << chat_results[i]["prompt_tokens"] << " of " << s["prompt_tokens"];
    }
  }
}

TEST(Chat, MultiLineBlocksCommandsAndSaveLoad) {
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  const auto& m = models[0];
  TempDir tmp;
  std::string saved = (tmp / "conv.json").string();
  std::string input = "\"\"\"\nfirst line\nsecond line\n\"\"\"\ncontinued \\\nline\n/save " + saved + "\n/reset\nq\nnever sent\n";
  int code = -1;
  std::string err;
  auto out = chat(m, input, "--temp 0 -m 4 --json", &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(lines_of(out).size(), 2u) << out;
  auto conv = mlx::read_json(saved);
  ASSERT_EQ(conv.size(), 4u);
  EXPECT_EQ(conv[0]["content"], "first line\nsecond line");
  EXPECT_EQ(conv[2]["content"], "continued \nline");
  EXPECT_EQ(conv[1]["role"], "assistant");
  // /load restores it: the next turn's single-shot equivalent sees the loaded history.
  out = chat(m, "/load " + saved + "\nnext\n", "--temp 0 -m 4 --json", &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(lines_of(out).size(), 1u);
  EXPECT_NE(err.find("loaded 4 messages"), std::string::npos) << err;
}

TEST(Chat, InvalidUtf8IsRejectedAndTheSessionContinues) {
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  int code = -1;
  std::string err;
  auto out = chat(models[0], "bad \xff\xfe input\nhello\n", "--temp 0 -m 3 --json", &code, &err);
  EXPECT_EQ(code, 1);  // a scripted session reports that a turn failed
  EXPECT_EQ(lines_of(out).size(), 1u) << out;
  EXPECT_NE(err.find("UTF-8"), std::string::npos) << err;
}

TEST(Chat, ContextLimitDropsOldestTurnsButKeepsTheSystemPrompt) {
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  std::string input;
  for (int i = 0; i < 8; ++i) input += "This is message number " + std::to_string(i) + " of a long chat.\n";
  int code = -1;
  std::string err;
  TempDir tmp;
  input += "/save " + (tmp / "c.json").string() + "\n";
  auto out = chat(models[0], input, "--temp 0 --ignore-eos -m 8 --json --max-kv-size 120 --system-prompt 'SYS'", &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(lines_of(out).size(), 8u);
  EXPECT_NE(err.find("dropped"), std::string::npos) << err;
  auto conv = mlx::read_json(tmp / "c.json");
  EXPECT_EQ(conv[0]["role"], "system");
  EXPECT_EQ(conv[0]["content"], "SYS");
  EXPECT_LT(conv.size(), 17u);
  EXPECT_EQ(conv[conv.size() - 2]["content"], "This is message number 7 of a long chat.");
}

TEST(Chat, NoChatTemplateFallsBackWithAWarning) {
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  // Same model, tokenizer.json only (no tokenizer_config.json, so no template).
  TempDir dir;
  for (const auto& e : fs::directory_iterator(models[0].path())) {
    auto name = e.path().filename().string();
    if (name == "tokenizer_config.json" || name.rfind("chat_template", 0) == 0) continue;
    fs::create_symlink(fs::read_symlink(e.path()), dir / name);
  }
  int code = -1;
  std::string err;
  TempDir tmp;
  std::ofstream(tmp / "in.txt") << "hello\n";
  auto out = run_cli("chat --model " + quote(dir.path().string()) + " --temp 0 -m 3 --json < " + quote((tmp / "in.txt").string()),
                     &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(lines_of(out).size(), 1u);
  EXPECT_NE(err.find("warning"), std::string::npos) << err;
}

// The real terminal path through tmux: type a prompt, Ctrl-C mid-reply, type another, /exit.
TEST(Chat, TmuxDrivenTerminalSession) {
  if (std::system("command -v tmux >/dev/null 2>&1") != 0) GTEST_SKIP() << "tmux not installed";
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  TempDir tmp;
  std::string session = "mlxchat" + std::to_string(::getpid());
  std::string log = (tmp / "screen.txt").string();
  std::string cmd = std::string(MLX_BIN) + " chat --model " + quote(models[0].path().string()) +
                    " --temp 0 --ignore-eos -m 100000 --max-kv-size 200000";
  auto sh = [](const std::string& c) { return std::system(c.c_str()); };
  ASSERT_EQ(sh("tmux new-session -d -x 200 -y 50 -s " + session + " " + quote(cmd)), 0);
  auto capture = [&]() {
    sh("tmux capture-pane -p -S -200 -t " + session + " > " + quote(log) + " 2>/dev/null");
    return slurp(log);
  };
  auto wait_for = [&](const std::string& needle, int after = 0) {
    for (int i = 0; i < 300; ++i) {
      auto s = capture();
      size_t at = 0;
      int seen = 0;
      while ((at = s.find(needle, at)) != std::string::npos) {
        ++seen;
        at += needle.size();
      }
      if (seen > after) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  EXPECT_TRUE(wait_for(">>")) << capture();
  sh("tmux send-keys -t " + session + " 'tell me a long story' Enter");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  sh("tmux send-keys -t " + session + " C-c");
  EXPECT_TRUE(wait_for("[stopped]")) << capture();
  EXPECT_TRUE(wait_for(">>", 1)) << capture();
  sh("tmux send-keys -t " + session + " '/exit' Enter");
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = sh("tmux has-session -t " + session + " 2>/dev/null") != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!gone) sh("tmux kill-session -t " + session);
  EXPECT_TRUE(gone) << "chat did not exit on /exit";
}
