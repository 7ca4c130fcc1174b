#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>

#include "common/fixtures.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/thread_pool.h"

using namespace mlx;
using mlx::test::TempDir;

TEST(FileIO, ReadsZstdTransparently) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + " \xE2\x96\x81 text\n";
  write_file_atomic(dir / "a.txt", text);
  // Compressed by the real zstd tool: an independent encoder.
  std::string cmd = "zstd -q -19 '" + (dir / "a.txt").string() + "' -o '" + (dir / "b.txt.zst").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(read_file(dir / "b.txt.zst"), text);
  EXPECT_EQ(read_file(dir / "b.txt"), text);  // missing plain file falls back to .zst
  EXPECT_TRUE(exists_maybe_zst(dir / "b.txt"));
}

TEST(FileIO, ErrorsNameTheFile) {
  TempDir dir;
  try {
    read_file(dir / "missing.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.json"), std::string::npos);
  }
  write_file_atomic(dir / "bad.json", "{\"a\": ");
  try {
    read_json(dir / "bad.json");
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.json"), std::string::npos);
    EXPECT_NE(msg.find("not valid JSON"), std::string::npos);
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
  write_file_atomic(dir / "trunc.zst", "\x28\xb5\x2f\xfd garbage");
  EXPECT_THROW(read_file(dir / "trunc.zst"), Error);
}

TEST(FileIO, JsonKeepsKeyOrder) {
  TempDir dir;
  write_file_atomic(dir / "o.json", R"({"z": 1, "a": 2, "m": 3})");
  auto j = read_json(dir / "o.json");
  std::string keys;
  for (auto& [k, v] : j.items()) keys += k;
  EXPECT_EQ(keys, "zam");
}

TEST(FileIO, AtomicWriteLeavesNoTempFiles) {
  TempDir dir;
  write_file_atomic(dir / "x", "one");
  write_file_atomic(dir / "x", "two");
  EXPECT_EQ(read_file(dir / "x"), "two");
  int count = 0;
  for (auto& e : fs::directory_iterator(dir.path())) count += e.is_regular_file();
  EXPECT_EQ(count, 1);
}

TEST(FileIO, MappedFile) {
  TempDir dir;
  write_file_atomic(dir / "m", "hello");
  auto m = MappedFile::open(dir / "m");
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), 5), "hello");
  MappedFile moved = std::move(m);
  EXPECT_EQ(moved.size(), 5u);
  EXPECT_THROW(MappedFile::open(dir / "nope"), Error);
}

TEST(ThreadPool, CoversRangeExactlyOnce) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 3, 7, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, PropagatesExceptionsAndNests) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(10, [](int64_t b, int64_t) {
    if (b > 0) throw std::runtime_error("boom");
  }), std::runtime_error);
  std::atomic<int> total{0};
  pool.parallel_for(4, [&](int64_t b, int64_t e) {
    ThreadPool::global().parallel_for(e - b, [&](int64_t bb, int64_t ee) { total += int(ee - bb); });
  });
  EXPECT_EQ(total.load(), 4);
}

TEST(ThreadPool, ResizingAfterWorkRunsOnlyNewJobs) {
  ThreadPool pool(2);
  std::atomic<int> calls{0};
  pool.parallel_for(8, [&](int64_t, int64_t) { calls++; });
  EXPECT_EQ(calls.load(), 2);
  pool.set_num_threads(3);  // fresh workers must not replay the finished job above
  std::atomic<int64_t> covered{0};
  pool.parallel_for(9, [&](int64_t b, int64_t e) { covered += e - b; });
  EXPECT_EQ(covered.load(), 9);
  EXPECT_EQ(calls.load(), 2);
}
