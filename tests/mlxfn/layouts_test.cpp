// State layouts across MLX versions: files written by older MLX (hand-built here from the state() tuples of those
// versions) are read into the newest layout, which is what the writer emits. Also the header by version string,
// dtype item sizes and multi-output consistency.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "formats/mlxfn.h"
#include "mlxfn_bytes.h"

namespace mx = mlx::formats::mlxfn;
using namespace mlxfn_test;

namespace {

const mx::TapeEntry& prim(const mx::Function& f) { return f.traces.at(0).tape.at(2); }

// Parses `old_state` bytes of primitive `name` and expects the canonical state `want` (kind + value per field),
// and that re-serializing gives the file with `want_bytes` as the state.
void expect_upgrade(const std::string& name, const std::string& old_state, const std::string& want_bytes,
                    const std::string& version = "0.30.0") {
  SCOPED_TRACE(name);
  const std::string file = one_primitive_file(version, name, old_state);  // parse() views these bytes
  mx::Function f = parse(file);
  EXPECT_EQ(prim(f).state.size(), std::strlen(mx::state_signature(prim(f).name)));
  // Written for the newest MLX, the state takes the canonical layout.
  f.version = "0.32.2";
  f.metadata = "{\"k\":1}";
  EXPECT_EQ(mx::serialize(f), one_primitive_file("0.32.2", prim(f).name, want_bytes));
}

}  // namespace

TEST(MlxfnLayouts, SliceUpdateWithoutReduceTypeReadsAsOverwrite) {
  std::string start = vec({0, 0}), stop = vec({1, 3}), strides = vec({1, 1});
  expect_upgrade("SliceUpdate", start + stop + strides, raw<int32_t>(4) + start + stop + strides);
  mx::Function f = parse(one_primitive_file("0.29.0", "SliceUpdate", start + stop + strides));
  EXPECT_EQ(prim(f).state[0].i, 4);  // SliceUpdate::None
  EXPECT_EQ(prim(f).state[2].v, (std::vector<int64_t>{1, 3}));
  // The newest layout with a Sum update is kept as is.
  mx::Function g = parse(one_primitive_file("0.32.2", "SliceUpdate", raw<int32_t>(2) + start + stop + strides));
  EXPECT_EQ(prim(g).state[0].i, 2);
}

TEST(MlxfnLayouts, AttentionFlagsOfEveryVersion) {
  std::string head = raw(0.125f) + raw<uint8_t>(1);
  std::string canon = head + raw<uint8_t>(0) + raw<uint8_t>(0) + raw<uint8_t>(0);
  expect_upgrade("ScaledDotProductAttention", head, canon);                                    // (scale, causal)
  expect_upgrade("ScaledDotProductAttention", head + raw<uint8_t>(0), canon);                  // + has_sinks
  expect_upgrade("ScaledDotProductAttention", head + raw<uint8_t>(0) + raw<uint8_t>(0), canon);  // + logsumexp
  expect_upgrade("ScaledDotProductAttention", canon, canon);                                   // + force_fused
  expect_upgrade("ScaledDotProductAttention", canon + raw<uint8_t>(1), canon);                 // a later trailing flag
  // A 5-field state in a 0.32.2 file (MLX without force_fused in its state) reads as well.
  mx::Function f = parse(one_primitive_file("0.32.2", "ScaledDotProductAttention", head + raw<uint8_t>(1) + raw<uint8_t>(0)));
  EXPECT_FLOAT_EQ(float(prim(f).state[1].f), 0.125f);
  EXPECT_EQ(prim(f).state[2].i, 1);
  EXPECT_EQ(prim(f).state[3].i, 1);  // has_sinks
  EXPECT_EQ(prim(f).state[4].i, 0);
  EXPECT_EQ(prim(f).state[5].i, 0);  // force_fused
  mx::Function g = parse(one_primitive_file("0.32.2", "ScaledDotProductAttention", head + st({raw<uint8_t>(0), raw<uint8_t>(0), raw<uint8_t>(1)})));
  EXPECT_EQ(prim(g).state[5].i, 1);
}

