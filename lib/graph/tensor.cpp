#include "graph/tensor.h"

#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"

namespace mlx::graph {

int64_t numel(const Dims& d) {
  int64_t n = 1;
  for (int64_t x : d) n *= x;
  return n;
}

std::string dims_string(const Dims& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

namespace {
template <class T>
double wrap(double x) {
  if (!std::isfinite(x)) return 0;
  return double(T(int64_t(x)));
}
}  // namespace

void round_to(Tensor& t) {
  switch (t.dtype.val) {
    case 0: for (double& x : t.v) x = x != 0 ? 1 : 0; break;
    case 1: for (double& x : t.v) x = wrap<uint8_t>(x); break;
    case 2: for (double& x : t.v) x = wrap<uint16_t>(x); break;
    case 3: for (double& x : t.v) x = wrap<uint32_t>(x); break;
    case 5: for (double& x : t.v) x = wrap<int8_t>(x); break;
    case 6: for (double& x : t.v) x = wrap<int16_t>(x); break;
    case 7: for (double& x : t.v) x = wrap<int32_t>(x); break;
    case 4: case 8: for (double& x : t.v) x = std::isfinite(x) ? std::trunc(x) : 0; break;
    case 9: for (double& x : t.v) x = f16_to_f32(f32_to_f16(float(x))); break;
    case 10: for (double& x : t.v) x = float(x); break;
    case 12: for (double& x : t.v) x = bf16_to_f32(f32_to_bf16(float(x))); break;
    default: break;
  }
}

Tensor from_bytes(const uint8_t* p, size_t nbytes, const Dims& shape, MxDtype dtype, const std::string& what) {
  Tensor t{shape, dtype, {}};
  int64_t n = numel(shape);
  if (uint64_t(n) * dtype.size != nbytes) fail("{}: {} bytes for shape {}", what, nbytes, dims_string(shape));
  t.v.resize(n);
  auto load = [&]<class T>(T) {
    for (int64_t i = 0; i < n; ++i) {
      T x;
      std::memcpy(&x, p + i * sizeof(T), sizeof(T));
      t.v[i] = double(x);
    }
  };
  switch (dtype.val) {
    case 0: case 1: load(uint8_t{}); break;
    case 2: load(uint16_t{}); break;
    case 3: load(uint32_t{}); break;
    case 4: load(uint64_t{}); break;
    case 5: load(int8_t{}); break;
    case 6: load(int16_t{}); break;
    case 7: load(int32_t{}); break;
    case 8: load(int64_t{}); break;
    case 10: load(float{}); break;
    case 11: load(double{}); break;
    case 9:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        t.v[i] = f16_to_f32(h);
      }
      break;
    case 12:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        t.v[i] = bf16_to_f32(h);
      }
      break;
    default: fail("{}: unsupported dtype {}", what, formats::mlxfn::mx_dtype_name(dtype));
  }
  return t;
}

std::string to_bytes(const Tensor& t) {
  std::string out(t.v.size() * t.dtype.size, '\0');
  char* p = out.data();
  auto store = [&]<class T>(T) {
    for (size_t i = 0; i < t.v.size(); ++i) {
      T x = T(t.v[i]);
      std::memcpy(p + i * sizeof(T), &x, sizeof(T));
    }
  };
  switch (t.dtype.val) {
    case 0: case 1: store(uint8_t{}); break;
    case 2: store(uint16_t{}); break;
    case 3: store(uint32_t{}); break;
    case 4: store(uint64_t{}); break;
    case 5: store(int8_t{}); break;
    case 6: store(int16_t{}); break;
    case 7: store(int32_t{}); break;
    case 8: store(int64_t{}); break;
    case 10: store(float{}); break;
    case 11: store(double{}); break;
    case 9:
      for (size_t i = 0; i < t.v.size(); ++i) {
        uint16_t h = f32_to_f16(float(t.v[i]));
        std::memcpy(p + 2 * i, &h, 2);
      }
      break;
    case 12:
      for (size_t i = 0; i < t.v.size(); ++i) {
        uint16_t h = f32_to_bf16(float(t.v[i]));
        std::memcpy(p + 2 * i, &h, 2);
      }
      break;
    default: fail("cannot store dtype {}", formats::mlxfn::mx_dtype_name(t.dtype));
  }
  return out;
}

}  // namespace mlx::graph
