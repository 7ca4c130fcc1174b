// .mlxfn container: hand-built files following the byte layout of mlx/export.cpp (independent of our writer).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "formats/mlxfn.h"
#include "mlxfn_bytes.h"

namespace mx = mlx::formats::mlxfn;
using namespace mlxfn_test;

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
      // the rest of the llama-family list of issue 6 item 4, each with its state() tuple
      {"Unflatten", raw<int32_t>(1) + vec({3, 1})}, {"Squeeze", vec({0})}, {"ExpandDims", vec({0, 2})},
      {"SliceUpdate", raw<int32_t>(4) + vec({0, 0}) + vec({1, 3}) + vec({1, 1})},
      {"BroadcastAxes", vec({-2, -1})}, {"Full", ""}, {"Add", ""}, {"Multiply", ""}, {"Minimum", ""},
      {"Negative", ""}, {"Exp", ""}, {"Sigmoid", ""}, {"Square", ""}, {"Cos", ""}, {"Sin", ""}, {"Tanh", ""},
      {"Erf", ""}, {"Select", ""}, {"Less", ""}, {"LessEqual", ""}, {"Greater", ""}, {"GreaterEqual", ""},
      {"LayerNorm", raw(1e-6f)}, {"Scan", raw<int32_t>(2) + raw<int32_t>(-1) + raw<uint8_t>(0) + raw<uint8_t>(1)},
      {"QuantizedMatmul", raw<int32_t>(32) + raw<int32_t>(4) + raw<int32_t>(1) + raw<uint8_t>(1)},
      {"GatherQMM", raw<int32_t>(64) + raw<int32_t>(4) + raw<int32_t>(0) + st({raw<uint8_t>(1), raw<uint8_t>(0), raw<uint8_t>(1)})},
      {"GatherMM", raw<uint8_t>(0) + raw<uint8_t>(1)},
      {"Quantize", raw<int32_t>(64) + raw<int32_t>(4) + raw<int32_t>(0) + raw<uint8_t>(1)},
      {"NumberOfElements", vec({-1}) + raw<uint8_t>(1) + raw<int32_t>(10) + raw<uint8_t>(4)},
      {"Split", vec({1, 2}) + raw<int32_t>(1)}, {"Pad", vec({0}) + vec({1}) + vec({0})}, {"Sort", raw<int32_t>(-1)},
      {"ArgReduce", raw<int32_t>(1) + raw<int32_t>(-1)}, {"Hadamard", raw(0.5f)}, {"Depends", ""},
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
