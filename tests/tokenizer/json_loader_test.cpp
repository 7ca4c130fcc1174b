// The hand-written tokenizer.json reader: it must read every fixture exactly as nlohmann does, accept the same JSON
// (strict UTF-8, surrogate pairs, BOM), and reject each malformed input with a one-line error naming the file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "common/fixtures.h"
#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/json_loader.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using mlx::test::TempDir;

// A tiny BPE (characters a, b, c; merges "a b" -> "ab", "ab c" -> "abc") with replaceable vocab/merges text.
const char* kVocab = R"({"<unk>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "abc": 5})";
const char* kMerges = R"(["a b", "ab c"])";

std::string tiny(const std::string& vocab = kVocab, const std::string& merges = kMerges, const std::string& extra = "") {
  return R"({"version": "1.0", )" + extra + R"("model": {"type": "BPE", "unk_token": "<unk>", "vocab": )" + vocab +
         R"(, "merges": )" + merges + "}}";
}

std::string load_error(const std::string& text) {
  TempDir dir;
  std::ofstream(dir / "tokenizer.json", std::ios::binary) << text;
  try {
    mlx::Tokenizer::load(dir.path());
  } catch (const mlx::Error& e) {
    return e.what();
  }
  return "(no error)";
}

mlx::Tokenizer load_text(const std::string& text, TempDir& dir) {
  std::ofstream(dir / "tokenizer.json", std::ios::binary) << text;
  return mlx::Tokenizer::load(dir.path());
}

