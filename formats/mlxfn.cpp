// .mlxfn container reader and writer; layout per mlx/export.cpp (see shared/mlx-reference.md §i).
#include "formats/mlxfn.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_set>

#include "core/error.h"

namespace mlx::formats::mlxfn {

namespace {

// State layouts, one canonical layout per primitive = the newest MLX `state()` tuple we verified (mlx/primitives.h
// @0154acf14, mlx/fast_primitives.h @0017d3c). Kinds: i i32/enum, f f32, d f64, b bool, v vector<i32>, t Dtype,
// n nullptr (writes nothing). Primitives without state() serialize nothing.
const std::map<std::string, const char*, std::less<>>& signatures() {
  static const std::map<std::string, const char*, std::less<>> table = {
      // no state
      {"Abs", ""}, {"Add", ""}, {"Subtract", ""}, {"Multiply", ""}, {"Divide", ""}, {"Maximum", ""},
      {"Minimum", ""}, {"Negative", ""}, {"Exp", ""}, {"Sigmoid", ""}, {"Square", ""}, {"Cos", ""}, {"Sin", ""},
      {"Tanh", ""}, {"Erf", ""}, {"Power", ""}, {"Select", ""}, {"Matmul", ""}, {"Full", ""}, {"Less", ""},
      {"LessEqual", ""}, {"Greater", ""}, {"GreaterEqual", ""}, {"NotEqual", ""}, {"LogicalNot", ""},
      {"LogicalAnd", ""}, {"LogicalOr", ""}, {"Floor", ""}, {"Ceil", ""}, {"Remainder", ""}, {"Sign", ""},
      {"Log1p", ""}, {"Copy", ""}, {"StopGradient", ""}, {"Round", ""}, {"LogAddExp", ""}, {"Expm1", ""},
      {"Sinh", ""}, {"Cosh", ""}, {"Tan", ""}, {"ArcTan", ""}, {"ArcSin", ""}, {"ArcCos", ""}, {"ArcTan2", ""},
      {"ArcSinh", ""}, {"ArcCosh", ""}, {"ArcTanh", ""}, {"ErfInv", ""}, {"DivMod", ""}, {"Depends", ""},
      {"Conjugate", ""}, {"Real", ""}, {"Imag", ""}, {"BitwiseInvert", ""}, {"LogSumExp", ""},
      {"MaskedScatter", ""}, {"QRF", ""},
      // stateful (field order = the state() tuple)
      {"Equal", "b"},                 // equal_nan ("NaNEqual" is written as Equal with true)
      {"Log", "i"},                   // Base {two 0, ten 1, e 2}
      {"Sqrt", "b"},                  // recip ("Rsqrt" is written as Sqrt with true)
      {"Softmax", "b"},               // precise
      {"Reduce", "iv"},               // ReduceType {And, Or, Sum, Prod, Min, Max}, axes
      {"ArgReduce", "ii"},            // {ArgMin, ArgMax}, axis
      {"Scan", "iibb"},               // ReduceType {Max, Min, Sum, Prod, LogAddExp}, axis, reverse, inclusive
      {"ArgSort", "i"}, {"Sort", "i"}, {"ArgPartition", "ii"}, {"Partition", "ii"},  // (kth,) axis
      {"Split", "vi"},                // indices, axis
      {"NumberOfElements", "vbt"},    // axes, inverted, dtype
      {"Gather", "vv"},               // axes, slice_sizes
      {"GatherAxis", "i"}, {"ScatterAxis", "ii"}, {"Scatter", "iv"},
      {"DynamicSlice", "vv"}, {"DynamicSliceUpdate", "v"},
      {"Concatenate", "i"}, {"Transpose", "v"}, {"Reshape", "v"}, {"Broadcast", "v"}, {"BroadcastAxes", "v"},
      {"ExpandDims", "v"}, {"Squeeze", "v"}, {"Flatten", "ii"}, {"Unflatten", "iv"},
      {"Slice", "vvv"},               // start, stop, strides
      {"SliceUpdate", "ivvv"},        // ReduceType {Max, Min, Sum, Prod, None 4}, start, stop, strides
      {"Pad", "vvv"},                 // axes, low, high
      {"AsType", "t"}, {"View", "t"}, {"Arange", "ddd"}, {"AddMM", "ff"}, {"Hadamard", "f"},
      {"BlockMaskedMM", "i"}, {"RandomBits", "vi"}, {"Inverse", "bb"}, {"Cholesky", "b"}, {"SVD", "b"},
      {"Convolution", "vvvvvib"},
      {"QuantizedMatmul", "iiib"},    // group_size, bits, QuantizationMode {Affine, Mxfp4, Mxfp8, Nvfp4}, transpose
      {"GatherQMM", "iiibbb"},        // + left_sorted, right_sorted
      {"QQMatmul", "iii"},
      {"GatherMM", "bb"},             // left_sorted, right_sorted
      {"BitwiseBinary", "i"},         // Op {And, Or, Xor, LeftShift, RightShift}
      // fast:: primitives: the fallback function serializes as nullptr (nothing)
      {"RMSNorm", "nf"}, {"LayerNorm", "nf"}, {"FusedRMSSiLU", "nf"},
      {"RoPE", "nibffb"},             // dims, traditional, base, scale, forward (+ optional freqs input)
      // scale, do_causal, has_sinks, output_logsumexp, force_fused. The last flag follows the project's MLX
      // reference (shared/mlx-reference.md §i, from fast_primitives.h of MLX 0.32.2, PR #4185). The newest copy of
      // fast_primitives.h we could read ourselves (@0017d3c) predates that PR and has 5 fields, and the backends
      // after it (metal/cuda scaled_dot_product_attention.cpp @00703ea / @0569a18) only pass force_fused to
      // use_fallback — so both layouts are read, and `--mlx-version 0.32.1` writes the 5-field one.
      {"ScaledDotProductAttention", "nfbbbb"},
      {"Quantize", "niiib"},          // group_size, bits, mode, dequantize
  };
  return table;
}

// Older layouts of primitives whose state() grew. A file does not say which MLX wrote the tape beyond its
// version string, so these are recognized from the bytes: the canonical layout is tried first, then each older
// one, and a layout is taken only if the bytes after it parse as a plausible entry tail (sibling count, shape,
// dtype). `upgrade` turns the fields into the canonical layout.
struct Legacy {
  const char* sig;
  void (*upgrade)(std::vector<StateField>&);
};

StateField int_field(int64_t v) { StateField f; f.kind = 'i'; f.i = v; return f; }
StateField bool_field(bool v) { StateField f; f.kind = 'b'; f.i = v; return f; }

const std::map<std::string, std::vector<Legacy>, std::less<>>& legacy_layouts() {
  static const std::map<std::string, std::vector<Legacy>, std::less<>> table = {
      // MLX before "Slice update with operation" (PR #3266, 0.31.x): no reduce type = plain overwrite (None).
      {"SliceUpdate", {{"vvv", [](std::vector<StateField>& s) { s.insert(s.begin(), int_field(4)); }}}},
      // A trailing flag of a newer MLX than we verified is dropped; older MLX had no output_logsumexp / sinks.
      {"ScaledDotProductAttention",
       {{"nfbbbbb", [](std::vector<StateField>& s) { s.pop_back(); }},
        {"nfbbb", [](std::vector<StateField>& s) { s.push_back(bool_field(false)); }},
        {"nfbb", [](std::vector<StateField>& s) { s.push_back(bool_field(false)); s.push_back(bool_field(false)); }},
        {"nfb", [](std::vector<StateField>& s) {
           for (int k = 0; k < 3; ++k) s.push_back(bool_field(false));
         }}}},
      // Before quantization modes (affine only).
      {"QuantizedMatmul", {{"iib", [](std::vector<StateField>& s) { s.insert(s.begin() + 2, int_field(0)); }}}},
      {"GatherQMM",
       {{"iibbb", [](std::vector<StateField>& s) { s.insert(s.begin() + 2, int_field(0)); }},
        {"iib", [](std::vector<StateField>& s) {
           s.insert(s.begin() + 2, int_field(0));
           s.push_back(bool_field(false));
           s.push_back(bool_field(false));
         }}}},
      // Before the sorted-indices flags.
      {"GatherMM", {{"", [](std::vector<StateField>& s) { s = {bool_field(false), bool_field(false)}; }}}},
  };
  return table;
}

// fast::AffineQuantize (n, group_size, bits, dequantize) was renamed fast::Quantize and gained a mode.
constexpr const char* kAffineQuantize = "AffineQuantize";

// MLX Dtype::Val codes and their byte sizes (mlx/dtype.h): bool, u8, u16, u32, u64, i8, i16, i32, i64, f16, f32,
// f64, bf16, complex64.
constexpr uint8_t kDtypeSize[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 2, 8};
constexpr size_t kMaxNdim = 255;  // far above any real array; a misaligned probe reads counts of 256 and more

class Reader {
 public:
  Reader(const uint8_t* d, size_t n, const std::string& name) : d_(d), n_(n), name_(name) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }
  const std::string& name() const { return name_; }

