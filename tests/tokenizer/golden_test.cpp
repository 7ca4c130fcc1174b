// Every golden.jsonl / chat_golden.jsonl line of every tokenizer fixture: ids, decoded text and streamed text must
// match Hugging Face tokenizers exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "common/jsonl.h"
#include "core/file_io.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;
using mlx::test::read_jsonl;

std::string streamed(const mlx::Tokenizer& tok, const std::vector<int32_t>& ids, bool skip) {
  mlx::StreamDecoder stream(tok, skip);
  std::string out;
  for (int32_t id : ids) out += stream.push(id);
  return out + stream.flush();
}

std::vector<fs::path> tokenizer_dirs() {
  std::vector<fs::path> out;
  for (const fs::path& d : mlx::test::fixture_dirs("tokenizers"))
    if (mlx::exists_maybe_zst(d / "tokenizer.json")) out.push_back(d);
  return out;
}

TEST(TokenizerGolden, FixturesExist) { EXPECT_FALSE(tokenizer_dirs().empty()); }

TEST(TokenizerGolden, EncodeDecodeStream) {
  for (const fs::path& dir : tokenizer_dirs()) {
    if (!fs::exists(dir / "golden.jsonl")) continue;
    SCOPED_TRACE(dir.string());
    mlx::Tokenizer tok = mlx::Tokenizer::load(dir);
    int line_no = 0, failures = 0;
    for (const json& g : read_jsonl(dir / "golden.jsonl")) {
      ++line_no;
      if (failures > 5) break;
      const std::string text = g["text"].get<std::string>();
      const bool add = g["add_special_tokens"].get<bool>();
      const auto want = g["ids"].get<std::vector<int32_t>>();
      auto got = tok.encode(text, add);
      if (got != want) {
        ++failures;
        ADD_FAILURE() << dir.filename() << " line " << line_no << " encode(" << json(text).dump()
                      << ", add_special_tokens=" << add << ")\n  got  " << json(got).dump() << "\n  want "
                      << json(want).dump();
      }
      const std::string decoded = g["decoded"].get<std::string>();
      const std::string decoded_skip = g["decoded_skip_special"].get<std::string>();
      EXPECT_EQ(tok.decode(want, false), decoded) << dir.filename() << " line " << line_no;
      EXPECT_EQ(tok.decode(want, true), decoded_skip) << dir.filename() << " line " << line_no;
      EXPECT_EQ(streamed(tok, want, false), decoded) << dir.filename() << " line " << line_no << " (stream)";
      EXPECT_EQ(streamed(tok, want, true), decoded_skip) << dir.filename() << " line " << line_no << " (stream)";
    }
  }
}

TEST(TokenizerGolden, ChatRenderedIds) {
  for (const fs::path& dir : tokenizer_dirs()) {
    if (!fs::exists(dir / "chat_golden.jsonl")) continue;
    SCOPED_TRACE(dir.string());
    mlx::Tokenizer tok = mlx::Tokenizer::load(dir);
    for (const json& g : read_jsonl(dir / "chat_golden.jsonl")) {
      if (!g.contains("ids") || g["ids"].is_null() || !g["rendered"].is_string()) continue;
      auto want = g["ids"].get<std::vector<int32_t>>();
      EXPECT_EQ(tok.encode(g["rendered"].get<std::string>(), false), want) << g.value("name", "?");
      EXPECT_EQ(streamed(tok, want, false), tok.decode(want, false)) << g.value("name", "?");
    }
  }
}

}  // namespace
