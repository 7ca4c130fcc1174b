// The BPE model of tokenizer.json: vocabulary, ranked merges, byte fallback, unknown-token handling, and a word
// cache so that repeated pre-tokenized words cost one hash lookup.
#pragma once
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/flat_map.h"
#include "tokenizer/json_loader.h"

namespace mlx::tok {

class BpeModel {
 public:
  // `model` is tokenizer.json's "model" object (without vocab/merges, which come pre-extracted). The vocabulary's
  // bytes become the model's token arena; both lists are consumed.
  BpeModel(const nlohmann::ordered_json& model, VocabList&& vocab, MergeList&& merges, const std::string& origin);
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of one pre-tokenized word.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // nullptr if no token has this id.
  const std::string_view* id_to_token(int32_t id) const;
  int32_t id_bound() const { return static_cast<int32_t>(tokens_.size()); }  // max id + 1

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  void build_vocab(VocabList&& vocab);
  void build_merges(MergeList&& merges);

  std::string origin_;
  HugeString arena_;                         // all vocabulary strings, back to back (model.vocab's bytes)
  HugeVector<std::string_view> tokens_;      // id -> token (into arena_)
  std::vector<bool> has_token_;
  StringIdMap vocab_;
  PairMap merges_;
  std::optional<std::string> unk_token_;
  std::string prefix_, suffix_;
  bool has_prefix_ = false, has_suffix_ = false;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];                    // id of "<0xXX>" or -1

  static constexpr size_t kMaxCachedWord = 256;
  static constexpr size_t kMaxCacheEntries = 1 << 18;
  mutable std::mutex cache_mutex_;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return hash_bytes(s); }
  };
  mutable std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> cache_;
};

}  // namespace mlx::tok
