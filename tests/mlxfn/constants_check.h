// Invariants of the constants an export writes (file size, issue 6): every distinct weight slice is stored once
// (a tied lm_head shares the embedding's constant, as MLX dedups by array id), no constant is left unreferenced,
// and quantization scales/biases keep the dtype the model directory stores them in.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "formats/mlxfn.h"

namespace mlx::test {

// Constants of at least this size must be unique; small ones (scalars, index vectors, per-layer norm weights
// that happen to be equal) may repeat, as distinct arrays do in MLX.
constexpr size_t kDedupMinBytes = 8192;

inline void expect_compact_constants(const formats::mlxfn::Function& fn) {
  namespace mx = formats::mlxfn;
  const mx::Trace& t = fn.traces.at(0);
  std::unordered_set<uint64_t> used(t.output_ids.begin(), t.output_ids.end());
  for (const auto& e : t.tape)
    if (e.kind == mx::TapeEntry::kPrimitive) used.insert(e.inputs.begin(), e.inputs.end());
  std::map<std::string, uint64_t> seen;  // bytes + desc -> first id
  for (const auto& e : t.tape) {
    if (e.kind != mx::TapeEntry::kConstant) continue;
    EXPECT_TRUE(used.count(e.id)) << "constant " << e.id << " is never used";
    if (e.nbytes < kDedupMinBytes) continue;
    std::string key(reinterpret_cast<const char*>(e.data), e.nbytes);
    key += std::to_string(e.desc.dtype.val);
    for (int64_t d : e.desc.shape) key += "," + std::to_string(d);
    auto [it, fresh] = seen.emplace(std::move(key), e.id);
    EXPECT_TRUE(fresh) << "constant " << e.id << " repeats constant " << it->second << " (" << e.nbytes << " bytes)";
  }
}

// MLX Dtype::Val code of the first "*.scales" tensor in the safetensors files of `dir`; -1 if none.
inline int stored_scales_dtype(const std::filesystem::path& dir) {
  static const std::map<std::string, int> codes = {{"F32", 10}, {"F16", 9}, {"BF16", 12}, {"U8", 1}};
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    uint64_t n = 0;
    f.read(reinterpret_cast<char*>(&n), 8);
    std::string header(n, '\0');
    f.read(header.data(), std::streamsize(n));
    size_t at = header.find(".scales\"");
    if (at == std::string::npos) continue;
    size_t d = header.find("\"dtype\"", at);
    size_t q1 = header.find('"', header.find(':', d) + 1), q2 = header.find('"', q1 + 1);
    auto it = codes.find(header.substr(q1 + 1, q2 - q1 - 1));
    return it == codes.end() ? -2 : it->second;
  }
  return -1;
}

// Every QuantizedMatmul / GatherQMM reads its scales from a constant of the stored dtype (through an AsType to the
// activations' float32 where the stored dtype is bf16/f16).
inline void expect_stored_scales_dtype(const formats::mlxfn::Function& fn, int stored) {
  namespace mx = formats::mlxfn;
  const mx::Trace& t = fn.traces.at(0);
  std::unordered_map<uint64_t, const mx::TapeEntry*> by_id;
  for (const auto& e : t.tape) by_id[e.id] = &e;
  int checked = 0;
  for (const auto& e : t.tape) {
    if (e.kind != mx::TapeEntry::kPrimitive || (e.name != "QuantizedMatmul" && e.name != "GatherQMM")) continue;
    const mx::TapeEntry* s = by_id.at(e.inputs.at(2));
    if (s->kind == mx::TapeEntry::kPrimitive && s->name == "AsType") s = by_id.at(s->inputs.at(0));
    ASSERT_EQ(s->kind, mx::TapeEntry::kConstant) << e.name << " scales";
    // fp modes store uint8 exponents; the MoE router of an fp-mode model is affine (8-bit) with float scales.
    if (s->desc.dtype.val != 1) {
      EXPECT_EQ(s->desc.dtype.val, stored == 1 ? s->desc.dtype.val : stored) << e.name << " scales dtype";
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace mlx::test
