// Fast tokenizer.json reading: one pass of a hand-written scanner that reads model.vocab and model.merges (the bulk
// of the file) straight into flat, allocation-free lists and builds an ordinary JSON tree for everything else.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/huge_pages.h"

namespace mlx::tok {

// model.vocab ({token: id}) in file order: every token's bytes back to back in `bytes` (one allocation, not one
// std::string per token). A repeated token stays repeated here; the BPE model lets the last id win.
struct VocabList {
  struct Entry {
    uint32_t offset, size;  // into bytes
    int32_t id;
  };
  HugeString bytes;
  HugeVector<Entry> entries;

  size_t size() const { return entries.size(); }
  std::string_view token(const Entry& e) const { return std::string_view(bytes.data(), bytes.size()).substr(e.offset, e.size); }
  void add(std::string_view token, int32_t id);
};

// model.merges ("a b" or ["a", "b"]) in rank order. Each merge's two sides are stored adjacent, so "a" followed by
// "b" is also the merged token's text whenever no continuing-subword prefix has to be removed.
struct MergeList {
  struct Entry {
    uint32_t offset, left_size, right_size;  // left at offset, right right after it
  };
  HugeString bytes;
  HugeVector<Entry> entries;

  size_t size() const { return entries.size(); }
  std::string_view left(const Entry& e) const { return std::string_view(bytes.data(), bytes.size()).substr(e.offset, e.left_size); }
  std::string_view right(const Entry& e) const {
    return std::string_view(bytes.data(), bytes.size()).substr(e.offset + e.left_size, e.right_size);
  }
  std::string_view both(const Entry& e) const {
    return std::string_view(bytes.data(), bytes.size()).substr(e.offset, e.left_size + e.right_size);
  }
};

struct TokenizerJson {
  nlohmann::ordered_json doc;  // the file without model.vocab / model.merges
  VocabList vocab;             // model.vocab when it is a {token: id} object
  bool has_vocab = false;
  MergeList merges;            // model.merges when it is an array
  bool has_merges = false;
};

// Throws mlx::Error naming `origin` on malformed JSON, a vocab entry that is not an integer id in [0, 2^30), or a
// merge that is not "a b" / ["a", "b"]. Nothing refers to `text` afterwards.
TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& origin);

// read_file(file) + parse_tokenizer_json, but with the text in huge-page memory and a .zst decompressed in one shot
// (no streaming window): for llama3's tokenizer.json.zst this turns ~4900 page faults into ~10, which on the shared
// VM is ~100 ms of the load. Like read_file: "x.zst" is decompressed, and a missing "x" falls back to "x.zst".
TokenizerJson read_tokenizer_json(const std::filesystem::path& file, const std::string& origin);

}  // namespace mlx::tok
