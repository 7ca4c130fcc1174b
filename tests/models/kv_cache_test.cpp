// KV cache behaviour: trimming for prefix reuse, rotating --max-kv-size (keep 4), chunking independence.
#include <gtest/gtest.h>

#include "core/error.h"
#include "golden.h"

namespace mlx::test {
namespace {

std::vector<float> run(Model& m, KVCache& cache, const std::vector<int32_t>& ids, size_t chunk) {
  std::vector<float> out(size_t(m.info().vocab_size));
  for (size_t i = 0; i < ids.size(); i += chunk) {
    std::vector<int32_t> part(ids.begin() + long(i), ids.begin() + long(std::min(ids.size(), i + chunk)));
    m.forward(part, cache, out.data());
  }
  return out;
}

TEST(KVCache, RotatingKeepsFirstFourAndRecent) {
  const int64_t windows[1] = {0};
  KVCache c(windows, 1, 1, 8);
  for (int i = 0; i < 20; ++i) {
    float k = float(i), v = float(100 + i);
    c.append(0, &k, &v, 1);
    c.commit(1);
  }
  ops::KVSpan s[2];
  ASSERT_EQ(c.spans(0, s), 2);
  EXPECT_EQ(s[0].count, 4);
  EXPECT_EQ(s[0].first_pos, 0);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(s[0].k[i], float(i));
  // The next query (position 20) with max 8 sees 4 pinned + 3 cached + itself.
  EXPECT_EQ(s[1].count, 3);
  EXPECT_EQ(s[1].first_pos, 17);
  EXPECT_EQ(s[1].k[0], 17.0f);
  EXPECT_EQ(s[1].v[2], 119.0f);
  EXPECT_FALSE(c.can_trim(1));
  EXPECT_THROW(c.trim(1), Error);
}

TEST(KVCache, SlidingWindowIsBounded) {
  const int64_t windows[2] = {5, 0};
  KVCache c(windows, 1, 1);
  std::vector<float> k(300), v(300);
  for (int i = 0; i < 300; ++i) k[size_t(i)] = v[size_t(i)] = float(i);
  c.append(0, k.data(), v.data(), 300);
  c.append(1, k.data(), v.data(), 300);
  c.commit(300);
  ops::KVSpan s[2];
  ASSERT_EQ(c.spans(0, s), 1);
  EXPECT_EQ(s[0].count, 4);
  EXPECT_EQ(s[0].first_pos, 296);
  ASSERT_EQ(c.spans(1, s), 1);
  EXPECT_EQ(s[0].count, 300);
}

TEST(KVCache, TrimThenRefeedGivesSameLogits) {
  for (const fs::path& dir : model_fixtures()) {
    SCOPED_TRACE(dir.string());
    auto m = Model::load(dir);
    Json g = read_json(dir / "golden.json");
    std::vector<int32_t> ids = ids_of(g["prompt_medium"]["input_ids"]);
    std::vector<int32_t> head(ids.begin(), ids.begin() + 6);  // within every fixture's sliding window
    auto cache = m->make_cache();
    run(*m, *cache, head, head.size());
    ASSERT_TRUE(cache->can_trim(3));
    EXPECT_EQ(cache->trim(3), 3);
    EXPECT_EQ(cache->offset(), 3);
    std::vector<int32_t> rest(ids.begin() + 3, ids.end());
    std::vector<float> got = run(*m, *cache, rest, 5);
    std::vector<float> ref = floats_of(g["prompt_medium"]["last_logits"]);
    EXPECT_LE(max_abs_diff(got.data(), ref.data(), ref.size()), 1e-4f);
  }
}

TEST(KVCache, RotatingIsIndependentOfChunking) {
  for (const fs::path& dir : model_fixtures()) {
    SCOPED_TRACE(dir.string());
    auto m = Model::load(dir);
    Json g = read_json(dir / "golden.json");
    std::vector<int32_t> ids = ids_of(g["prompt_long"]["input_ids"]);
    auto c1 = m->make_cache(32), c2 = m->make_cache(32), c3 = m->make_cache(32);
    std::vector<float> a = run(*m, *c1, ids, ids.size()), b = run(*m, *c2, ids, 7), c = run(*m, *c3, ids, 1);
    EXPECT_LE(max_abs_diff(a.data(), b.data(), a.size()), 1e-4f);
    EXPECT_LE(max_abs_diff(a.data(), c.data(), a.size()), 1e-4f);
    // A cache larger than the prompt never rotates: the golden logits come back.
    auto big = m->make_cache(1000);
    std::vector<float> d = run(*m, *big, ids, 9);
    std::vector<float> ref = floats_of(g["prompt_long"]["last_logits"]);
    EXPECT_LE(max_abs_diff(d.data(), ref.data(), ref.size()), 1e-4f);
  }
}

}  // namespace
}  // namespace mlx::test
