// `mlx generate` end to end: greedy parity with transformers on the e2e fixture (text prompts through the chat
// template) and on every fixture model (--prompt-ids), the --json shape, batch mode.
#include <gtest/gtest.h>

#include <fstream>

#include "generate/e2e_model.h"

using namespace mlx::test;
using Json = nlohmann::ordered_json;

namespace {
std::string ids_csv(const Json& ids) {
  std::string s;
  for (const auto& v : ids) {
    if (!s.empty()) s += ',';
    s += std::to_string(v.get<int64_t>());
  }
  return s;
}
}  // namespace

TEST(GenerateE2E, ChatMessagesGiveTransformersGreedyTokensAndText) {
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  for (const auto& m : models) {
    TempDir tmp;
    std::string in;
    int n = 0;
    for (const auto& chat : m.golden["chats"]) {
      Json req = {{"id", n++}, {"messages", chat["messages"]}, {"chat_template_config", chat.value("extra", Json::object())}};
      in += req.dump() + "\n";
    }
    std::ofstream(tmp / "in.jsonl") << in;
    int code = -1;
    std::string err;
    int max_new = m.golden.value("max_new_tokens", 16);
    run_cli("generate --model " + quote(m.path().string()) + " --temp 0 --ignore-eos -m " + std::to_string(max_new) +
                " --batch " + quote((tmp / "in.jsonl").string()) + " --output " + quote((tmp / "out.jsonl").string()),
            &code, &err);
    ASSERT_EQ(code, 0) << err;
    auto out = lines_of(slurp(tmp / "out.jsonl"));
    ASSERT_EQ(out.size(), m.golden["chats"].size());
    for (size_t i = 0; i < out.size(); ++i) {
      auto r = Json::parse(out[i]);
      const auto& chat = m.golden["chats"][i];
      ASSERT_FALSE(r.contains("error")) << r.dump();
      EXPECT_EQ(r["id"], i);
      EXPECT_EQ(r["ids"], chat["new_ids"]) << m.fixture << " chat " << i;
      EXPECT_EQ(r["text"], chat["decoded_new"]) << m.fixture << " chat " << i;
      EXPECT_EQ(r["prompt_tokens"], chat["prompt_ids"].size());
      EXPECT_EQ(r["finish_reason"], "length");
    }
  }
}

TEST(GenerateE2E, PromptFlagsAndPromptIdsMatchGolden) {
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  for (const auto& m : models) {
    for (const auto& chat : m.golden["chats"]) {
      const auto& msgs = chat["messages"];
      // Single-shot flags express [system?] + user conversations.
      bool simple = msgs.back()["role"] == "user" && (msgs.size() == 1 || (msgs.size() == 2 && msgs[0]["role"] == "system"));
      std::string common = "generate --model " + quote(m.path().string()) + " --temp 0 --ignore-eos -m " +
                           std::to_string(chat["new_ids"].size()) + " --json";
      if (simple) {
        std::string args = common + " --prompt " + quote(msgs.back()["content"].get<std::string>());
        if (msgs.size() == 2) args += " --system-prompt " + quote(msgs[0]["content"].get<std::string>());
        if (!chat.value("extra", Json::object()).empty())
          args += " --chat-template-config " + quote(chat["extra"].dump());
        int code = -1;
        std::string err;
        auto out = run_cli(args, &code, &err);
        ASSERT_EQ(code, 0) << err;
        auto r = Json::parse(out);
        EXPECT_EQ(r["ids"], chat["new_ids"]);
        EXPECT_EQ(r["text"], chat["decoded_new"]);
        // Exactly the keys of issue 4 (no logprobs unless asked).
        std::vector<std::string> keys;
        for (auto it = r.begin(); it != r.end(); ++it) keys.push_back(it.key());
        EXPECT_EQ(keys, (std::vector<std::string>{"text", "ids", "finish_reason", "prompt_tokens", "generation_tokens",
                                                  "prompt_tps", "generation_tps", "peak_memory_gb"}));
      }
      int code = -1;
      std::string err;
      auto out = run_cli(common + " --prompt-ids " + quote(ids_csv(chat["prompt_ids"])) + " --logprobs 3", &code, &err);
      ASSERT_EQ(code, 0) << err;
      auto r = Json::parse(out);
      EXPECT_EQ(r["ids"], chat["new_ids"]);
      ASSERT_EQ(r["logprobs"].size(), chat["new_ids"].size());
      for (size_t i = 0; i < r["logprobs"].size(); ++i) {
        const auto& lp = r["logprobs"][i];
        EXPECT_EQ(lp["id"], chat["new_ids"][i]);
        ASSERT_EQ(lp["top"].size(), 3u);
        EXPECT_EQ(lp["top"][0]["id"], lp["id"]);  // greedy: the chosen token is the most likely
        EXPECT_LE(lp["logprob"].get<double>(), 0.0);
      }
    }
  }
}

