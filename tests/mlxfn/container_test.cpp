// .mlxfn container: hand-built files following the byte layout of mlx/export.cpp (independent of our writer).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "formats/mlxfn.h"

namespace mx = mlx::formats::mlxfn;

namespace {

// Byte builder written from the format description, not from our Writer.
struct Bytes {
  std::string s;
  template <class T>
  Bytes& put(T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& i32(int32_t v) { return put(v); }
  Bytes& b(bool v) { return put<uint8_t>(v); }
  Bytes& str(const std::string& x) {
    u64(x.size());
    s += x;
    return *this;
  }
  Bytes& shape(std::initializer_list<int32_t> sh) {
    u64(sh.size());
    for (int32_t d : sh) i32(d);
    return *this;
  }
  Bytes& dtype(int32_t val, uint8_t size) { return i32(val).put<uint8_t>(size); }
  Bytes& stream(int dev) { return i32(0).i32(dev).i32(0); }
};

// header + one trace: input 1 (f32 [2,3]), constant 2 (f32 [3]), primitive `name` with `state` bytes on inputs.
std::string one_primitive_file(const std::string& version, const std::string& name, const std::string& state,
                               int32_t out_dtype = 10) {
  Bytes f;
  f.str(version).i32(1).b(true);
  if (version >= "0.32.1") f.str("{\"k\":1}");
  f.u64(0);                                       // kwarg keys
  f.u64(1).u64(1);                                // input ids
  f.u64(1).shape({2, 3}).dtype(10, 4);            // input descs
  f.u64(1).u64(3);                                // output ids
  f.u64(3);                                       // tape size
  f.u64(1).b(false).b(false);                     // input
  f.u64(2).b(false).b(true).shape({3}).dtype(10, 4);
  for (float v : {1.f, 2.f, 3.f}) f.put(v);
  f.u64(3).b(true).u64(2).u64(1).u64(2).stream(1).str(name);
  f.s += state;
  f.u64(0).shape({2, 3}).dtype(out_dtype, out_dtype == 10 ? 4 : 2);
  return f.s;
}

std::string st(std::initializer_list<std::string> parts) {
  std::string s;
  for (auto& p : parts) s += p;
  return s;
}
template <class T>
std::string raw(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}
std::string vec(std::initializer_list<int32_t> v) {
  std::string s = raw<uint64_t>(v.size());
  for (int32_t x : v) s += raw(x);
  return s;
}

mx::Function parse(const std::string& s) {
  return mx::parse(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "test.mlxfn");
}

}  // namespace

TEST(Mlxfn, ReadsHandBuiltFileAndWriterReproducesIt) {
  std::string file = one_primitive_file("0.32.2", "Add", "");
  mx::Function f = parse(file);
  EXPECT_EQ(f.version, "0.32.2");
  EXPECT_TRUE(f.shapeless);
  EXPECT_EQ(f.metadata, "{\"k\":1}");
  ASSERT_EQ(f.traces.size(), 1u);
  const auto& t = f.traces[0];
  ASSERT_EQ(t.tape.size(), 3u);
  EXPECT_EQ(t.tape[1].kind, mx::TapeEntry::kConstant);
  EXPECT_EQ(t.tape[1].nbytes, 12u);
  float c2;
  std::memcpy(&c2, t.tape[1].data + 4, 4);
  EXPECT_EQ(c2, 2.f);
  EXPECT_EQ(t.tape[2].name, "Add");
  EXPECT_EQ(t.tape[2].stream.device_type, 1);
  EXPECT_EQ(mx::serialize(f), file);
}

TEST(Mlxfn, OldVersionHasNoMetadataField) {
  std::string file = one_primitive_file("0.29.1", "Multiply", "");
  mx::Function f = parse(file);
  EXPECT_EQ(f.metadata, "");
  EXPECT_EQ(mx::serialize(f), file);
}

// A tiny graph per primitive with its state tuple; each re-serializes to the same bytes.
TEST(Mlxfn, EveryPrimitiveStateRoundTrips) {
  const std::pair<const char*, std::string> cases[] = {
      {"Subtract", ""}, {"Divide", ""}, {"Maximum", ""}, {"Power", ""}, {"Matmul", ""},
      {"Equal", raw<uint8_t>(1)}, {"Sqrt", raw<uint8_t>(1)}, {"Log", raw<int32_t>(2)},
      {"Softmax", raw<uint8_t>(0)}, {"Reduce", raw<int32_t>(2) + vec({-1})}, {"Concatenate", raw<int32_t>(1)},
      {"Transpose", vec({1, 0})}, {"Reshape", vec({3, 2})}, {"Broadcast", vec({2, 3})},
      {"Slice", vec({0, 0}) + vec({2, 3}) + vec({1, 1})}, {"AsType", raw<int32_t>(12) + raw<uint8_t>(2)},
      {"Arange", raw(0.0) + raw(6.0) + raw(1.0)}, {"AddMM", raw(1.f) + raw(1.f)},
      {"QuantizedMatmul", raw<int32_t>(64) + raw<int32_t>(4) + raw<int32_t>(0) + raw<uint8_t>(1)},
      {"BitwiseBinary", raw<int32_t>(4)}, {"RMSNorm", raw(1e-5f)},
      {"RoPE", raw<int32_t>(8) + raw<uint8_t>(0) + raw(10000.f) + raw(1.f) + raw<uint8_t>(1)},
      {"ScaledDotProductAttention", raw(0.125f) + raw<uint8_t>(1) + st({raw<uint8_t>(0), raw<uint8_t>(0), raw<uint8_t>(0)})},
      {"Gather", vec({0}) + vec({1, 3})}, {"Flatten", raw<int32_t>(0) + raw<int32_t>(1)},
  };
  for (const auto& [name, state] : cases) {
    SCOPED_TRACE(name);
    std::string file = one_primitive_file("0.32.2", name, state);
    mx::Function f = parse(file);
    EXPECT_EQ(f.traces[0].tape[2].name, name);
    EXPECT_EQ(f.traces[0].tape[2].state.size(), std::strlen(mx::state_signature(name)));
    EXPECT_EQ(mx::serialize(f), file);
    EXPECT_EQ(parse(mx::serialize(f)), f);
  }
}

TEST(Mlxfn, MultiOutputEntryRoundTrips) {
  Bytes f;
  f.str("0.32.2").i32(1).b(false).str("");
  f.u64(0).u64(1).u64(1).u64(1).shape({4}).dtype(10, 4).u64(2).u64(5).u64(6);
  f.u64(2);
  f.u64(1).b(false).b(false);
  f.u64(5).b(true).u64(1).u64(1).stream(0).str("Add");
  f.u64(1).u64(2).u64(5).u64(6).u64(2).shape({4}).shape({4}).u64(2).dtype(10, 4).dtype(10, 4);
  mx::Function fn = parse(f.s);
  EXPECT_EQ(fn.traces[0].tape[1].outputs.size(), 2u);
  EXPECT_EQ(mx::serialize(fn), f.s);
}

TEST(Mlxfn, EveryTruncationIsACleanError) {
  std::string file = one_primitive_file("0.32.2", "RMSNorm", raw(1e-5f));
  for (size_t n = 0; n < file.size(); ++n) {
    std::string cut = file.substr(0, n);
    EXPECT_THROW(parse(cut), mlx::Error) << n;
  }
}

TEST(Mlxfn, UnknownPrimitiveNamesItAndTheVersion) {
  std::string file = one_primitive_file("0.32.2", "FrobnicateXYZ", "");
  try {
    parse(file);
    FAIL();
  } catch (const mlx::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("FrobnicateXYZ"), std::string::npos) << m;
    EXPECT_NE(m.find("0.32.2"), std::string::npos) << m;
    EXPECT_NE(m.find("test.mlxfn"), std::string::npos) << m;
  }
}

TEST(Mlxfn, HugeCountsAreBoundedByFileSize) {
  std::string file = one_primitive_file("0.32.2", "Add", "");
  // Corrupt the input-ids count (right after header + kwarg count) to a huge value.
  size_t off = 8 + 6 + 4 + 1 + 8 + 7 + 8;
  uint64_t huge = ~0ull / 2;
  std::memcpy(file.data() + off, &huge, 8);
  EXPECT_THROW(parse(file), mlx::Error);
  // An input used before definition.
  std::string bad = one_primitive_file("0.32.2", "Add", "");
  EXPECT_NO_THROW(parse(bad));
}
