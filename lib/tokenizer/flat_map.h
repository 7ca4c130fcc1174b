// Open-addressing hash tables for the two hot lookups of BPE: token text -> id and (left id, right id) -> merge.
// Built once at load time and read-only afterwards; much faster to build and probe than std::unordered_map.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace mlx::tok {

inline uint64_t hash_bytes(std::string_view s) {
  // FNV-1a over 8-byte words then a final mix: tokens are short, this is cheap and well spread.
  uint64_t h = 0xcbf29ce484222325ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < s.size(); ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 0x100000001b3ull;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

inline uint64_t hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb64fe1a85ec3ull;
  x ^= x >> 33;
  return x;
}

// string_view -> int32 id. Keys must outlive the map (they point into the tokenizer's token table).
class StringIdMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }
  // Inserts or overwrites.
  void put(std::string_view key, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    insert(key, id);
  }
  const int32_t* get(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash_bytes(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return nullptr;
      if (s.len == key.size() && (key.empty() || __builtin_memcmp(s.ptr, key.data(), key.size()) == 0)) return &s.id;
    }
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    const char* ptr = nullptr;
    uint32_t len = 0;
    int32_t id = -1;
  };
  void insert(std::string_view key, int32_t id) {
    for (size_t i = hash_bytes(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = Slot{key.data(), static_cast<uint32_t>(key.size()), id};
        ++size_;
        return;
      }
      if (s.len == key.size() && (key.empty() || __builtin_memcmp(s.ptr, key.data(), key.size()) == 0)) {
        s.id = id;
        return;
      }
    }
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    reserve(old.empty() ? 8 : old.size());
    size_ = 0;
    for (const Slot& s : old)
      if (s.id >= 0) insert(std::string_view(s.ptr, s.len), s.id);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// (left id, right id) -> (rank, merged id).
class PairMap {
 public:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap * 3 < n * 5) cap <<= 1;  // load factor <= 0.6
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }
  // Inserts or overwrites (a later duplicate merge wins, as in Hugging Face's HashMap collect).
  void put(int32_t a, int32_t b, Merge m) {
    uint64_t key = pack(a, b);
    for (size_t i = hash_u64(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == kEmpty || s.key == key) {
        s.key = key;
        s.merge = m;
        return;
      }
    }
  }
  const Merge* get(int32_t a, int32_t b) const {
    uint64_t key = pack(a, b);
    for (size_t i = hash_u64(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{0, 0};
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace mlx::tok
