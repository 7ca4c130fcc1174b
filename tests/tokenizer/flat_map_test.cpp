// The BPE hash tables: every key of every length is found, and a key that differs in any single byte, or only in
// length, is not (the string map compares keys of up to 16 bytes through its in-slot head words alone).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tokenizer/flat_map.h"

namespace {

using mlx::tok::PairMap;
using mlx::tok::StringIdMap;

TEST(FlatMap, StringIdMapExactKeys) {
  std::mt19937 rng(7);
  std::vector<std::string> keys;
  for (size_t len = 0; len <= 40; ++len)
    for (int k = 0; k < 50; ++k) {
      std::string s(len, '\0');
      for (char& c : s) c = static_cast<char>(rng() % 4);  // few distinct bytes: many near-collisions
      keys.push_back(std::move(s));
    }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  StringIdMap map;
  map.reserve(keys.size() / 4);  // forces growth too
  for (size_t i = 0; i < keys.size(); ++i) map.put(keys[i], static_cast<int32_t>(i));
  EXPECT_EQ(map.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const int32_t* id = map.get(keys[i]);
    ASSERT_NE(id, nullptr) << i;
    EXPECT_EQ(*id, static_cast<int32_t>(i));
    EXPECT_EQ(map.get(keys[i], StringIdMap::hash(keys[i])), id);
  }
  // Near misses: one byte changed to a value no key uses, one byte appended, one byte dropped.
  for (const std::string& key : keys) {
    for (size_t pos = 0; pos < key.size(); ++pos) {
      std::string near = key;
      near[pos] = '\x7f';
      EXPECT_EQ(map.get(near), nullptr);
    }
    EXPECT_EQ(map.get(key + '\x7f'), nullptr);
    if (!key.empty() && !std::binary_search(keys.begin(), keys.end(), key.substr(1))) {
      EXPECT_EQ(map.get(key.substr(1)), nullptr);
    }
  }
  // Overwrite: the last id wins.
  map.put(keys[3], 12345);
  EXPECT_EQ(*map.get(keys[3]), 12345);
}

TEST(FlatMap, PairMap) {
  PairMap map;
  map.reserve(1000);
  for (int32_t a = 0; a < 30; ++a)
    for (int32_t b = 0; b < 30; ++b) map.put(a, b, PairMap::Merge{a * 30 + b, a + b});
  map.put(0, 0, PairMap::Merge{-1, 7});  // a later duplicate wins
  for (int32_t a = 0; a < 30; ++a)
    for (int32_t b = 0; b < 30; ++b) {
      const PairMap::Merge* m = map.get(a, b);
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(m->rank, a == 0 && b == 0 ? -1 : a * 30 + b);
    }
  EXPECT_EQ(map.get(30, 0), nullptr);
  EXPECT_EQ(map.get(0, 30), nullptr);
  PairMap empty;
  EXPECT_EQ(empty.get(1, 2), nullptr);
}

}  // namespace
