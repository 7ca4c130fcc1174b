#include "graph/tensor.h"

#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"

namespace mlx::graph {

namespace mx = formats::mlxfn;

bool is_floating(MxDtype d) { return d.val == 9 || d.val == 10 || d.val == 11 || d.val == 12; }
Store natural_store(MxDtype d) { return is_floating(d) ? Store::F32 : Store::I64; }

namespace {

size_t store_bytes(Store s, MxDtype d) { return s == Store::F32 ? 4 : s == Store::I64 ? 8 : d.size; }

std::shared_ptr<uint8_t[]> new_buffer(size_t bytes) {
  // Uninitialized; operator new[] gives 16-byte alignment, enough for float/int64 and SIMD loads.
  return std::shared_ptr<uint8_t[]>(new uint8_t[bytes ? bytes : 1]);
}

// Raw element i of dtype d widened to int64 (integers) or double (floats).
int64_t raw_int(const uint8_t* p, MxDtype d, int64_t i) {
  auto ld = [&]<class T>(T) {
    T x;
    std::memcpy(&x, p + size_t(i) * sizeof(T), sizeof(T));
    return int64_t(x);
  };
  switch (d.val) {
    case 0: return p[i] != 0;
    case 1: return ld(uint8_t{});
    case 2: return ld(uint16_t{});
    case 3: return ld(uint32_t{});
    case 4: return ld(uint64_t{});
    case 5: return ld(int8_t{});
    case 6: return ld(int16_t{});
    case 7: return ld(int32_t{});
    case 8: return ld(int64_t{});
    default: fail("raw integer access to dtype {}", mx::mx_dtype_name(d));
  }
}

float raw_float(const uint8_t* p, MxDtype d, int64_t i) {
  uint16_t h;
  switch (d.val) {
    case 9: std::memcpy(&h, p + 2 * i, 2); return f16_to_f32(h);
    case 12: std::memcpy(&h, p + 2 * i, 2); return bf16_to_f32(h);
    case 10: { float f; std::memcpy(&f, p + 4 * i, 4); return f; }
    case 11: { double f; std::memcpy(&f, p + 8 * i, 8); return float(f); }
    default: return float(raw_int(p, d, i));
  }
}

// Integer wrap to dtype d (two's complement truncation, as a C cast).
int64_t wrap_int(int64_t x, MxDtype d) {
  switch (d.val) {
    case 0: return x != 0;
    case 1: return uint8_t(x);
    case 2: return uint16_t(x);
    case 3: return uint32_t(x);
    case 5: return int8_t(x);
    case 6: return int16_t(x);
    case 7: return int32_t(x);
    default: return x;
  }
}

int64_t float_to_int(float x, MxDtype d) {
  if (d.val == 0) return x != 0;
  if (!std::isfinite(x)) return 0;
  double t = std::trunc(double(x));
  if (t >= 9.2e18 || t <= -9.2e18) return 0;
  return wrap_int(int64_t(t), d);
}

float round_float(float x, MxDtype d) {
  if (d.val == 12) return bf16_to_f32(f32_to_bf16(x));
  if (d.val == 9) return f16_to_f32(f32_to_f16(x));
  return x;
}

bool needs_float_rounding(MxDtype d) { return d.val == 9 || d.val == 12; }
bool needs_int_wrap(MxDtype d) { return d.val != 4 && d.val != 8; }

}  // namespace

Tensor::Tensor(Dims s, MxDtype d, const std::vector<double>& v) {
  *this = alloc(std::move(s), d);
  if (int64_t(v.size()) != numel()) fail("tensor of shape {} given {} values", dims_string(shape), v.size());
  if (store == Store::F32) {
    float* p = f32_mut();
    for (size_t i = 0; i < v.size(); ++i) p[i] = round_float(float(v[i]), d);
  } else {
    int64_t* p = i64_mut();
    for (size_t i = 0; i < v.size(); ++i) p[i] = d.val == 0 ? v[i] != 0 : std::isfinite(v[i]) ? wrap_int(int64_t(std::trunc(v[i])), d) : 0;
  }
}

Tensor Tensor::alloc(Dims s, MxDtype d) {
  for (int64_t x : s)
    if (x < 0) fail("negative dimension in shape {}", dims_string(s));
  Tensor t;
  t.shape = std::move(s);
  t.dtype = d;
  t.store = natural_store(d);
  auto buf = new_buffer(t.nbytes());
  t.data = buf.get();
  t.hold = std::move(buf);
  return t;
}

Tensor Tensor::zeros(Dims s, MxDtype d) {
  Tensor t = alloc(std::move(s), d);
  std::memset(const_cast<uint8_t*>(t.data), 0, t.nbytes());
  return t;
}

Tensor Tensor::of_f32(Dims s, MxDtype d, std::vector<float> v) {
  if (!is_floating(d)) fail("of_f32 with dtype {}", mx::mx_dtype_name(d));
  if (int64_t(v.size()) != graph::numel(s)) fail("tensor of shape {} given {} values", dims_string(s), v.size());
  if (needs_float_rounding(d))
    for (float& x : v) x = round_float(x, d);
  auto owned = std::make_shared<std::vector<float>>(std::move(v));
  Tensor t;
  t.shape = std::move(s);
  t.dtype = d;
  t.store = Store::F32;
  t.data = reinterpret_cast<const uint8_t*>(owned->data());
  t.hold = std::move(owned);
  return t;
}

Tensor Tensor::view(Dims s, MxDtype d, Store st, std::shared_ptr<const void> keep, const void* p) {
  Tensor t;
  t.shape = std::move(s);
  t.dtype = d;
  t.store = st;
  t.hold = std::move(keep);
  t.data = static_cast<const uint8_t*>(p);
  return t;
}

int64_t Tensor::numel() const { return graph::numel(shape); }
size_t Tensor::elem_bytes() const { return store_bytes(store, dtype); }

const float* Tensor::f32() const {
  if (store != Store::F32) fail("internal: float access to a {} tensor not held as float", mx::mx_dtype_name(dtype));
  return reinterpret_cast<const float*>(data);
}

const int64_t* Tensor::i64() const {
  if (store != Store::I64) fail("internal: integer access to a {} tensor not held as int64", mx::mx_dtype_name(dtype));
  return reinterpret_cast<const int64_t*>(data);
}

double Tensor::at(int64_t i) const {
  switch (store) {
    case Store::F32: return f32()[i];
    case Store::I64: return double(i64()[i]);
    default: return is_floating(dtype) ? double(raw_float(data, dtype, i)) : double(raw_int(data, dtype, i));
  }
}

std::vector<double> Tensor::values() const {
  std::vector<double> v(static_cast<size_t>(numel()), 0.0);
  for (size_t i = 0; i < v.size(); ++i) v[i] = at(int64_t(i));
  return v;
}

std::vector<float> Tensor::floats() const {
  std::vector<float> v(static_cast<size_t>(numel()), 0.0f);
  if (store == Store::F32) std::memcpy(v.data(), data, v.size() * 4);
  else
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(at(int64_t(i)));
  return v;
}

Tensor Tensor::reshaped(Dims s) const {
  if (graph::numel(s) != numel()) fail("internal: reshape of {} to {}", dims_string(shape), dims_string(s));
  Tensor t = *this;
  t.shape = std::move(s);
  return t;
}

Tensor as_store(const Tensor& t, Store s) {
  if (t.store == s) return t;
  if (s == Store::Raw) fail("internal: conversion to raw storage");
  Tensor o;
  o.shape = t.shape;
  o.dtype = t.dtype;
  o.store = s;
  auto buf = new_buffer(size_t(t.numel()) * store_bytes(s, t.dtype));
  o.data = buf.get();
  o.hold = std::move(buf);
  int64_t n = t.numel();
  if (s == Store::F32) {
    float* p = o.f32_mut();
    if (t.store == Store::I64)
      for (int64_t i = 0; i < n; ++i) p[i] = float(t.i64()[i]);
    else if (t.dtype.val == 10) std::memcpy(p, t.data, size_t(n) * 4);
    else if (t.dtype.val == 12) to_f32(t.data, DType::BF16, p, size_t(n));
    else if (t.dtype.val == 9) to_f32(t.data, DType::F16, p, size_t(n));
    else
      for (int64_t i = 0; i < n; ++i) p[i] = raw_float(t.data, t.dtype, i);
  } else {
    int64_t* p = o.i64_mut();
    if (t.store == Store::F32)
      for (int64_t i = 0; i < n; ++i) p[i] = float_to_int(t.f32()[i], MxDtype{8, 8});
    else if (is_floating(t.dtype))
      for (int64_t i = 0; i < n; ++i) p[i] = float_to_int(raw_float(t.data, t.dtype, i), MxDtype{8, 8});
    else
      for (int64_t i = 0; i < n; ++i) p[i] = raw_int(t.data, t.dtype, i);
  }
  return o;
}

void convert_to(Tensor& t, MxDtype d) {
  if (t.store == Store::Raw) {
    if (t.dtype == d) return;
    t = as_store(t, natural_store(t.dtype));
  }
  const int64_t n = t.numel();
  Store want = natural_store(d);
  if (want != t.store) {
    // Change of storage: a fresh buffer either way.
    Tensor o = Tensor::alloc(t.shape, d);
    if (want == Store::F32) {
      float* p = o.f32_mut();
      for (int64_t i = 0; i < n; ++i) p[i] = round_float(float(t.i64()[i]), d);
    } else {
      int64_t* p = o.i64_mut();
      for (int64_t i = 0; i < n; ++i) p[i] = float_to_int(t.f32()[i], d);
    }
    t = std::move(o);
    return;
  }
  bool work = want == Store::F32 ? needs_float_rounding(d) : needs_int_wrap(d);
  t.dtype = d;
  if (!work || n == 0) return;
  if (t.hold.use_count() != 1) {  // shared (a view of an input or constant): round into a copy
    Tensor o = Tensor::alloc(t.shape, d);
    std::memcpy(const_cast<uint8_t*>(o.data), t.data, t.nbytes());
    t = std::move(o);
  }
  if (want == Store::F32) {
    float* p = t.f32_mut();
    for (int64_t i = 0; i < n; ++i) p[i] = round_float(p[i], d);
  } else {
    int64_t* p = t.i64_mut();
    for (int64_t i = 0; i < n; ++i) p[i] = wrap_int(p[i], d);
  }
}

void round_to(Tensor& t) { convert_to(t, t.dtype); }

Tensor aligned_for_compute(const Tensor& t) {
  if (t.store != Store::Raw) return t;
  if (is_floating(t.dtype)) return as_store(t, Store::F32);
  if (reinterpret_cast<uintptr_t>(t.data) % t.dtype.size == 0) return t;
  auto buf = new_buffer(t.nbytes());
  std::memcpy(buf.get(), t.data, t.nbytes());
  const uint8_t* d = buf.get();
  return Tensor::view(t.shape, t.dtype, Store::Raw, std::move(buf), d);
}

static void check_bytes(size_t nbytes, const Dims& shape, MxDtype dtype, const std::string& what) {
  if (dtype.val < 0 || dtype.val > 12) fail("{}: unsupported dtype {}", what, mx::mx_dtype_name(dtype));
  for (int64_t d : shape)
    if (d < 0) fail("{}: negative dimension in shape {}", what, dims_string(shape));
  if (uint64_t(numel(shape)) * dtype.size != nbytes) fail("{}: {} bytes for shape {}", what, nbytes, dims_string(shape));
}

Tensor from_bytes(const uint8_t* p, size_t nbytes, const Dims& shape, MxDtype dtype, const std::string& what) {
  check_bytes(nbytes, shape, dtype, what);
  if (is_floating(dtype)) {
    Tensor t = Tensor::alloc(shape, dtype);
    if (dtype.val == 10) {
      std::memcpy(const_cast<uint8_t*>(t.data), p, nbytes);
    } else {
      float* o = t.f32_mut();
      if (dtype.val == 12) to_f32(p, DType::BF16, o, size_t(t.numel()));
      else if (dtype.val == 9) to_f32(p, DType::F16, o, size_t(t.numel()));
      else
        for (int64_t i = 0; i < t.numel(); ++i) o[i] = raw_float(p, dtype, i);
    }
    return t;
  }
  auto buf = new_buffer(nbytes);
  std::memcpy(buf.get(), p, nbytes);
  const uint8_t* d = buf.get();
  return Tensor::view(shape, dtype, Store::Raw, std::move(buf), d);
}

Tensor view_bytes(const uint8_t* p, size_t nbytes, const Dims& shape, MxDtype dtype, std::shared_ptr<const void> keep,
                  const std::string& what) {
  check_bytes(nbytes, shape, dtype, what);
  if (dtype.val == 10 && reinterpret_cast<uintptr_t>(p) % 4 == 0) return Tensor::view(shape, dtype, Store::F32, std::move(keep), p);
  return Tensor::view(shape, dtype, Store::Raw, std::move(keep), p);
}

std::string to_bytes(const Tensor& t) {
  const int64_t n = t.numel();
  if (t.store == Store::Raw) return std::string(reinterpret_cast<const char*>(t.data), t.nbytes());
  std::string out(size_t(n) * t.dtype.size, '\0');
  char* p = out.data();
  if (t.store == Store::F32) {
    const float* s = t.f32();
    switch (t.dtype.val) {
      case 10: std::memcpy(p, s, size_t(n) * 4); break;
      case 12: from_f32(s, DType::BF16, p, size_t(n)); break;
      case 9: from_f32(s, DType::F16, p, size_t(n)); break;
      case 11:
        for (int64_t i = 0; i < n; ++i) {
          double x = s[i];
          std::memcpy(p + 8 * i, &x, 8);
        }
        break;
      default: fail("cannot store dtype {}", mx::mx_dtype_name(t.dtype));
    }
    return out;
  }
  const int64_t* s = t.i64();
  auto store = [&]<class T>(T) {
    for (int64_t i = 0; i < n; ++i) {
      T x = T(s[i]);
      std::memcpy(p + i * sizeof(T), &x, sizeof(T));
    }
  };
  switch (t.dtype.val) {
    case 0: for (int64_t i = 0; i < n; ++i) p[i] = s[i] != 0; break;
    case 1: store(uint8_t{}); break;
    case 2: store(uint16_t{}); break;
    case 3: store(uint32_t{}); break;
    case 4: store(uint64_t{}); break;
    case 5: store(int8_t{}); break;
    case 6: store(int16_t{}); break;
    case 7: store(int32_t{}); break;
    case 8: store(int64_t{}); break;
    default: fail("cannot store dtype {}", mx::mx_dtype_name(t.dtype));
  }
  return out;
}

}  // namespace mlx::graph
