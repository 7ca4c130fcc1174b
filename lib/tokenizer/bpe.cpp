#include "tokenizer/bpe.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <queue>

#include "core/error.h"
#include "core/thread_pool.h"
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

BpeModel::BpeModel(const nlohmann::ordered_json& model, VocabList&& vocab, MergeList&& merges,
                   const std::string& origin)
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

  build_vocab(std::move(vocab));
  for (int b = 0; b < 256; ++b) {
    auto id = vocab_.get(fmt::format("<0x{:02X}>", b));
    byte_ids_[b] = id ? *id : -1;
  }
  build_merges(std::move(merges));
}

// How many entries ahead the table builds hash and prefetch: the tables (4-8 MB) miss L2 on nearly every access,
// and overlapping ~16 misses hides most of their latency.
static constexpr size_t kAhead = 16;

void BpeModel::build_vocab(VocabList&& vocab) {
  int64_t max_id = -1;
  for (const VocabList::Entry& e : vocab.entries) {
    if (e.id < 0 || e.id > INT32_MAX / 2)  // the JSON reader checks this too; a caller-built list might not
      fail("{}: model.vocab id {} of \"{}\" is out of range", origin_, e.id, vocab.token(e));
    max_id = std::max<int64_t>(max_id, e.id);
  }
  arena_ = std::move(vocab.bytes);  // the views below point into it; it never changes again
  const std::string_view arena(arena_.data(), arena_.size());
  tokens_.assign(static_cast<size_t>(max_id + 1), std::string_view());
  has_token_.assign(static_cast<size_t>(max_id + 1), false);
  const auto& entries = vocab.entries;
  const size_t n = entries.size();
  vocab_.reserve(n);
  auto token = [&](size_t i) { return arena.substr(entries[i].offset, entries[i].size); };
  uint64_t ahead[kAhead];
  for (size_t i = 0; i < std::min(n, kAhead); ++i) vocab_.prefetch(ahead[i] = StringIdMap::hash(token(i)));
  for (size_t i = 0; i < n; ++i) {
    uint64_t h = ahead[i % kAhead];
    if (i + kAhead < n) vocab_.prefetch(ahead[i % kAhead] = StringIdMap::hash(token(i + kAhead)));
    std::string_view sv = token(i);
    vocab_.put(sv, h, entries[i].id);
    tokens_[entries[i].id] = sv;
    has_token_[entries[i].id] = true;
  }
  vocab.entries = {};
}

// Merges: ids of both sides and of the merged token, ranked by position. Two passes, each with hashes computed and
// slots prefetched kAhead entries early: resolve the three strings of every merge to ids (read-only lookups, so
// split over the thread pool), then fill the pair table.
void BpeModel::build_merges(MergeList&& merges) {
  const auto& entries = merges.entries;
  const size_t n = entries.size();
  struct Resolved {
    int32_t left, right, merged;
  };
  HugeVector<Resolved> resolved(n);
  // Resolves [begin, end); returns the index of the first merge that names a missing token, or SIZE_MAX.
  auto resolve = [&](size_t begin, size_t end) -> size_t {
    struct Hashes {
      uint64_t left, right, joined;
    };
    Hashes ahead[kAhead];
    std::string joined_text[kAhead];  // only used when a continuing-subword prefix is dropped from the right side
    auto joined = [&](size_t i) -> std::string_view {
      const MergeList::Entry& e = entries[i];
      std::string_view b = merges.right(e);
      // An empty prefix (qwen3 writes "") removes nothing: the two sides are already adjacent.
      if (!has_prefix_ || prefix_.empty() || !b.starts_with(prefix_)) return merges.both(e);
      std::string& t = joined_text[i % kAhead];
      t.assign(merges.left(e));
      t.append(b.substr(prefix_.size()));
      return t;
    };
    auto hash_ahead = [&](size_t i) {
      const MergeList::Entry& e = entries[i];
      Hashes& h = ahead[i % kAhead];
      h.left = StringIdMap::hash(merges.left(e));
      h.right = StringIdMap::hash(merges.right(e));
      h.joined = StringIdMap::hash(joined(i));
      vocab_.prefetch(h.left);
      vocab_.prefetch(h.right);
      vocab_.prefetch(h.joined);
    };
    for (size_t i = begin; i < std::min(end, begin + kAhead); ++i) hash_ahead(i);
    for (size_t i = begin; i < end; ++i) {
      const Hashes h = ahead[i % kAhead];
      const MergeList::Entry& e = entries[i];
      const int32_t* ia = vocab_.get(merges.left(e), h.left);
      const int32_t* ib = vocab_.get(merges.right(e), h.right);
      const int32_t* inew = vocab_.get(joined(i), h.joined);
      if (!ia || !ib || !inew) return i;
      resolved[i] = Resolved{*ia, *ib, *inew};
      if (i + kAhead < end) hash_ahead(i + kAhead);
    }
    return SIZE_MAX;
  };
  std::atomic<size_t> first_bad{SIZE_MAX};
  auto run = [&](int64_t begin, int64_t end) {
    size_t bad = resolve(static_cast<size_t>(begin), static_cast<size_t>(end));
    for (size_t cur = first_bad.load(); bad < cur && !first_bad.compare_exchange_weak(cur, bad);) {
    }
  };
  // Threads pay off only for big tables (thread wake-up costs ~0.1 ms); small tokenizers resolve inline.
  if (n >= (size_t(1) << 16)) ThreadPool::global().parallel_for(static_cast<int64_t>(n), run);
  else run(0, static_cast<int64_t>(n));
  if (size_t i = first_bad.load(); i != SIZE_MAX) {
    // The lowest failing rank, so the message does not depend on the split.
    const MergeList::Entry& e = entries[i];
    std::string_view a = merges.left(e), b = merges.right(e);
    if (!vocab_.get(a) || !vocab_.get(b))
      fail("{}: merge \"{} {}\" uses token \"{}\" that is not in the vocabulary", origin_, a, b,
           !vocab_.get(a) ? a : b);
    std::string ab(a);
    ab += has_prefix_ && b.starts_with(prefix_) ? b.substr(prefix_.size()) : b;
    fail("{}: merge \"{} {}\" produces \"{}\" that is not in the vocabulary", origin_, a, b, ab);
  }
  merges = {};

  merges_.reserve(n);
  uint64_t pair_ahead[kAhead];
  for (size_t i = 0; i < std::min(n, kAhead); ++i)
    merges_.prefetch(pair_ahead[i] = PairMap::hash(resolved[i].left, resolved[i].right));
  for (size_t i = 0; i < n; ++i) {
    uint64_t h = pair_ahead[i % kAhead];
    if (i + kAhead < n)
      merges_.prefetch(pair_ahead[i % kAhead] = PairMap::hash(resolved[i + kAhead].left, resolved[i + kAhead].right));
    merges_.put(resolved[i].left, resolved[i].right, h, PairMap::Merge{static_cast<int32_t>(i), resolved[i].merged});
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
