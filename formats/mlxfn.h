// MLX's exported-function container (.mlxfn, mlx/export.cpp): header, traces, tape of primitives with their
// serialized state, inline constants. Reader is hardened against hostile files; writer output re-reads identically.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/file_io.h"

namespace mlx::formats::mlxfn {

namespace fs = std::filesystem;

// MLX Dtype::Val codes (bool 0 ... bf16 12, complex64 13).
struct MxDtype {
  int32_t val = 10;
  uint8_t size = 4;
  bool operator==(const MxDtype&) const = default;
};
MxDtype mx_dtype(DType d);             // our dtype -> MLX code
DType to_dtype(MxDtype d, const std::string& file);  // throws for complex64 or unknown codes
std::string mx_dtype_name(MxDtype d);

struct ArrayDesc {
  std::vector<int32_t> shape;
  MxDtype dtype;
  bool operator==(const ArrayDesc&) const = default;
  int64_t numel() const;
};

// A primitive's stream. MLX before PR #3127 (Feb 2026) checked on import that a stream with this index exists in
// the importing process (Stream equality is by index; default streams GPU 0 / CPU 1 with Metal or CUDA, CPU 0 on
// CPU-only builds); later MLX places imported primitives on its own streams by device (see tools/cmd_export.cpp).
struct Stream {
  int32_t index = 0, device_type = 0, device_index = 0;  // device_type: cpu 0, gpu 1
  bool operator==(const Stream&) const = default;
};

// One field of a primitive's state() tuple (the reader converts older MLX layouts to the newest one, so each
// primitive has one layout in memory; see state_signature). Kinds: 'i' i32 (also enums), 'f' f32, 'd' f64, 'b' bool,
// 'v' vector<i32> (Shape or axes), 't' Dtype, 'n' a null fallback function (writes nothing).
struct StateField {
  char kind = 'i';
  int64_t i = 0;
  double f = 0;
  std::vector<int64_t> v;
  MxDtype dtype;
  // NaN equals NaN here: a state float is data (a file may hold any bits), not arithmetic.
  bool operator==(const StateField& o) const {
    bool same_f = f == o.f || (std::isnan(f) && std::isnan(o.f));
    return kind == o.kind && i == o.i && same_f && v == o.v && dtype == o.dtype;
  }
};

// The state layout of a supported primitive, e.g. "v" for Reshape; nullptr when the name is unknown.
const char* state_signature(const std::string& name);

struct TapeEntry {
  uint64_t id = 0;
  enum Kind { kPrimitive, kConstant, kInput } kind = kInput;
  // kPrimitive
  std::vector<uint64_t> inputs;
  Stream stream;
  std::string name;
  std::vector<StateField> state;
  uint64_t n_siblings = 0;             // as stored; 0 = single output
  std::vector<uint64_t> sibling_ids;   // only when n_siblings > 0: the output ids in order
  std::vector<ArrayDesc> outputs;      // one per output (the entry itself first when single-output)
  // kConstant (first occurrence in the file carries the bytes; later traces reference it by id)
  ArrayDesc desc;
  bool has_data = false;
  const uint8_t* data = nullptr;      // into the mapped file or into `owned`
  size_t nbytes = 0;
  std::shared_ptr<std::string> owned;
  bool operator==(const TapeEntry& o) const;
};

struct Trace {
  std::vector<std::string> kwarg_keys;
  std::vector<uint64_t> input_ids;
  std::vector<ArrayDesc> inputs;
  std::vector<uint64_t> output_ids;
  std::vector<TapeEntry> tape;
  bool operator==(const Trace&) const = default;
};

struct Function {
  std::string version = "0.32.2";
  bool shapeless = false;
  std::string metadata;  // only stored for versions >= 0.32.1
  std::vector<Trace> traces;
  std::shared_ptr<MappedFile> file;  // keeps constant bytes alive
  bool operator==(const Function& o) const {
    return version == o.version && shapeless == o.shapeless && metadata == o.metadata && traces == o.traces;
  }
};

bool has_metadata_field(const std::string& version);  // version >= 0.32.1

// Throws mlx::Error naming `path` for truncated/oversized/unknown-primitive input.
Function read(const fs::path& path);
Function parse(const uint8_t* data, size_t size, const std::string& name);
std::string serialize(const Function& f);
void write(const fs::path& path, const Function& f);  // atomic

}  // namespace mlx::formats::mlxfn