// The error is one line, names the file, and contains `what`.
void expect_error(const std::string& text, const std::string& what) {
  std::string err = load_error(text);
  EXPECT_NE(err.find("tokenizer.json"), std::string::npos) << err;
  EXPECT_NE(err.find(what), std::string::npos) << "wanted \"" << what << "\" in: " << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

TEST(TokenizerJsonReader, MatchesNlohmannOnEveryFixture) {
  int checked = 0;
  std::set<size_t> seen;  // tests/data and the shared fixtures hold copies of the same files: check each once
  for (const fs::path& dir : mlx::test::fixture_dirs("tokenizers")) {
    if (!mlx::exists_maybe_zst(dir / "tokenizer.json")) continue;
    SCOPED_TRACE(dir.string());
    std::string text = mlx::read_file(dir / "tokenizer.json");
    if (!seen.insert(std::hash<std::string>()(text)).second) continue;
    mlx::tok::TokenizerJson tj = mlx::tok::parse_tokenizer_json(text, "tokenizer.json");
    // nlohmann::json (std::map objects), not ordered_json: ordered_json inserts in O(n), so a 128k-token vocab would
    // take minutes. The file's key order is checked through the dump of the re-read tree below.
    nlohmann::json ref = nlohmann::json::parse(text);
    nlohmann::json& model = ref["model"];
    if (model.contains("vocab") && model["vocab"].is_object()) {
      ASSERT_TRUE(tj.has_vocab);
      ASSERT_EQ(tj.vocab.size(), model["vocab"].size());  // fixtures hold no repeated tokens
      for (const auto& e : tj.vocab.entries) {
        auto it = model["vocab"].find(std::string(tj.vocab.token(e)));
        ASSERT_NE(it, model["vocab"].end()) << tj.vocab.token(e);
        ASSERT_EQ(e.id, it->get<int64_t>());
      }
      model.erase("vocab");
    }
    if (model.contains("merges") && model["merges"].is_array()) {
      ASSERT_TRUE(tj.has_merges);
      ASSERT_EQ(tj.merges.size(), model["merges"].size());
      for (size_t i = 0; i < tj.merges.size(); ++i) {
        const nlohmann::json& m = model["merges"][i];
        std::string a, b;
        if (m.is_string()) {
          std::string s = m.get<std::string>();
          a = s.substr(0, s.find(' '));
          b = s.substr(s.find(' ') + 1);
        } else {
          a = m[0].get<std::string>();
          b = m[1].get<std::string>();
        }
        ASSERT_EQ(tj.merges.left(tj.merges.entries[i]), a);
        ASSERT_EQ(tj.merges.right(tj.merges.entries[i]), b);
      }
      model.erase("merges");
    }
    // The rest of the document, numbers' types included.
    EXPECT_EQ(nlohmann::json::parse(tj.doc.dump()), ref);
    EXPECT_EQ(nlohmann::json::parse(tj.doc.dump()).dump(), ref.dump());
    // Key order: as in the file (nlohmann's ordered reading of the small remainder is quick).
    EXPECT_EQ(tj.doc.dump(), json::parse(tj.doc.dump()).dump());
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// read_tokenizer_json (huge-page, one-shot zstd reading) gives what read_file + parse_tokenizer_json give.
TEST(TokenizerJsonReader, ReadFileVariantsAgree) {
  int checked = 0;
  for (const fs::path& dir : mlx::test::fixture_dirs("tokenizers")) {
    if (!mlx::exists_maybe_zst(dir / "tokenizer.json")) continue;
    SCOPED_TRACE(dir.string());
    auto a = mlx::tok::read_tokenizer_json(dir / "tokenizer.json", "t");
    auto b = mlx::tok::parse_tokenizer_json(mlx::read_file(dir / "tokenizer.json"), "t");
    EXPECT_EQ(a.doc.dump(), b.doc.dump());
    ASSERT_EQ(a.vocab.bytes, b.vocab.bytes);
    ASSERT_EQ(a.merges.bytes, b.merges.bytes);
    ASSERT_EQ(a.vocab.size(), b.vocab.size());
    ASSERT_EQ(a.merges.size(), b.merges.size());
    if (++checked == 2) break;  // two fixtures are enough: the reading, not the parsing, is under test
  }
  EXPECT_GT(checked, 0);
  // Plain, explicit .zst, and "x" missing with "x.zst" present; a corrupt .zst names the file.
  TempDir dir;
  std::ofstream(dir / "plain.json", std::ios::binary) << tiny();
  EXPECT_EQ(mlx::tok::read_tokenizer_json(dir / "plain.json", "t").vocab.size(), 6u);
  std::string cmd = "zstd -q -19 " + (dir / "plain.json").string() + " -o " + (dir / "z.json.zst").string();
  if (std::system(cmd.c_str()) == 0) {
    EXPECT_EQ(mlx::tok::read_tokenizer_json(dir / "z.json.zst", "t").vocab.size(), 6u);
    EXPECT_EQ(mlx::tok::read_tokenizer_json(dir / "z.json", "t").merges.size(), 2u);
  }
  std::ofstream(dir / "bad.json.zst", std::ios::binary) << "\x28\xb5\x2f\xfd\x24\x10garbage-garbage";
  try {
    mlx::tok::read_tokenizer_json(dir / "bad.json", "t");
    ADD_FAILURE() << "no error";
  } catch (const mlx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json.zst"), std::string::npos) << e.what();
  }
  try {
    mlx::tok::read_tokenizer_json(dir / "missing.json", "t");
    ADD_FAILURE() << "no error";
  } catch (const mlx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.json"), std::string::npos) << e.what();
  }
}

// A tokenizer big enough for the multi-threaded merge resolution (>= 65536 merges): 256 two-byte characters and every
// pair of them. Each merge still resolves to the right ids, and with bad merges the first bad rank is reported.
std::string big_tokenizer(int bad_rank_1 = -1, int bad_rank_2 = -1) {
  auto ch = [](int i) {
    std::string s;
    char32_t cp = 0x100 + i;  // two UTF-8 bytes each
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
    return s;
  };
  std::string vocab = "{\"<unk>\": 0", merges = "[";
  for (int i = 0; i < 256; ++i) vocab += ",\"" + ch(i) + "\": " + std::to_string(1 + i);
  int rank = 0;
  for (int i = 0; i < 256; ++i)
    for (int j = 0; j < 256; ++j, ++rank) {
      vocab += ",\"" + ch(i) + ch(j) + "\": " + std::to_string(257 + rank);
      merges += std::string(rank ? "," : "") + "\"" + ch(i) + " " + (rank == bad_rank_1 ? "X" : rank == bad_rank_2 ? "Y" : ch(j)) + "\"";
    }
  return tiny(vocab + "}", merges + "]");
}

TEST(TokenizerJsonReader, ManyMergesResolveInParallel) {
  TempDir dir;
  auto tok = load_text(big_tokenizer(), dir);
  auto ch = [](int i) { return std::string{static_cast<char>(0xC0 | ((0x100 + i) >> 6)), static_cast<char>(0x80 | ((0x100 + i) & 0x3F))}; };
  for (int i : {0, 1, 77, 128, 200, 255})
    for (int j : {0, 3, 128, 254, 255}) EXPECT_EQ(tok.encode(ch(i) + ch(j), false), (std::vector<int32_t>{257 + i * 256 + j}));
  // Of two overlapping merges the lower rank applies.
  EXPECT_EQ(tok.encode(ch(1) + ch(2) + ch(3), false), (std::vector<int32_t>{257 + 1 * 256 + 2, 1 + 3}));
  for (int pass = 0; pass < 3; ++pass) {  // the split over threads must not change which error is reported
    std::string err = load_error(big_tokenizer(60000, 40000));
    EXPECT_NE(err.find("uses token \"Y\""), std::string::npos) << err;
  }
}

// With a continuing-subword prefix the merged token drops the right side's prefix ("a" + "##b" -> "ab"), as Hugging
// Face's BPE does; an empty prefix (qwen3 writes "") changes nothing.
TEST(TokenizerJsonReader, ContinuingSubwordPrefix) {
  TempDir d1, d2;
  std::string with = tiny(R"({"<unk>": 0, "a": 1, "##b": 2, "ab": 3, "b": 4})", R"(["a ##b"])");
  with.replace(with.find(R"("unk_token")"), 0, R"("continuing_subword_prefix": "##", )");
  auto tok = load_text(with, d1);
  EXPECT_EQ(tok.encode("ab", false), (std::vector<int32_t>{3}));
  std::string empty = tiny();
  empty.replace(empty.find(R"("unk_token")"), 0, R"("continuing_subword_prefix": "", )");
  auto tok2 = load_text(empty, d2);
  EXPECT_EQ(tok2.encode("abc", false), (std::vector<int32_t>{5}));
  EXPECT_EQ(tok2.encode("abab", false), (std::vector<int32_t>{4, 4}));
}

TEST(TokenizerJsonReader, BothMergeSpellingsAndEscapes) {
  TempDir d1, d2, d3;
  auto strings = load_text(tiny(), d1);
  auto pairs = load_text(tiny(kVocab, R"([["a", "b"], ["ab", "c"]])"), d2);
  // Escaped spellings of the same tokens: \u0061 is "a", \/ is "/".
  auto escaped = load_text(tiny(R"({"<unk>": 0, "\u0061": 1, "b": 2, "c": 3, "a\u0062": 4, "abc": 5, "\/": 6})",
                                R"(["\u0061 b", ["ab", "\u0063"]])"),
                           d3);
  for (const auto* tok : {&strings, &pairs, &escaped}) {
    EXPECT_EQ(tok->encode("abc", false), (std::vector<int32_t>{5}));
    EXPECT_EQ(tok->encode("abab", false), (std::vector<int32_t>{4, 4}));
  }
  EXPECT_EQ(escaped.token_to_id("/"), 6);
}

TEST(TokenizerJsonReader, PairMergesMayHoldSpaces) {
  TempDir dir;
  auto tok = load_text(tiny(R"({"<unk>": 0, "a": 1, " ": 2, "a ": 3})", R"([["a", " "]])"), dir);
  EXPECT_EQ(tok.encode("a ", false), (std::vector<int32_t>{3}));
}

TEST(TokenizerJsonReader, SurrogatePairsAndUtf8) {
  TempDir dir;
  auto tok = load_text(tiny(R"({"<unk>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "abc": 5, "\ud83d\ude00": 6, "é": 7})"),
                       dir);
  EXPECT_EQ(tok.token_to_id("\xF0\x9F\x98\x80"), 6);  // U+1F600 from its escaped surrogate pair
  EXPECT_EQ(tok.token_to_id("\xC3\xA9"), 7);
}

TEST(TokenizerJsonReader, ByteOrderMarkIsSkipped) {
  TempDir dir;
  auto tok = load_text("\xEF\xBB\xBF" + tiny(), dir);
  EXPECT_EQ(tok.encode("abc", false), (std::vector<int32_t>{5}));
}

TEST(TokenizerJsonReader, RepeatedKeysLastWins) {
  TempDir d1, d2;
  // In model.vocab the last id of a repeated token wins (as Python's json and serde's HashMap).
  auto tok = load_text(tiny(R"({"<unk>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "abc": 5, "a": 6})",
                            R"(["a b", "ab c"])"),
                       d1);
  EXPECT_EQ(tok.token_to_id("a"), 6);
  // Elsewhere too: the second "type" replaces the first.
  std::string text = tiny();
  text.replace(text.find(R"("type": "BPE")"), 13, R"("type": "Unigram", "type": "BPE")");
  auto tok2 = load_text(text, d2);
  EXPECT_EQ(tok2.encode("abc", false), (std::vector<int32_t>{5}));
}

TEST(TokenizerJsonReader, MalformedJson) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "unexpected end of input"},
      {"{", "unexpected end of input"},
      {tiny().substr(0, tiny().find("\"ab\"") + 2), "unterminated string"},            // truncated in the vocab
      {tiny().substr(0, tiny().find("\"ab c\"") + 3), "unterminated string"},          // truncated in the merges
      {tiny(R"({"<unk>": 0, "\q": 1})"), "invalid escape"},                              // bad escape in a token
      {tiny(kVocab, R"(["a\x b"])"), "invalid escape"},
      {tiny(R"({"<unk>": 0, "\u00g1": 1})"), "4 hex digits"},
      {tiny(R"({"<unk>": 0, "\ud800": 1})"), "lone high surrogate"},                     // as nlohmann and serde_json
      {tiny(R"({"<unk>": 0, "\ud800\u0041": 1})"), "lone high surrogate"},
      {tiny(R"({"<unk>": 0, "\udc00": 1})"), "lone low surrogate"},
      {tiny(R"({"<unk>": 0, "a)" "\x01" R"(": 1})"), "control character"},
      {tiny(R"({"<unk>": 0, "a)" "\xff" R"(": 1})"), "invalid UTF-8"},
      {tiny(R"({"<unk>": 0, "a)" "\xc3" R"(": 1})"), "invalid UTF-8"},
      {tiny(R"({"<unk>": 0, "a)" "\xed\xa0\x80" R"(": 1})"), "invalid UTF-8"},      // an encoded surrogate
      {tiny(R"({"<unk>": 0, "a": 1,})"), "expected a string"},                           // trailing comma
      {tiny(R"({"<unk>": 0 "a": 1})"), "expected '}' or ','"},
      {tiny(kVocab, R"(["a b",])"), "expected a value"},
      {tiny(R"({"<unk>": 0, "a": 01})"), "expected '}' or ','"},                         // no leading zeros
      {tiny(R"({"<unk>": 0, "a": -})"), "invalid number"},
      {tiny(kVocab, kMerges, R"("decoder": {"type": tru},)"), "invalid literal"},
      {tiny(kVocab, kMerges, R"("decoder": [1, 2,],)"), "expected a value"},
      {tiny() + " x", "unexpected data after the top-level value"},
      {tiny(kVocab, kMerges, R"("normalizer": )" + std::string(100000, '[') + std::string(100000, ']') + ","),
       "nesting deeper than"},
  };
  for (const auto& [text, what] : cases) {
    SCOPED_TRACE(text.substr(0, 200));
    std::string err = load_error(text);
    EXPECT_NE(err.find("invalid JSON near byte"), std::string::npos) << err;
    expect_error(text, what);
  }
}