TEST(MlxfnLayouts, QuantizedPrimitivesBeforeModes) {
  std::string gb = raw<int32_t>(64) + raw<int32_t>(4);
  expect_upgrade("QuantizedMatmul", gb + raw<uint8_t>(1), gb + raw<int32_t>(0) + raw<uint8_t>(1));
  expect_upgrade("GatherQMM", gb + raw<uint8_t>(1) + raw<uint8_t>(0) + raw<uint8_t>(1),
                 gb + raw<int32_t>(0) + raw<uint8_t>(1) + raw<uint8_t>(0) + raw<uint8_t>(1));
  expect_upgrade("GatherQMM", gb + raw<uint8_t>(1), gb + raw<int32_t>(0) + raw<uint8_t>(1) + raw<uint8_t>(0) + raw<uint8_t>(0));
  expect_upgrade("GatherMM", "", raw<uint8_t>(0) + raw<uint8_t>(0));
  // fast::AffineQuantize (null, group_size, bits, dequantize) is read as fast::Quantize with mode affine.
  const std::string file = one_primitive_file("0.26.0", "AffineQuantize", gb + raw<uint8_t>(1));
  mx::Function f = parse(file);
  EXPECT_EQ(prim(f).name, "Quantize");
  EXPECT_EQ(mx::serialize(f), one_primitive_file("0.26.0", "AffineQuantize", gb + raw<uint8_t>(1)));  // same version
}

TEST(MlxfnLayouts, GarbageStateIsACleanError) {
  // SliceUpdate whose bytes fit no layout: one short vector then the tail.
  try {
    parse(one_primitive_file("0.32.2", "SliceUpdate", raw<int32_t>(7)));
    FAIL();
  } catch (const mlx::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("SliceUpdate"), std::string::npos) << m;
    EXPECT_NE(m.find("test.mlxfn"), std::string::npos) << m;
  }
}

TEST(MlxfnLayouts, HeaderByVersionString) {
  // Metadata exists from 0.32.1 (MLX PR #3855); dev builds append ".devYYYYMMDD+hash" (mlx/version.h).
  EXPECT_FALSE(mx::has_metadata_field("0.32.0"));
  EXPECT_TRUE(mx::has_metadata_field("0.32.1"));
  EXPECT_TRUE(mx::has_metadata_field("0.32.1.dev20260810+1a2b3c4"));
  EXPECT_FALSE(mx::has_metadata_field("0.31.2.dev20260601+abcdef0"));
  EXPECT_TRUE(mx::has_metadata_field("0.100.0"));
  EXPECT_FALSE(mx::has_metadata_field("0.9.0"));
  for (const char* v : {"0.25.0", "0.32.1.dev20260810+1a2b3c4"}) {
    Bytes f;
    f.str(v).i32(0).b(false);
    if (mx::has_metadata_field(v)) f.str("meta");
    mx::Function fn = parse(f.s);
    EXPECT_EQ(fn.metadata, mx::has_metadata_field(v) ? "meta" : "");
    EXPECT_EQ(mx::serialize(fn), f.s);
  }
}

TEST(MlxfnLayouts, DtypeItemSizeMustMatchItsCode) {
  std::string file = one_primitive_file("0.32.2", "Add", "");
  // The output dtype is the last 5 bytes: float32 with item size 2 is not an MLX dtype.
  file[file.size() - 1] = 2;
  EXPECT_THROW(parse(file), mlx::Error);
}

TEST(MlxfnLayouts, MultiOutputNeedsItsOwnIdAndOneIdPerOutput) {
  auto file = [](uint64_t n_siblings, std::initializer_list<uint64_t> ids) {
    Bytes f;
    f.str("0.32.2").i32(1).b(false).str("");
    f.u64(0).u64(1).u64(1).u64(1).shape({4}).dtype(10, 4).u64(1).u64(5);
    f.u64(2);
    f.u64(1).b(false).b(false);
    f.u64(5).b(true).u64(1).u64(1).stream(0).str("DivMod");
    f.u64(n_siblings).u64(ids.size());
    for (uint64_t id : ids) f.u64(id);
    f.u64(ids.size());
    for (size_t k = 0; k < ids.size(); ++k) f.shape({4});
    f.u64(ids.size());
    for (size_t k = 0; k < ids.size(); ++k) f.dtype(10, 4);
    return f.s;
  };
  mx::Function ok = parse(file(1, {5, 6}));
  EXPECT_EQ(ok.traces[0].tape[1].outputs.size(), 2u);
  EXPECT_EQ(mx::serialize(ok), file(1, {5, 6}));
  EXPECT_THROW(parse(file(1, {7, 6})), mlx::Error);     // the entry's own id missing
  EXPECT_THROW(parse(file(2, {5, 6})), mlx::Error);     // sibling count says 3 outputs
}

