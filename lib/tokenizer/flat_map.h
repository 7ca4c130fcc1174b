// Open-addressing hash tables for the two hot lookups of BPE: token text -> id and (left id, right id) -> merge.
// Built once at load time (~130k tokens and ~280k merges for llama3) and read-only afterwards. What makes the build
// fast: tables are pre-sized (no rehash), their memory is zero on first touch (all-zero is the empty slot, so no fill
// pass) and comes in transparent huge pages (a few page faults instead of thousands), a string slot holds the first
// 16 bytes of its key so most probes never touch the key text, and callers can hash ahead and prefetch slots so that
// the cache misses of consecutive lookups overlap.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tokenizer/huge_pages.h"

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

// The first n <= 8 bytes at p as a little-endian word, zero padded, without a variable-length memcpy call: two
// overlapping 4-byte loads for n >= 4 (the overlapping bytes are equal in both), three single bytes for n < 4.
inline uint64_t load_up_to_8(const char* p, size_t n) {
  if (n >= 8) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
  }
  if (n >= 4) {
    uint32_t lo, hi;
    __builtin_memcpy(&lo, p, 4);
    __builtin_memcpy(&hi, p + n - 4, 4);
    return lo | static_cast<uint64_t>(hi) << (8 * (n - 4));
  }
  if (n == 0) return 0;
  auto b = [&](size_t i) { return static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i); };
  return b(0) | b(n / 2) | b(n - 1);
}

inline uint64_t hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb64fe1a85ec3ull;
  x ^= x >> 33;
  return x;
}

// string_view -> int32 id. Keys must outlive the map (they point into the tokenizer's token arena). A slot holds the
// key's first 16 bytes, so a lookup of a key up to 16 bytes long (nearly every BPE token) reads one slot and nothing
// else; longer keys compare their tail through the stored pointer.
class StringIdMap {
 public:
  // Room for n keys at load factor <= 1/2 (more puts still work: the table doubles).
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_ = ZeroedArray<Slot>(cap);
    mask_ = cap - 1;
    size_ = 0;
  }
  // Mixes the two head words (which a lookup builds anyway), the size and any bytes past 16, then avalanches so that
  // the low bits that pick the slot depend on every byte. ~25 % faster table builds than hash_bytes' byte loop.
  static uint64_t hash(std::string_view key) {
    const Head head(key);
    uint64_t x = (head.w0 * 0x9E3779B97F4A7C15ull) ^ ((head.w1 + key.size()) * 0xC2B2AE3D27D4EB4Full);
    for (size_t i = 16; i < key.size(); i += 8)
      x = (x ^ load_up_to_8(key.data() + i, std::min<size_t>(8, key.size() - i))) * 0x100000001B3ull + (x >> 29);
    return hash_u64(x);
  }
  // Starts loading the first slot that a lookup of a key with hash `h` will read.
  void prefetch(uint64_t h) const {
    if (mask_) __builtin_prefetch(&slots_[h & mask_]);
  }
  // Inserts or overwrites (a repeated key: the last id wins).
  void put(std::string_view key, int32_t id) { put(key, hash(key), id); }
  void put(std::string_view key, uint64_t h, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const Head head(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.size1 == 0) {
        s = Slot{head.w0, head.w1, key.data(), static_cast<uint32_t>(key.size() + 1), id};
        ++size_;
        return;
      }
      if (same(s, key, head)) {
        s.id = id;
        return;
      }
    }
  }
  const int32_t* get(std::string_view key) const { return get(key, hash(key)); }
  const int32_t* get(std::string_view key, uint64_t h) const {
    if (!mask_) return nullptr;
    const Head head(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.size1 == 0) return nullptr;
      if (same(s, key, head)) return &s.id;
    }
  }
  size_t size() const { return size_; }

 private:
  struct alignas(32) Slot {
    uint64_t w0, w1;   // the key's first 16 bytes, zero padded
    const char* key;   // the whole key
    uint32_t size1;    // key size + 1; 0 marks an empty slot
    int32_t id;
  };
  struct Head {
    uint64_t w0 = 0, w1 = 0;
    explicit Head(std::string_view key)
        : w0(load_up_to_8(key.data(), std::min<size_t>(key.size(), 8))),
          w1(key.size() > 8 ? load_up_to_8(key.data() + 8, std::min<size_t>(key.size() - 8, 8)) : 0) {}
  };
  static bool same(const Slot& s, std::string_view key, const Head& head) {
    return s.w0 == head.w0 && s.w1 == head.w1 && s.size1 == key.size() + 1 &&
           (key.size() <= 16 || std::memcmp(s.key + 16, key.data() + 16, key.size() - 16) == 0);
  }
  void grow() {
    ZeroedArray<Slot> old = std::move(slots_);
    reserve(old.size() < 8 ? 8 : old.size());
    for (size_t i = 0; i < old.size(); ++i)
      if (old[i].size1) put(std::string_view(old[i].key, old[i].size1 - 1), old[i].id);
  }
  ZeroedArray<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// (left id, right id) -> (rank, merged id). Ids must be in [0, 2^31 - 1).
class PairMap {
 public:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap * 3 < n * 5) cap <<= 1;  // load factor <= 0.6
    slots_ = ZeroedArray<Slot>(cap);
    mask_ = cap - 1;
  }
  static uint64_t hash(int32_t a, int32_t b) { return hash_u64(pack(a, b)); }
  void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[h & mask_]); }
  // Inserts or overwrites (a later duplicate merge wins, as in Hugging Face's HashMap collect). The table must have
  // been reserved for all entries.
  void put(int32_t a, int32_t b, Merge m) { put(a, b, hash(a, b), m); }
  void put(int32_t a, int32_t b, uint64_t h, Merge m) {
    uint64_t key = pack(a, b);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == 0 || s.key == key) {
        s.key = key;
        s.merge = m;
        return;
      }
    }
  }
  const Merge* get(int32_t a, int32_t b) const {
    if (!mask_) return nullptr;
    uint64_t key = pack(a, b);
    for (size_t i = hash_u64(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == 0) return nullptr;
    }
  }

 private:
  // Both ids shifted by one so that no pair packs to 0, the empty key.
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a) + 1) << 32) | (static_cast<uint32_t>(b) + 1);
  }
  struct Slot {
    uint64_t key;  // 0: empty
    Merge merge;
  };
  ZeroedArray<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace mlx::tok
