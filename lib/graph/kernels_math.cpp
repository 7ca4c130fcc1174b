// Elementwise (with broadcasting), Reduce, Scan and Softmax primitives. Floating inputs are computed in float32,
// all-integer inputs in int64; the result is then stored as the tape's dtype (bf16/f16 rounding, integer wrap).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "core/thread_pool.h"
#include "graph/kernels_impl.h"

namespace mlx::graph::detail {

namespace {

constexpr MxDtype kF32{10, 4};
constexpr MxDtype kI64{8, 8};

// out = f(x0, x1, ...) over the broadcast shape of the inputs, all held as T (float or int64_t).
// `heavy`: transcendental work per element. Cheap ops are memory-bound and only worth the thread pool's wake-up
// (milliseconds when the machine is oversubscribed) on large arrays.
template <class T, size_t N, class F>
Tensor nary(const Ctx& c, F f, bool heavy = false) {
  if (c.in.size() != N) fail("{}: {} needs {} inputs, has {}", c.file, c.name, N, c.in.size());
  constexpr Store S = std::is_same_v<T, float> ? Store::F32 : Store::I64;
  std::array<Tensor, N> x;
  std::vector<Dims> shapes;
  for (size_t k = 0; k < N; ++k) {
    x[k] = as_store(*c.in[k], S);
    shapes.push_back(x[k].shape);
  }
  Dims s = broadcast_shapes(shapes, c);
  Tensor out = Tensor::alloc(s, S == Store::F32 ? kF32 : kI64);
  T* o = reinterpret_cast<T*>(const_cast<uint8_t*>(out.data));
  std::array<const T*, N> p;
  for (size_t k = 0; k < N; ++k) p[k] = reinterpret_cast<const T*>(x[k].data);
  const int64_t total = numel(s);
  if (total == 0) return out;
  bool flat = true;
  for (size_t k = 0; k < N; ++k) flat &= x[k].shape == s || x[k].numel() == total;
  if (flat) {
    auto run = [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) {
        if constexpr (N == 1) o[j] = f(p[0][j]);
        else if constexpr (N == 2) o[j] = f(p[0][j], p[1][j]);
        else o[j] = f(p[0][j], p[1][j], p[2][j]);
      }
    };
    if (big(heavy ? total : total >> 4)) parallel_for(total, run);
    else run(0, total);
    return out;
  }
  // Broadcast: rows over all dims but the last, each operand's inner stride 0 or 1.
  std::array<Dims, N> st;
  for (size_t k = 0; k < N; ++k) st[k] = broadcast_strides(x[k].shape, s, c);
  const size_t nd = s.size();
  const int64_t inner = s.back(), rows = total / inner;
  auto run = [&](int64_t r0, int64_t r1) {
    Dims idx(nd - 1, 0);
    int64_t rem = r0;
    for (int64_t i = int64_t(nd) - 2; i >= 0; --i) {
      idx[i] = rem % s[i];
      rem /= s[i];
    }
    for (int64_t r = r0; r < r1; ++r) {
      std::array<int64_t, N> base{};
      for (size_t k = 0; k < N; ++k)
        for (size_t i = 0; i + 1 < nd; ++i) base[k] += idx[i] * st[k][i];
      T* orow = o + r * inner;
      for (int64_t j = 0; j < inner; ++j) {
        if constexpr (N == 1) orow[j] = f(p[0][base[0] + j * st[0][nd - 1]]);
        else if constexpr (N == 2) orow[j] = f(p[0][base[0] + j * st[0][nd - 1]], p[1][base[1] + j * st[1][nd - 1]]);
        else
          orow[j] = f(p[0][base[0] + j * st[0][nd - 1]], p[1][base[1] + j * st[1][nd - 1]], p[2][base[2] + j * st[2][nd - 1]]);
      }
      for (int64_t i = int64_t(nd) - 2; i >= 0; --i) {
        if (++idx[i] < s[i]) break;
        idx[i] = 0;
      }
    }
  };
  if (big(heavy ? total : total >> 4) && rows > 1) parallel_for(rows, run);
  else run(0, rows);
  return out;
}

bool all_int(const Ctx& c) {
  for (const Tensor* t : c.in)
    if (is_floating(t->dtype)) return false;
  return !c.in.empty();
}

float sigmoidf(float x) { return 1.0f / (1.0f + std::exp(-x)); }

using UF = float (*)(float);
const std::pair<const char*, UF> kUnary[] = {
    {"Abs", [](float x) { return std::fabs(x); }},
    {"Negative", [](float x) { return -x; }},
    {"Exp", [](float x) { return std::exp(x); }},
    {"Sigmoid", sigmoidf},
    {"Square", [](float x) { return x * x; }},
    {"Cos", [](float x) { return std::cos(x); }},
    {"Sin", [](float x) { return std::sin(x); }},
    {"Tanh", [](float x) { return std::tanh(x); }},
    {"Erf", [](float x) { return std::erf(x); }},
    {"Floor", [](float x) { return std::floor(x); }},
    {"Ceil", [](float x) { return std::ceil(x); }},
    {"Round", [](float x) { return std::nearbyint(x); }},
    {"Sign", [](float x) { return float((x > 0) - (x < 0)); }},
    {"Log1p", [](float x) { return std::log1p(x); }},
    {"LogicalNot", [](float x) { return float(x == 0); }},
    {"Expm1", [](float x) { return std::expm1(x); }},
    {"Sinh", [](float x) { return std::sinh(x); }},
    {"Cosh", [](float x) { return std::cosh(x); }},
    {"Tan", [](float x) { return std::tan(x); }},
    {"ArcTan", [](float x) { return std::atan(x); }},
    {"ArcSin", [](float x) { return std::asin(x); }},
    {"ArcCos", [](float x) { return std::acos(x); }},
    {"ArcSinh", [](float x) { return std::asinh(x); }},
    {"ArcCosh", [](float x) { return std::acosh(x); }},
    {"ArcTanh", [](float x) { return std::atanh(x); }},
};

// Binary ops as generic lambdas, instantiated for float and int64.
template <class T>
bool binary(const std::string& n, const Ctx& c, Tensor& out) {
  auto go = [&](auto f) {
    out = nary<T, 2>(c, f);
    return true;
  };
  if (n == "Add") return go([](T a, T b) { return T(a + b); });
  if (n == "Subtract") return go([](T a, T b) { return T(a - b); });
  if (n == "Multiply") return go([](T a, T b) { return T(a * b); });
  if (n == "Maximum") return go([](T a, T b) { return a != a ? a : std::max(a, b); });
  if (n == "Minimum") return go([](T a, T b) { return a != a ? a : std::min(a, b); });
  if (n == "Equal") {
    // State: equal_nan (a NaN equals a NaN when set).
    bool nan_eq = !c.e.state.empty() && c.i(0);
    return go([nan_eq](T a, T b) { return T(a == b || (nan_eq && a != a && b != b)); });
  }
  if (n == "NotEqual") return go([](T a, T b) { return T(a != b); });
  if (n == "Less") return go([](T a, T b) { return T(a < b); });
  if (n == "LessEqual") return go([](T a, T b) { return T(a <= b); });
  if (n == "Greater") return go([](T a, T b) { return T(a > b); });
  if (n == "GreaterEqual") return go([](T a, T b) { return T(a >= b); });
  if (n == "LogicalAnd") return go([](T a, T b) { return T(a != 0 && b != 0); });
  if (n == "LogicalOr") return go([](T a, T b) { return T(a != 0 || b != 0); });
  if constexpr (std::is_same_v<T, float>) {
    if (n == "Power") return go([](float a, float b) { return std::pow(a, b); });
    if (n == "Divide") return go([](float a, float b) { return a / b; });
    if (n == "ArcTan2") return go([](float a, float b) { return std::atan2(a, b); });
    if (n == "Remainder")
      return go([](float a, float b) {
        float r = std::fmod(a, b);
        return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
      });
    if (n == "LogAddExp")
      return go([](float a, float b) {
        float m = std::max(a, b);
        return std::isinf(m) ? m : m + std::log1p(std::exp(-std::fabs(a - b)));
      });
  } else {
    if (n == "Power")
      return go([](int64_t a, int64_t b) {
        int64_t r = 1;
        for (int64_t k = 0; k < b && k < 64; ++k) r *= a;
        return r;
      });
    if (n == "Divide")  // C++ integer division (truncates toward zero), as MLX's CPU Divide; x / 0 -> 0 here
      return go([](int64_t a, int64_t b) { return b == 0 ? int64_t(0) : a / b; });
    if (n == "Remainder")
      return go([](int64_t a, int64_t b) {
        if (b == 0) return int64_t(0);
        int64_t r = a % b;
        return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
      });
    if (n == "BitwiseBinary") {
      int64_t op = c.i(0);  // And, Or, Xor, LeftShift, RightShift
      return go([op](int64_t a, int64_t b) {
        uint64_t x = uint64_t(a), y = uint64_t(b);
        uint64_t r = op == 0 ? (x & y) : op == 1 ? (x | y) : op == 2 ? (x ^ y) : op == 3 ? (y >= 64 ? 0 : x << y) : (y >= 64 ? 0 : x >> y);
        return int64_t(r);
      });
    }
  }
  return false;
}

template <class T>
Tensor reduce(const Tensor& x, const std::vector<bool>& red, int64_t type) {
  Dims os = x.shape;
  for (size_t i = 0; i < os.size(); ++i)
    if (red[i]) os[i] = 1;
  const int64_t on = numel(os);
  // Accumulate in double (float sums) / int64, one output at a time over its reduced elements.
  std::vector<double> acc(size_t(on), type == 0 || type == 3 ? 1 : type == 4 ? INFINITY : type == 5 ? -INFINITY : 0);
  Dims ost = strides_of(os);
  const size_t nd = x.shape.size();
  const T* p = reinterpret_cast<const T*>(x.data);
  Dims idx(nd, 0);
  const int64_t n = x.numel();
  for (int64_t j = 0; j < n; ++j) {
    int64_t o = 0;
    for (size_t i = 0; i < nd; ++i)
      if (!red[i]) o += idx[i] * ost[i];
    double& r = acc[size_t(o)];
    double v = double(p[j]);
    switch (type) {
      case 0: r = (r != 0 && v != 0); break;
      case 1: r = (r != 0 || v != 0); break;
      case 2: r += v; break;
      case 3: r *= v; break;
      case 4: r = (v < r || v != v) ? v : r; break;
      default: r = (v > r || v != v) ? v : r; break;
    }
    for (int64_t i = int64_t(nd) - 1; i >= 0; --i) {
      if (++idx[i] < x.shape[i]) break;
      idx[i] = 0;
    }
  }
  Tensor out = Tensor::alloc(os, std::is_same_v<T, float> ? kF32 : kI64);
  for (int64_t j = 0; j < on; ++j) {
    if constexpr (std::is_same_v<T, float>) out.f32_mut()[j] = float(acc[size_t(j)]);
    else out.i64_mut()[j] = int64_t(acc[size_t(j)]);
  }
  return out;
}

}  // namespace

