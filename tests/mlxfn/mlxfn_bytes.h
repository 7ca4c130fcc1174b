// Byte builders for hand-made .mlxfn files, written from the format description (mlx/export.cpp: scalars little
// endian, bool 1 byte, string/vector = u64 count + items, Dtype = i32 code + u8 size, Stream = 3 x i32), not from
// our writer, so that reader tests do not trust the code they test.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

#include "formats/mlxfn.h"

namespace mlxfn_test {

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
  Bytes& stream(int dev, int index = 0) { return i32(index).i32(dev).i32(0); }
};

template <class T>
inline std::string raw(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}
inline std::string vec(std::initializer_list<int32_t> v) {
  std::string s = raw<uint64_t>(v.size());
  for (int32_t x : v) s += raw(x);
  return s;
}
inline std::string st(std::initializer_list<std::string> parts) {
  std::string s;
  for (auto& p : parts) s += p;
  return s;
}

inline bool has_metadata(const std::string& version) { return version >= "0.32.1"; }  // fine for 0.x.y tests

// Header + one trace: input 1 (f32 [2,3]), constant 2 (f32 [3]), primitive `name` with `state` bytes on inputs
// (1, 2), output f32 [2,3] (or dtype `out_dtype`).
inline std::string one_primitive_file(const std::string& version, const std::string& name, const std::string& state,
                                      int32_t out_dtype = 10) {
  Bytes f;
  f.str(version).i32(1).b(true);
  if (has_metadata(version)) f.str("{\"k\":1}");
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
  static const uint8_t sizes[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 2, 8};
  f.u64(0).shape({2, 3}).dtype(out_dtype, sizes[out_dtype]);
  return f.s;
}

inline mlx::formats::mlxfn::Function parse(const std::string& s) {
  return mlx::formats::mlxfn::parse(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "test.mlxfn");
}

}  // namespace mlxfn_test