TEST(MlxfnLayouts, WriterConvertsAnOlderLayoutItIsGiven) {
  const std::string file = one_primitive_file("0.32.2", "ScaledDotProductAttention", raw(0.5f) + st({raw<uint8_t>(1), raw<uint8_t>(0), raw<uint8_t>(0)}));
  mx::Function f = parse(file);
  mx::TapeEntry& e = f.traces[0].tape[2];
  // Five fields (what MLX before force_fused writes) become the canonical six.
  const std::string six = one_primitive_file("0.32.2", "ScaledDotProductAttention", raw(0.5f) + st({raw<uint8_t>(1), raw<uint8_t>(0), raw<uint8_t>(0), raw<uint8_t>(0)}));
  EXPECT_EQ(mx::serialize(f), six);
  e.state.resize(5);
  EXPECT_EQ(mx::serialize(f), six);
  mx::StateField extra;
  extra.kind = 'b';
  e.state.push_back(extra);
  e.state.push_back(extra);  // six fields and a trailing flag of a newer MLX, which is dropped
  EXPECT_EQ(mx::serialize(f), six);
  e.state.resize(2);  // a layout that never existed
  EXPECT_THROW(mx::serialize(f), mlx::Error);
}

// The writer emits the layout of the MLX version the header names (older MLX reads fewer fields).
TEST(MlxfnLayouts, WriterFollowsTheVersionItWrites) {
  auto rewrite = [](const std::string& name, const std::string& canonical_state, const std::string& version) {
    const std::string file = one_primitive_file("0.32.2", name, canonical_state);
    mx::Function f = parse(file);
    f.version = version;
    return mx::serialize(f);
  };
  std::string sdpa = raw(0.25f) + raw<uint8_t>(1);
  EXPECT_EQ(rewrite("ScaledDotProductAttention", sdpa + raw<uint8_t>(0) + raw<uint8_t>(0), "0.28.0"),
            one_primitive_file("0.28.0", "ScaledDotProductAttention", sdpa));
  EXPECT_EQ(rewrite("ScaledDotProductAttention", sdpa + raw<uint8_t>(1) + raw<uint8_t>(0), "0.29.1"),
            one_primitive_file("0.29.1", "ScaledDotProductAttention", sdpa + raw<uint8_t>(1)));
  EXPECT_EQ(rewrite("ScaledDotProductAttention", sdpa + st({raw<uint8_t>(1), raw<uint8_t>(0), raw<uint8_t>(0)}), "0.32.1"),
            one_primitive_file("0.32.1", "ScaledDotProductAttention", sdpa + raw<uint8_t>(1) + raw<uint8_t>(0)));
  EXPECT_EQ(rewrite("ScaledDotProductAttention", sdpa + raw<uint8_t>(0) + raw<uint8_t>(0), "0.32.2"),
            one_primitive_file("0.32.2", "ScaledDotProductAttention", sdpa + st({raw<uint8_t>(0), raw<uint8_t>(0), raw<uint8_t>(0)})));
  // force_fused cannot be written for an MLX without it
  EXPECT_THROW(rewrite("ScaledDotProductAttention", sdpa + st({raw<uint8_t>(0), raw<uint8_t>(0), raw<uint8_t>(1)}), "0.32.1"), mlx::Error);
  // a sink cannot be written for an MLX without sinks
  EXPECT_THROW(rewrite("ScaledDotProductAttention", sdpa + raw<uint8_t>(1) + raw<uint8_t>(0), "0.28.0"), mlx::Error);
  std::string gb = raw<int32_t>(64) + raw<int32_t>(4);
  EXPECT_EQ(rewrite("QuantizedMatmul", gb + raw<int32_t>(0) + raw<uint8_t>(1), "0.28.0"),
            one_primitive_file("0.28.0", "QuantizedMatmul", gb + raw<uint8_t>(1)));
  EXPECT_THROW(rewrite("QuantizedMatmul", gb + raw<int32_t>(1) + raw<uint8_t>(1), "0.28.0"), mlx::Error);  // mxfp4
  EXPECT_EQ(rewrite("Quantize", gb + raw<int32_t>(0) + raw<uint8_t>(1), "0.26.0"),
            one_primitive_file("0.26.0", "AffineQuantize", gb + raw<uint8_t>(1)));
  EXPECT_EQ(rewrite("GatherMM", raw<uint8_t>(0) + raw<uint8_t>(0), "0.24.0"), one_primitive_file("0.24.0", "GatherMM", ""));
  std::string where = vec({0, 0}) + vec({1, 3}) + vec({1, 1});
  EXPECT_EQ(rewrite("SliceUpdate", raw<int32_t>(4) + where, "0.31.0"), one_primitive_file("0.31.0", "SliceUpdate", where));
  // and each older file reads back into the canonical layout it came from
  const std::string old_file = rewrite("QuantizedMatmul", gb + raw<int32_t>(0) + raw<uint8_t>(1), "0.28.0");
  mx::Function back = parse(old_file);
  back.metadata = "{\"k\":1}";
  EXPECT_EQ(mx::serialize([&] { back.version = "0.32.2"; return back; }()),
            one_primitive_file("0.32.2", "QuantizedMatmul", gb + raw<int32_t>(0) + raw<uint8_t>(1)));
}
