// Bad input: invalid UTF-8 names the byte offset; a broken tokenizer.json names the file and the component.
#include <gtest/gtest.h>

#include <fstream>

#include "common/fixtures.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using mlx::test::TempDir;

// A tiny byte-level-free BPE: characters a, b, c and merges "a b" -> "ab", "ab c" -> "abc".
std::string tiny_json(const std::string& extra_components = "", const std::string& model_type = "BPE",
                      const std::string& merges = R"(["a b", "ab c"])") {
  return R"({"version": "1.0", "added_tokens": [{"id": 5, "content": "<s>", "special": true, "lstrip": false,
  "rstrip": false, "single_word": false, "normalized": false}],)" +
         extra_components + R"( "model": {"type": ")" + model_type +
         R"(", "unk_token": "<unk>", "fuse_unk": true, "vocab": {"<unk>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "<s>": 5,
  "abc": 6}, "merges": )" + merges + "}}";
}

std::string load_error(const std::string& json_text) {
  TempDir dir;
  std::ofstream(dir / "tokenizer.json") << json_text;
  try {
    mlx::Tokenizer::load(dir.path());
  } catch (const mlx::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TokenizerBadInput, TinyTokenizerWorks) {
  TempDir dir;
  std::ofstream(dir / "tokenizer.json") << tiny_json();
  auto tok = mlx::Tokenizer::load(dir.path());
  EXPECT_EQ(tok.encode("abc", false), (std::vector<int32_t>{6}));
  EXPECT_EQ(tok.encode("ab<s>a", false), (std::vector<int32_t>{4, 5, 1}));
  // Unknown characters fuse into one <unk> (fuse_unk).
  EXPECT_EQ(tok.encode("xyza", false), (std::vector<int32_t>{0, 1}));
  EXPECT_TRUE(tok.is_special(5));
  EXPECT_EQ(tok.token_to_id("ab"), 4);
  EXPECT_EQ(tok.id_to_token(6), "abc");
  EXPECT_EQ(tok.vocab_size(), 7);
}

TEST(TokenizerBadInput, InvalidUtf8NamesByteOffset) {
  TempDir dir;
  std::ofstream(dir / "tokenizer.json") << tiny_json();
  auto tok = mlx::Tokenizer::load(dir.path());
  for (const std::string& bad : {std::string("ab\xff" "c"), std::string("ab\xc3"), std::string("ab\xed\xa0\x80")}) {
    try {
      tok.encode(bad);
      ADD_FAILURE() << "no error for invalid UTF-8";
    } catch (const mlx::Error& e) {
      EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte offset 2"), std::string::npos) << e.what();
    }
  }
}

TEST(TokenizerBadInput, MissingFile) {
  TempDir dir;
  try {
    mlx::Tokenizer::load(dir.path());
    ADD_FAILURE() << "no error";
  } catch (const mlx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
  }
}

TEST(TokenizerBadInput, MissingModel) {
  std::string err = load_error(R"({"version": "1.0", "added_tokens": []})");
  EXPECT_NE(err.find("tokenizer.json"), std::string::npos) << err;
  EXPECT_NE(err.find("missing \"model\""), std::string::npos) << err;
}

TEST(TokenizerBadInput, InvalidJson) {
  std::string err = load_error(R"({"model": {"type": "BPE", "vocab": {"a": 1,)");
  EXPECT_NE(err.find("tokenizer.json"), std::string::npos) << err;
  EXPECT_NE(err.find("invalid JSON"), std::string::npos) << err;
}

TEST(TokenizerBadInput, UnsupportedModelType) {
  std::string err = load_error(tiny_json("", "Unigram"));
  EXPECT_NE(err.find("Unigram"), std::string::npos) << err;
  EXPECT_NE(err.find("tokenizer.json"), std::string::npos) << err;
}

TEST(TokenizerBadInput, UnknownComponentsAreNamed) {
  const std::pair<std::string, std::string> cases[] = {
      {R"("normalizer": {"type": "FancyNorm"},)", "FancyNorm"},
      {R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "FancySplit"}]},)", "FancySplit"},
      {R"("post_processor": {"type": "FancyPost"},)", "FancyPost"},
      {R"("decoder": {"type": "FancyDecoder"},)", "FancyDecoder"},
      {R"("pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"},)",
       "(unclosed"},
      {R"("pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"},)", "Sideways"},
  };
  for (const auto& [component, name] : cases) {
    std::string err = load_error(tiny_json(component));
    EXPECT_NE(err.find(name), std::string::npos) << err;
    EXPECT_NE(err.find("tokenizer.json"), std::string::npos) << err;
  }
}

TEST(TokenizerBadInput, MergeWithUnknownToken) {
  std::string err = load_error(tiny_json("", "BPE", R"(["a q"])"));
  EXPECT_NE(err.find("\"q\""), std::string::npos) << err;
}

TEST(TokenizerBadInput, MalformedMerge) {
  std::string err = load_error(tiny_json("", "BPE", R"(["abc"])"));
  EXPECT_NE(err.find("merges"), std::string::npos) << err;
}

}  // namespace