TEST(TokenizerJsonReader, BadVocabEntries) {
  expect_error(tiny(R"({"<unk>": 0, "a": 1.5})"), "model.vocab entry \"a\" has a non-integer id");
  expect_error(tiny(R"({"<unk>": 0, "a": 1e2})"), "model.vocab entry \"a\" has a non-integer id");
  expect_error(tiny(R"({"<unk>": 0, "a": "1"})"), "model.vocab entry \"a\" is not an integer id");
  expect_error(tiny(R"({"<unk>": 0, "a": null})"), "model.vocab entry \"a\" is not an integer id");
  expect_error(tiny(R"({"<unk>": 0, "a": [1]})"), "model.vocab entry \"a\" is not an integer id");
  expect_error(tiny(R"({"<unk>": 0, "a": -1})"), "model.vocab id -1 of \"a\" is out of range");
  expect_error(tiny(R"({"<unk>": 0, "a": 1099511627776})"), "out of range");
  expect_error(tiny(R"({"<unk>": 0, "a": 99999999999999999999999})"), "\"a\"");  // beyond 64 bits
}

TEST(TokenizerJsonReader, BadMerges) {
  expect_error(tiny(kVocab, R"(["abc"])"), "model.merges entry \"abc\" is not of the form \"a b\"");
  expect_error(tiny(kVocab, R"(["a b c"])"), "is not of the form \"a b\"");
  expect_error(tiny(kVocab, R"([["a", "b", "c"]])"), "model.merges entry has 3 parts, expected 2");
  expect_error(tiny(kVocab, R"([["a"]])"), "model.merges entry has 1 parts, expected 2");
  expect_error(tiny(kVocab, R"([[]])"), "model.merges entry has 0 parts, expected 2");
  expect_error(tiny(kVocab, R"([["a", ["b"]]])"), "model.merges entries nest too deeply");
  expect_error(tiny(kVocab, R"([["a", 2]])"), "model.merges pair holds a non-string");
  expect_error(tiny(kVocab, R"([{"a": "b"}])"), "model.merges holds an object");
  expect_error(tiny(kVocab, R"([7])"), "model.merges entry is not a string or a pair of strings");
  expect_error(tiny(kVocab, R"(["a q"])"), "uses token \"q\" that is not in the vocabulary");
  expect_error(tiny(R"({"<unk>": 0, "a": 1, "b": 2})", R"(["a b"])"), "produces \"ab\" that is not in the vocabulary");
}

}  // namespace