TEST(GenerateE2E, StreamsTextAndPrintsMlxLmStats) {
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  const auto& m = models[0];
  const auto& chat = m.golden["chats"][0];
  int code = -1;
  std::string err;
  auto out = run_cli("generate --model " + quote(m.path().string()) + " --temp 0 --ignore-eos -m 16 --prompt " +
                         quote(chat["messages"][0]["content"].get<std::string>()),
                     &code, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(out, chat["decoded_new"].get<std::string>() + "\n");
  auto ls = lines_of(err);
  ASSERT_GE(ls.size(), 5u) << err;
  EXPECT_EQ(ls[0], "==========");
  EXPECT_EQ(ls[1], "==========");
  EXPECT_EQ(ls[2].rfind("Prompt: " + std::to_string(chat["prompt_ids"].size()) + " tokens, ", 0), 0u) << ls[2];
  EXPECT_NE(ls[2].find(" tokens-per-sec"), std::string::npos);
  EXPECT_EQ(ls[3].rfind("Generation: 16 tokens, ", 0), 0u) << ls[3];
  EXPECT_EQ(ls[4].rfind("Peak memory: ", 0), 0u) << ls[4];
  EXPECT_EQ(ls[4].substr(ls[4].size() - 3), " GB");
  // --verbose false: only the text.
  out = run_cli("generate --model " + quote(m.path().string()) + " --verbose false --temp 0 --ignore-eos -m 16 -p " +
                    quote(chat["messages"][0]["content"].get<std::string>()),
                &code, &err);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, chat["decoded_new"].get<std::string>() + "\n");
  EXPECT_EQ(err, "");
}

TEST(GenerateE2E, StopStringIsNeverPrinted) {
  auto models = e2e_models();
  if (models.empty()) GTEST_SKIP() << "no e2e fixture";
  const auto& m = models[0];
  for (const auto& chat : m.golden["chats"]) {
    std::string text = chat["decoded_new"];
    if (text.size() < 8) continue;
    // Stop on a piece of the reply that starts after its first few characters.
    std::string stop = text.substr(text.size() / 2, 4);
    size_t at = text.find(stop);
    int code = -1;
    std::string err;
    auto out = run_cli("generate --model " + quote(m.path().string()) + " --temp 0 --ignore-eos -m 16 --json --prompt-ids " +
                           quote(ids_csv(chat["prompt_ids"])) + " --stop " + quote(stop),
                       &code, &err);
    ASSERT_EQ(code, 0) << err;
    auto r = Json::parse(out);
    EXPECT_EQ(r["text"], text.substr(0, at));
    EXPECT_EQ(r["finish_reason"], "stop");
    break;
  }
}

TEST(GenerateModels, GreedyIdsOfEveryFixtureModelMatchTransformers) {
  auto dirs = fixture_dirs("models");
  if (dirs.empty()) GTEST_SKIP() << "no model fixtures";
  for (const auto& d : dirs) {
    auto golden = mlx::read_json(d / "golden.json");
    const auto& g = golden["greedy"];
    int code = -1;
    std::string err;
    auto out = run_cli("generate --model " + quote(d.string()) + " --prompt-ids " + quote(ids_csv(g["input_ids"])) +
                           " --temp 0 --ignore-eos -m " + std::to_string(g["max_new_tokens"].get<int>()) + " --json",
                       &code, &err);
    ASSERT_EQ(code, 0) << d << ": " << err;
    auto r = Json::parse(out);
    EXPECT_EQ(r["ids"], g["new_ids"]) << d;
    EXPECT_FALSE(r.contains("text")) << "no tokenizer, so no text field";
    EXPECT_EQ(r["generation_tokens"], g["new_ids"].size());
  }
}

TEST(GenerateModels, SeededSamplingIsDeterministic) {
  auto dirs = fixture_dirs("models");
  if (dirs.empty()) GTEST_SKIP() << "no model fixtures";
  std::string args = "generate --model " + quote(dirs[0].string()) +
                     " --prompt-ids 1,5,9,200 --temp 0.9 --top-p 0.95 --top-k 50 --min-p 0.01 --seed 11 "
                     "--repetition-penalty 1.2 --presence-penalty 0.3 --frequency-penalty 0.2 --ignore-eos -m 12 --json";
  int c1 = -1, c2 = -1;
  auto a = Json::parse(run_cli(args, &c1));
  auto b = Json::parse(run_cli(args, &c2));
  ASSERT_EQ(c1, 0);
  ASSERT_EQ(c2, 0);
  EXPECT_EQ(a["ids"], b["ids"]);
  EXPECT_EQ(a["ids"].size(), 12u);
}
