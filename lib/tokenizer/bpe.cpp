#include "tokenizer/bpe.h"

#include <fmt/format.h>

#include <queue>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace mlx::tok {

namespace {

std::optional<std::string> optional_string(const nlohmann::ordered_json& j, const char* key,
                                           const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) fail("{}: model.{} must be a string or null", origin, key);
  return it->get<std::string>();
}

bool optional_bool(const nlohmann::ordered_json& j, const char* key, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean()) fail("{}: model.{} must be a boolean", origin, key);
  return it->get<bool>();
}

}  // namespace

BpeModel::BpeModel(const nlohmann::ordered_json& model, std::vector<std::pair<std::string, int64_t>>&& vocab,
                   std::vector<std::pair<std::string, std::string>>&& merges, const std::string& origin)
    : origin_(origin) {
  if (auto it = model.find("dropout"); it != model.end() && !it->is_null() &&
                                       !(it->is_number() && it->get<double>() == 0.0))
    fail("{}: BPE dropout is not supported (only null)", origin);
  unk_token_ = optional_string(model, "unk_token", origin);
  if (auto p = optional_string(model, "continuing_subword_prefix", origin)) has_prefix_ = true, prefix_ = *p;
  if (auto s = optional_string(model, "end_of_word_suffix", origin)) has_suffix_ = true, suffix_ = *s;
  fuse_unk_ = optional_bool(model, "fuse_unk", origin);
  byte_fallback_ = optional_bool(model, "byte_fallback", origin);
  ignore_merges_ = optional_bool(model, "ignore_merges", origin);

  // Vocabulary: copy every string once into one arena, then index it.
  size_t total = 0;
  int64_t max_id = -1;
  for (const auto& [tok, id] : vocab) {
    total += tok.size();
    if (id < 0 || id > INT32_MAX / 2) fail("{}: model.vocab id {} of \"{}\" is out of range", origin, id, tok);
    max_id = std::max(max_id, id);
  }
  arena_.reserve(total);
  std::vector<size_t> offsets;
  offsets.reserve(vocab.size());
  for (const auto& [tok, id] : vocab) {
    offsets.push_back(arena_.size());
    arena_ += tok;
  }
  tokens_.assign(static_cast<size_t>(max_id + 1), std::string_view());
  has_token_.assign(static_cast<size_t>(max_id + 1), false);
  vocab_.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) {
    std::string_view sv(arena_.data() + offsets[i], vocab[i].first.size());
    auto id = static_cast<int32_t>(vocab[i].second);
    vocab_.put(sv, id);
    tokens_[id] = sv;
    has_token_[id] = true;
  }
  vocab.clear();
  vocab.shrink_to_fit();

  for (int b = 0; b < 256; ++b) {
    auto id = vocab_.get(fmt::format("<0x{:02X}>", b));
    byte_ids_[b] = id ? *id : -1;
  }

  // Merges: ids of both sides and of the merged token, ranked by position.
  merges_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const int32_t* ia = vocab_.get(a);
    const int32_t* ib = vocab_.get(b);
    if (!ia || !ib)
      fail("{}: merge \"{} {}\" uses token \"{}\" that is not in the vocabulary", origin, a, b, !ia ? a : b);
    joined.assign(a);
    if (has_prefix_ && b.size() >= prefix_.size() && b.compare(0, prefix_.size(), prefix_) == 0)
      joined.append(b, prefix_.size());
    else
      joined.append(b);
    const int32_t* inew = vocab_.get(joined);
    if (!inew) fail("{}: merge \"{} {}\" produces \"{}\" that is not in the vocabulary", origin, a, b, joined);
    merges_.put(*ia, *ib, PairMap::Merge{static_cast<int32_t>(rank), *inew});
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  if (const int32_t* id = vocab_.get(token)) return *id;
  return std::nullopt;
}

const std::string_view* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || id >= id_bound() || !has_token_[id]) return nullptr;
  return &tokens_[id];
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const int32_t* id = vocab_.get(word)) {
      out.push_back(*id);
      return;
    }
  }
  if (word.size() > kMaxCachedWord) {
    merge_word(word, out);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t start = out.size();
  merge_word(word, out);
  std::vector<int32_t> ids(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(std::string(word), std::move(ids));
}

// Hugging Face's Word::merge_all: symbols in a linked list, a min-heap of candidate merges ordered by (rank,
// position); stale heap entries are skipped.
void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](int32_t id) {
    int32_t idx = static_cast<int32_t>(symbols.size());
    symbols.push_back(Symbol{id, idx - 1, idx + 1, true});
  };

  int32_t unk_id = -1;  // pending unknown token, added once known whether it fuses
  auto require_unk = [&]() -> int32_t {
    const int32_t* id = vocab_.get(*unk_token_);
    if (!id) fail("{}: unk_token \"{}\" is not in the vocabulary", origin_, *unk_token_);
    return *id;
  };
  std::string piece;
  size_t i = 0;
  while (i < word.size()) {
    size_t n = std::min(utf8_len(static_cast<unsigned char>(word[i])), word.size() - i);
    size_t end = i + n;
    bool is_last = end == word.size();
    std::string_view ch = word.substr(i, n);
    std::string_view lookup = ch;
    if ((has_prefix_ && i > 0) || (has_suffix_ && is_last)) {
      piece.clear();
      if (has_prefix_ && i > 0) piece += prefix_;
      piece += ch;
      if (has_suffix_ && is_last) piece += suffix_;
      lookup = piece;
    }
    if (const int32_t* id = vocab_.get(lookup)) {
      if (unk_id >= 0) {
        add(unk_id);
        unk_id = -1;
      }
      add(*id);
    } else {
      bool done = false;
      if (byte_fallback_) {
        bool all = true;
        for (char c : lookup) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
        if (all) {
          for (char c : lookup) add(byte_ids_[static_cast<unsigned char>(c)]);
          done = true;
        }
      }
      if (!done && unk_token_) {
        if (unk_id < 0 || !fuse_unk_) {  // fused unknowns just grow the pending one
          if (unk_id >= 0) add(unk_id);
          unk_id = require_unk();
        }
      }
    }
    i = end;
  }
  if (unk_id >= 0) add(unk_id);
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Cand {
    int32_t rank, pos, new_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> queue;
  for (size_t k = 0; k + 1 < symbols.size(); ++k)
    if (const PairMap::Merge* m = merges_.get(symbols[k].id, symbols[k + 1].id))
      queue.push(Cand{m->rank, static_cast<int32_t>(k), m->id});
  while (!queue.empty()) {
    Cand top = queue.top();
    queue.pop();
    Symbol& cur = symbols[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    Symbol& right = symbols[cur.next];
    const PairMap::Merge* m = merges_.get(cur.id, right.id);
    if (!m || m->id != top.new_id) continue;
    cur.id = top.new_id;
    right.alive = false;
    cur.next = right.next;
    if (cur.next >= 0) symbols[cur.next].prev = top.pos;
    if (cur.prev >= 0)
      if (const PairMap::Merge* mp = merges_.get(symbols[cur.prev].id, cur.id))
        queue.push(Cand{mp->rank, cur.prev, mp->id});
    if (cur.next >= 0)
      if (const PairMap::Merge* mn = merges_.get(cur.id, symbols[cur.next].id))
        queue.push(Cand{mn->rank, top.pos, mn->id});
  }
  for (const Symbol& s : symbols)
    if (s.alive) out.push_back(s.id);
}

}  // namespace mlx::tok