std::vector<Tensor> eval_math(const std::string& n, const Ctx& c) {
  auto need = [&](size_t k) {
    if (c.in.size() != k) fail("{}: {} needs {} inputs, has {}", c.file, n, k, c.in.size());
  };
  // The hot ones (SiLU's sigmoid, softmax-like exp) inlined rather than called through the table's pointer.
  if (n == "Sigmoid" && c.in.size() == 1) return {nary<float, 1>(c, [](float a) { return 1.0f / (1.0f + std::exp(-a)); }, true)};
  if (n == "Exp" && c.in.size() == 1) return {nary<float, 1>(c, [](float a) { return std::exp(a); }, true)};
  for (auto& [name, fn] : kUnary)
    if (n == name) {
      need(1);
      if (n == "Negative" && all_int(c)) return {nary<int64_t, 1>(c, [](int64_t a) { return -a; })};
      if (n == "Abs" && all_int(c)) return {nary<int64_t, 1>(c, [](int64_t a) { return a < 0 ? -a : a; })};
      if (n == "LogicalNot" && all_int(c)) return {nary<int64_t, 1>(c, [](int64_t a) { return int64_t(a == 0); })};
      UF f = fn;
      return {nary<float, 1>(c, [f](float a) { return f(a); }, true)};
    }
  if (n == "Sqrt") {
    need(1);
    bool recip = c.i(0);
    if (recip) return {nary<float, 1>(c, [](float a) { return 1.0f / std::sqrt(a); })};
    return {nary<float, 1>(c, [](float a) { return std::sqrt(a); })};
  }
  if (n == "Log") {
    need(1);
    int64_t base = c.i(0);  // MLX enum Base {two, ten, e}
    if (base == 0) return {nary<float, 1>(c, [](float a) { return std::log2(a); })};
    if (base == 1) return {nary<float, 1>(c, [](float a) { return std::log10(a); })};
    return {nary<float, 1>(c, [](float a) { return std::log(a); })};
  }
  if (n == "Select") {
    need(3);
    bool ints = !is_floating(c.in[1]->dtype) && !is_floating(c.in[2]->dtype);
    if (ints) return {nary<int64_t, 3>(c, [](int64_t s, int64_t a, int64_t b) { return s != 0 ? a : b; })};
    return {nary<float, 3>(c, [](float s, float a, float b) { return s != 0 ? a : b; })};
  }
  {
    Tensor out;
    if (c.in.size() == 2 && (all_int(c) ? binary<int64_t>(n, c, out) : binary<float>(n, c, out))) return {out};
    if (n == "BitwiseBinary" && c.in.size() == 2 && binary<int64_t>(n, c, out)) return {out};
  }
  if (n == "Reduce") {
    need(1);
    int64_t type = c.i(0);  // And, Or, Sum, Prod, Min, Max
    const Tensor& x = *c.in[0];
    std::vector<bool> red(x.shape.size());
    for (int64_t a : c.vec(1)) red[norm_axis(a, x.shape.size(), c)] = true;
    if (all_int(c)) return {reduce<int64_t>(c.iin(0), red, type)};
    return {reduce<float>(c.fin(0), red, type)};
  }
  if (n == "Scan") {
    need(1);
    int64_t type = c.i(0);  // Max, Min, Sum, Prod, LogAddExp
    bool reverse = c.i(2), inclusive = c.i(3);
    bool ints = all_int(c) && type != 4;
    Tensor src = ints ? c.iin(0) : c.fin(0);
    Tensor out = strided_copy(src, src.shape, strides_of(src.shape), 0);
    int64_t ax = norm_axis(c.i(1), out.shape.size(), c);
    lanes(out.shape, ax, [&](int64_t base, int64_t stride, int64_t len) {
      double acc = type == 0 ? -INFINITY : type == 1 ? INFINITY : type == 3 ? 1 : type == 4 ? -INFINITY : 0;
      for (int64_t step = 0; step < len; ++step) {
        int64_t j = base + (reverse ? len - 1 - step : step) * stride;
        double v = ints ? double(out.i64()[j]) : double(out.f32()[j]);
        double before = acc;
        switch (type) {
          case 0: acc = std::max(acc, v); break;
          case 1: acc = std::min(acc, v); break;
          case 2: acc += v; break;
          case 3: acc *= v; break;
          default: acc = std::isinf(std::max(acc, v)) ? std::max(acc, v) : std::max(acc, v) + std::log1p(std::exp(-std::fabs(acc - v))); break;
        }
        double w = inclusive ? acc : before;
        if (ints) out.i64_mut()[j] = int64_t(w);
        else out.f32_mut()[j] = float(w);
      }
    });
    return {out};
  }
  if (n == "Softmax") {
    need(1);
    Tensor x = c.fin(0);
    Tensor out = Tensor::alloc(x.shape, kF32);
    int64_t d = x.shape.empty() ? 1 : x.shape.back();
    int64_t rows = d > 0 ? x.numel() / d : 0;
    auto run = [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* p = x.f32() + r * d;
        float* o = out.f32_mut() + r * d;
        float m = *std::max_element(p, p + d);
        double s = 0;
        for (int64_t j = 0; j < d; ++j) s += (o[j] = std::exp(p[j] - m));
        float inv = float(1.0 / s);
        for (int64_t j = 0; j < d; ++j) o[j] *= inv;
      }
    };
    if (big(x.numel())) parallel_for(rows, run);
    else run(0, rows);
    return {out};
  }
  return {};
}

}  // namespace mlx::graph::detail