  const uint8_t* take(size_t bytes, const char* what) {
    if (bytes > left()) fail("{}: truncated file: {} needs {} bytes at offset {}, {} left", name_, what, bytes, pos_, left());
    const uint8_t* p = d_ + pos_;
    pos_ += bytes;
    return p;
  }
  template <class T>
  T get(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }
  bool get_bool(const char* what) { return get<uint8_t>(what) != 0; }
  // A count of elements of at least `elem_bytes` each: bounded by what is left in the file.
  uint64_t count(size_t elem_bytes, const char* what) {
    uint64_t c = get<uint64_t>(what);
    if (elem_bytes > 0 && c > left() / elem_bytes)
      fail("{}: {} count {} at offset {} exceeds the file size {}", name_, what, c, pos_ - 8, n_);
    if (elem_bytes == 0 && c > n_) fail("{}: {} count {} exceeds the file size {}", name_, what, c, n_);
    return c;
  }
  std::string str(const char* what) {
    uint64_t len = count(1, what);
    const uint8_t* p = take(len, what);
    return std::string(reinterpret_cast<const char*>(p), len);
  }
  std::vector<uint64_t> ids(const char* what) {
    uint64_t c = count(8, what);
    std::vector<uint64_t> out(c);
    for (auto& x : out) x = get<uint64_t>(what);
    return out;
  }
  std::vector<int32_t> shape(const char* what) {
    uint64_t c = count(4, what);
    std::vector<int32_t> out(c);
    for (auto& x : out) x = get<int32_t>(what);
    return out;
  }
  MxDtype dtype(const char* what) {
    MxDtype t;
    t.val = get<int32_t>(what);
    t.size = get<uint8_t>(what);
    if (t.val < 0 || t.val > 13) fail("{}: unknown dtype code {} in {} at offset {}", name_, t.val, what, pos_ - 5);
    if (t.size != kDtypeSize[t.val])
      fail("{}: dtype {} with item size {} in {} at offset {}", name_, mx_dtype_name(t), t.size, what, pos_ - 5);
    return t;
  }
  ArrayDesc desc(const char* what) {
    ArrayDesc a;
    a.shape = shape(what);
    if (a.shape.size() > kMaxNdim) fail("{}: {} has {} dimensions", name_, what, a.shape.size());
    for (int32_t s : a.shape)
      if (s < 0) fail("{}: negative dimension {} in {}", name_, s, what);
    a.dtype = dtype(what);
    return a;
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 0;
  std::string name_;
};

class Writer {
 public:
  template <class T>
  void put(T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    out += s;
  }
  void ids(const std::vector<uint64_t>& v) {
    put<uint64_t>(v.size());
    for (auto x : v) put(x);
  }
  void shape(const std::vector<int32_t>& v) {
    put<uint64_t>(v.size());
    for (auto x : v) put(x);
  }
  void dtype(MxDtype t) {
    put(t.val);
    put(t.size);
  }
  void desc(const ArrayDesc& a) {
    shape(a.shape);
    dtype(a.dtype);
  }
  std::string out;
};

// Reads the fields of layout `sig`. `strict` (used when probing layouts) also demands that bools be 0 or 1,
// which is all MLX writes.
void read_state(Reader& r, const std::string& prim, const char* sig, std::vector<StateField>& out, bool strict) {
  for (const char* k = sig; *k; ++k) {
    StateField f;
    f.kind = *k;
    switch (*k) {
      case 'i': f.i = r.get<int32_t>("primitive state"); break;
      case 'f': f.f = r.get<float>("primitive state"); break;
      case 'd': f.f = r.get<double>("primitive state"); break;
      case 'b': {
        uint8_t v = r.get<uint8_t>("primitive state");
        if (strict && v > 1) fail("{}: {} state bool is {}", r.name(), prim, v);
        f.i = v != 0;
        break;
      }
      case 't': f.dtype = r.dtype("primitive state"); break;
      case 'v': {
        auto s = r.shape("primitive state");
        f.v.assign(s.begin(), s.end());
        break;
      }
      case 'n': break;
      default: fail("{}: internal: bad state signature for {}", r.name(), prim);
    }
    out.push_back(std::move(f));
  }
}

// Whether the bytes at `r` read as what follows a primitive's state: sibling count, then one output description
// or the sibling ids, shapes and dtypes. Used to tell a primitive's state layouts apart.
bool plausible_tail(Reader r) {
  try {
    uint64_t ns = r.get<uint64_t>("sibling count");
    if (ns == 0) {
      r.desc("primitive output");
      return true;
    }
    if (ns > 64) return false;
    if (r.get<uint64_t>("sibling ids") != ns + 1) return false;
    for (uint64_t k = 0; k <= ns; ++k) r.get<uint64_t>("sibling id");
    if (r.get<uint64_t>("sibling shapes") != ns + 1) return false;
    for (uint64_t k = 0; k <= ns; ++k)
      if (r.shape("sibling shape").size() > kMaxNdim) return false;
    if (r.get<uint64_t>("sibling dtypes") != ns + 1) return false;
    for (uint64_t k = 0; k <= ns; ++k) r.dtype("sibling dtype");
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Reads the state of primitive `e.name` in whichever layout the file uses and stores it in the canonical one.
void read_primitive_state(Reader& r, TapeEntry& e, const std::string& version) {
  if (e.name == kAffineQuantize) {
    read_state(r, e.name, "niib", e.state, false);
    e.state.insert(e.state.begin() + 3, int_field(0));
    e.name = "Quantize";
    return;
  }
  const char* sig = state_signature(e.name);
  if (!sig) fail("{}: unsupported primitive '{}' (file written by MLX {})", r.name(), e.name.substr(0, 80), version);
  auto legacy = legacy_layouts().find(e.name);
  if (legacy == legacy_layouts().end()) {
    read_state(r, e.name, sig, e.state, false);
    return;
  }
  std::vector<Legacy> candidates = {{sig, nullptr}};
  candidates.insert(candidates.end(), legacy->second.begin(), legacy->second.end());
  for (const Legacy& c : candidates) {
    Reader probe = r;
    std::vector<StateField> st;
    try {
      read_state(probe, e.name, c.sig, st, true);
    } catch (const Error&) {
      continue;
    }
    if (!plausible_tail(probe)) continue;
    if (c.upgrade) c.upgrade(st);
    e.state = std::move(st);
    r = probe;
    return;
  }
  fail("{}: the state of primitive {} at offset {} matches no known layout (file written by MLX {})", r.name(),
       e.name, r.pos(), version);
}

bool kinds_match(const std::vector<StateField>& state, const char* sig) {
  if (std::strlen(sig) != state.size()) return false;
  for (size_t i = 0; i < state.size(); ++i)
    if (state[i].kind != sig[i] && !(sig[i] == 'd' && state[i].kind == 'f')) return false;
  return true;
}

// The state of `e` in the canonical layout (a state given in an older layout of the primitive is converted), with
// each field's kind set from the signature.
std::vector<StateField> canonical_state(const TapeEntry& e) {
  const char* sig = state_signature(e.name);
  if (!sig) fail("cannot write primitive {}: unknown to the .mlxfn writer", e.name);
  std::vector<StateField> state = e.state;
  if (state.size() != std::strlen(sig)) {
    auto legacy = legacy_layouts().find(e.name);
    bool converted = false;
    if (legacy != legacy_layouts().end())
      for (const Legacy& l : legacy->second)
        if (kinds_match(state, l.sig)) {
          l.upgrade(state);
          converted = true;
          break;
        }
    if (!converted) fail("primitive {}: state has {} fields, expected {}", e.name, e.state.size(), std::strlen(sig));
  }
  for (size_t i = 0; i < state.size(); ++i) state[i].kind = sig[i];
  return state;
}

using Version = std::tuple<int, int, int>;

// "0.32.1", "0.32.1.dev20260810+1a2b3c4" -> (0, 32, 1); nullopt when the string is not a version.
std::optional<Version> parse_version(const std::string& v) {
  int a = 0, b = 0, c = 0;
  if (std::sscanf(v.c_str(), "%d.%d.%d", &a, &b, &c) < 2) return std::nullopt;
  return Version{a, b, c};
}

// What an older MLX expects instead of the canonical layout: each step applies to files of versions before
// `since` (the first release whose state() has the newer field), newest first per primitive. A field holding
// something other than the value the older MLX implied cannot be written for it. Release boundaries: Quantize
// modes, attention sinks and the AffineQuantize rename came with mxfp4 (0.29.0); the attention logsumexp output
// with cuDNN backward attention (PR #2762, Nov 2025: taken as 0.30.0); sorted GatherMM/GatherQMM flags in 0.25.0;
// SliceUpdate's reduce type (PR #3266, 2026) taken as 0.32.0; attention's force_fused in 0.32.2 (PR #4185, as the
// project's MLX reference says). Only the metadata boundary (0.32.1, PR #3855) is certain; the others are the
// best reading of the PR dates and release tags we found.
struct Step {
  const char* prim;
  Version since;
  const char* old_name;  // renamed in older MLX, or nullptr
  void (*apply)(std::vector<StateField>& s, const std::string& prim, const std::string& version);
};

void require_zero(const StateField& f, int64_t want, const std::string& prim, const char* what, const std::string& version) {
  if (f.i != want)
    fail("primitive {}: {} = {} cannot be written for MLX {}, which has no such field", prim, what, f.i, version);
}

const std::vector<Step>& downgrade_steps() {
  static const std::vector<Step> steps = {
      {"SliceUpdate", {0, 32, 0}, nullptr, [](auto& s, auto& p, auto& v) {
         require_zero(s[0], 4, p, "reduce type", v);
         s.erase(s.begin());
       }},
      {"ScaledDotProductAttention", {0, 32, 2}, nullptr, [](auto& s, auto& p, auto& v) {
         require_zero(s[5], 0, p, "force_fused", v);
         s.pop_back();
       }},
      {"ScaledDotProductAttention", {0, 30, 0}, nullptr, [](auto& s, auto& p, auto& v) {
         require_zero(s[4], 0, p, "output_logsumexp", v);
         s.pop_back();
       }},
      {"ScaledDotProductAttention", {0, 29, 0}, nullptr, [](auto& s, auto& p, auto& v) {
         require_zero(s[3], 0, p, "has_sinks", v);
         s.pop_back();
       }},
      {"QuantizedMatmul", {0, 29, 0}, nullptr, [](auto& s, auto& p, auto& v) {
         require_zero(s[2], 0, p, "mode", v);
         s.erase(s.begin() + 2);
       }},
      {"GatherQMM", {0, 29, 0}, nullptr, [](auto& s, auto& p, auto& v) {
         require_zero(s[2], 0, p, "mode", v);
         s.erase(s.begin() + 2);
       }},
      {"GatherQMM", {0, 25, 0}, nullptr, [](auto& s, auto& p, auto& v) {
         require_zero(s[3], 0, p, "left_sorted", v);
         require_zero(s[4], 0, p, "right_sorted", v);
         s.resize(3);
       }},
      {"GatherMM", {0, 25, 0}, nullptr, [](auto& s, auto& p, auto& v) {
         require_zero(s[0], 0, p, "left_sorted", v);
         require_zero(s[1], 0, p, "right_sorted", v);
         s.clear();
       }},
      {"Quantize", {0, 29, 0}, kAffineQuantize, [](auto& s, auto& p, auto& v) {
         require_zero(s[3], 0, p, "mode", v);
         s.erase(s.begin() + 3);
       }},
  };
  return steps;
}

// Name and state fields of `e` as MLX `version` serializes them.
std::pair<std::string, std::vector<StateField>> layout_for(const TapeEntry& e, const std::string& version) {
  std::pair<std::string, std::vector<StateField>> out{e.name, canonical_state(e)};
  std::optional<Version> v = parse_version(version);
  if (!v) return out;
  for (const Step& st : downgrade_steps())
    if (e.name == st.prim && *v < st.since) {
      st.apply(out.second, e.name, version);
      if (st.old_name) out.first = st.old_name;
    }
  return out;
}

void write_fields(Writer& w, const std::vector<StateField>& state) {
  for (const StateField& f : state) {
    switch (f.kind) {
      case 'i': w.put<int32_t>(int32_t(f.i)); break;
      case 'f': w.put<float>(float(f.f)); break;
      case 'd': w.put<double>(f.f); break;
      case 'b': w.put<uint8_t>(f.i ? 1 : 0); break;
      case 't': w.dtype(f.dtype); break;
      case 'v': {
        std::vector<int32_t> s(f.v.begin(), f.v.end());
        w.shape(s);
        break;
      }
      default: break;
    }
  }
}

}  // namespace

const char* state_signature(const std::string& name) {
  auto it = signatures().find(name);
  return it == signatures().end() ? nullptr : it->second;
}

MxDtype mx_dtype(DType d) {
  switch (d) {
    case DType::Bool: return {0, 1};
    case DType::U8: return {1, 1};
    case DType::U16: return {2, 2};
    case DType::U32: return {3, 4};
    case DType::U64: return {4, 8};
    case DType::I8: return {5, 1};
    case DType::I16: return {6, 2};
    case DType::I32: return {7, 4};
    case DType::I64: return {8, 8};
    case DType::F16: return {9, 2};
    case DType::F32: return {10, 4};
    case DType::F64: return {11, 8};
    case DType::BF16: return {12, 2};
    default: fail("dtype {} has no MLX array equivalent", dtype_name(d));
  }
}

DType to_dtype(MxDtype d, const std::string& file) {
  static const DType table[] = {DType::Bool, DType::U8,  DType::U16, DType::U32, DType::U64, DType::I8,  DType::I16,
                                DType::I32,  DType::I64, DType::F16, DType::F32, DType::F64, DType::BF16};
  if (d.val < 0 || d.val > 12) fail("{}: unsupported MLX dtype code {} (complex64 is not supported)", file, d.val);
  return table[d.val];
}

std::string mx_dtype_name(MxDtype d) {
  static const char* names[] = {"bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
                                "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"};
  return d.val >= 0 && d.val <= 13 ? names[d.val] : "?";
}

int64_t ArrayDesc::numel() const {
  int64_t n = 1;
  for (int32_t s : shape) n *= s;
  return n;
}

bool TapeEntry::operator==(const TapeEntry& o) const {
  if (id != o.id || kind != o.kind) return false;
  if (kind == kPrimitive)
    return inputs == o.inputs && stream == o.stream && name == o.name && state == o.state &&
           n_siblings == o.n_siblings && sibling_ids == o.sibling_ids && outputs == o.outputs;
  if (kind == kConstant)
    return desc == o.desc && has_data == o.has_data && nbytes == o.nbytes &&
           (nbytes == 0 || std::memcmp(data, o.data, nbytes) == 0);
  return true;
}

bool has_metadata_field(const std::string& version) {
  std::optional<Version> v = parse_version(version);
  return !v || *v >= Version{0, 32, 1};  // not a version string: assume the current layout
}

Function parse(const uint8_t* data, size_t size, const std::string& name) {
  Reader r(data, size, name);
  Function f;
  f.version = r.str("version string");
  if (f.version.empty() || f.version.size() > 64) fail("{}: not an .mlxfn file (bad version string)", name);
  for (char ch : f.version)
    if (ch < 0x20 || ch > 0x7e) fail("{}: not an .mlxfn file (bad version string)", name);
  int32_t count = r.get<int32_t>("function count");
  if (count < 0 || uint64_t(count) > size) fail("{}: bad function count {}", name, count);
  f.shapeless = r.get_bool("shapeless flag");
  if (has_metadata_field(f.version)) f.metadata = r.str("metadata");
  std::unordered_set<uint64_t> constants_seen;
  for (int32_t t = 0; t < count; ++t) {
    Trace tr;
    uint64_t nk = r.count(8, "kwarg keys");
    for (uint64_t i = 0; i < nk; ++i) tr.kwarg_keys.push_back(r.str("kwarg key"));
    tr.input_ids = r.ids("input ids");
    uint64_t ni = r.count(13, "inputs");
    for (uint64_t i = 0; i < ni; ++i) tr.inputs.push_back(r.desc("input"));
    if (ni != tr.input_ids.size()) fail("{}: trace {} has {} input ids but {} input descriptions", name, t, tr.input_ids.size(), ni);
    tr.output_ids = r.ids("output ids");
    uint64_t nt = r.count(9, "tape");
    std::unordered_set<uint64_t> defined(tr.input_ids.begin(), tr.input_ids.end());
    for (uint64_t i = 0; i < nt; ++i) {
      TapeEntry e;
      e.id = r.get<uint64_t>("tape id");
      if (r.get_bool("tape entry")) {
        e.kind = TapeEntry::kPrimitive;
        e.inputs = r.ids("primitive inputs");
        for (uint64_t in : e.inputs)
          if (!defined.count(in)) fail("{}: tape entry {} uses array {} before it is defined", name, i, in);
        e.stream.index = r.get<int32_t>("stream");
        e.stream.device_type = r.get<int32_t>("stream");
        e.stream.device_index = r.get<int32_t>("stream");
        e.name = r.str("primitive name");
        read_primitive_state(r, e, f.version);
        e.n_siblings = r.get<uint64_t>("sibling count");
        if (e.n_siblings == 0) {
          e.outputs.push_back(r.desc("primitive output"));
        } else {
          if (e.n_siblings > r.left()) fail("{}: sibling count {} exceeds the file size", name, e.n_siblings);
          e.sibling_ids = r.ids("sibling ids");
          uint64_t ns = r.count(8, "sibling shapes");
          std::vector<std::vector<int32_t>> shapes;
          for (uint64_t k = 0; k < ns; ++k) {
            shapes.push_back(r.shape("sibling shape"));
            if (shapes.back().size() > kMaxNdim) fail("{}: sibling shape has {} dimensions", name, shapes.back().size());
          }
          uint64_t nd = r.count(5, "sibling dtypes");
          // MLX writes the ids of all outputs (the entry's own among them) and counts only the others as siblings.
          bool own = std::find(e.sibling_ids.begin(), e.sibling_ids.end(), e.id) != e.sibling_ids.end();
          if (ns != e.sibling_ids.size() || nd != ns || ns != e.n_siblings + 1 || !own)
            fail("{}: inconsistent multi-output entry for {}", name, e.name);
          for (uint64_t k = 0; k < nd; ++k) e.outputs.push_back({shapes[k], r.dtype("sibling dtype")});
          for (uint64_t s : e.sibling_ids) defined.insert(s);
        }
      } else if (r.get_bool("constant flag")) {
        e.kind = TapeEntry::kConstant;
        if (!constants_seen.count(e.id)) {
          e.desc = r.desc("constant");
          int64_t numel = 1;
          for (int32_t s : e.desc.shape) {
            if (s != 0 && numel > int64_t(r.left()) / s) fail("{}: constant {} is larger than the file", name, e.id);
            numel *= s;
          }
          uint64_t nb = uint64_t(numel) * e.desc.dtype.size;
          e.data = r.take(nb, "constant data");
          e.nbytes = nb;
          e.has_data = true;
          constants_seen.insert(e.id);
        }
      } else {
        e.kind = TapeEntry::kInput;
      }
      defined.insert(e.id);
      tr.tape.push_back(std::move(e));
    }
    for (uint64_t o : tr.output_ids)
      if (!defined.count(o)) fail("{}: output {} of trace {} is never computed", name, o, t);
    f.traces.push_back(std::move(tr));
  }
  return f;
}

Function read(const fs::path& path) {
  auto file = std::make_shared<MappedFile>(MappedFile::open(path));
  Function f = parse(file->data() ? reinterpret_cast<const uint8_t*>(file->data()) : nullptr, file->size(),
                     path.filename().string());
  f.file = file;
  return f;
}

std::string serialize(const Function& f) {
  Writer w;
  w.str(f.version);
  w.put<int32_t>(int32_t(f.traces.size()));
  w.put<uint8_t>(f.shapeless ? 1 : 0);
  if (has_metadata_field(f.version)) w.str(f.metadata);
  for (const Trace& tr : f.traces) {
    w.put<uint64_t>(tr.kwarg_keys.size());
    for (const auto& k : tr.kwarg_keys) w.str(k);
    w.ids(tr.input_ids);
    w.put<uint64_t>(tr.inputs.size());
    for (const auto& a : tr.inputs) w.desc(a);
    w.ids(tr.output_ids);
    w.put<uint64_t>(tr.tape.size());
    for (const TapeEntry& e : tr.tape) {
      w.put<uint64_t>(e.id);
      w.put<uint8_t>(e.kind == TapeEntry::kPrimitive);
      if (e.kind == TapeEntry::kPrimitive) {
        w.ids(e.inputs);
        w.put(e.stream.index);
        w.put(e.stream.device_type);
        w.put(e.stream.device_index);
        auto [name, state] = layout_for(e, f.version);
        w.str(name);
        write_fields(w, state);
        w.put<uint64_t>(e.n_siblings);
        if (e.n_siblings == 0) {
          if (e.outputs.size() != 1) fail("primitive {}: single-output entry needs one output description", e.name);
          w.desc(e.outputs[0]);
        } else {
          bool own = std::find(e.sibling_ids.begin(), e.sibling_ids.end(), e.id) != e.sibling_ids.end();
          if (e.outputs.size() != e.n_siblings + 1 || e.sibling_ids.size() != e.outputs.size() || !own)
            fail("primitive {}: a multi-output entry needs its own id among the output ids, one per output", e.name);
          w.ids(e.sibling_ids);
          w.put<uint64_t>(e.outputs.size());
          for (const auto& o : e.outputs) w.shape(o.shape);
          w.put<uint64_t>(e.outputs.size());
          for (const auto& o : e.outputs) w.dtype(o.dtype);
        }
      } else {
        w.put<uint8_t>(e.kind == TapeEntry::kConstant);
        if (e.kind == TapeEntry::kConstant && e.has_data) {
          w.desc(e.desc);
          if (e.nbytes != uint64_t(e.desc.numel()) * e.desc.dtype.size) fail("constant {}: byte size mismatch", e.id);
          w.out.append(reinterpret_cast<const char*>(e.data), e.nbytes);
        }
      }
    }
  }
  return std::move(w.out);
}

void write(const fs::path& path, const Function& f) { write_file_atomic(path, serialize(f)); }

}  // namespace mlx::formats::mlxfn
