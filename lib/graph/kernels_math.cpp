// Elementwise, Matmul/AddMM, Reduce, Softmax primitives (float math in double, rounded to the output dtype).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

#include "graph/kernels_impl.h"

namespace mlx::graph::detail {

namespace {

Dims broadcast_shape(const std::vector<const Tensor*>& in, const Ctx& c) {
  size_t n = 0;
  for (auto* t : in) n = std::max(n, t->shape.size());
  Dims s(n, 1);
  for (auto* t : in) {
    size_t off = n - t->shape.size();
    for (size_t i = 0; i < t->shape.size(); ++i) {
      int64_t d = t->shape[i];
      if (s[off + i] == 1) s[off + i] = d;
      else if (d != 1 && d != s[off + i]) fail("{}: {} shapes do not broadcast", c.file, c.name);
    }
  }
  return s;
}

std::vector<Tensor> nary(const Ctx& c, const std::function<double(const double*)>& fn) {
  Dims s = broadcast_shape(c.in, c);
  std::vector<Tensor> b;
  for (auto* t : c.in) b.push_back(t->shape == s ? *t : broadcast_to(*t, s, c));
  Tensor out{s, c.out_dtype(0), std::vector<double>(numel(s))};
  double args[3];
  for (size_t j = 0; j < out.v.size(); ++j) {
    for (size_t k = 0; k < b.size(); ++k) args[k] = b[k].v[j];
    out.v[j] = fn(args);
  }
  return {out};
}

bool is_int(MxDtype d) { return d.val >= 0 && d.val <= 8; }

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

std::vector<Tensor> eval_math(const std::string& n, const Ctx& c) {
  using F = std::function<double(const double*)>;
  auto need = [&](size_t k) {
    if (c.in.size() != k) fail("{}: {} needs {} inputs, has {}", c.file, n, k, c.in.size());
  };
  static const std::pair<const char*, double (*)(double)> unary[] = {
      {"Abs", [](double x) { return std::fabs(x); }},
      {"Negative", [](double x) { return -x; }},
      {"Exp", [](double x) { return std::exp(float(x)) * 1.0; }},
      {"Sigmoid", [](double x) { return double(float(sigmoid(x))); }},
      {"Square", [](double x) { return x * x; }},
      {"Cos", [](double x) { return double(std::cos(float(x))); }},
      {"Sin", [](double x) { return double(std::sin(float(x))); }},
      {"Tanh", [](double x) { return std::tanh(x); }},
      {"Erf", [](double x) { return std::erf(x); }},
      {"Floor", [](double x) { return std::floor(x); }},
      {"Ceil", [](double x) { return std::ceil(x); }},
      {"Round", [](double x) { return std::nearbyint(x); }},
      {"Sign", [](double x) { return double((x > 0) - (x < 0)); }},
      {"Log1p", [](double x) { return std::log1p(x); }},
      {"LogicalNot", [](double x) { return double(x == 0); }},
      {"Expm1", [](double x) { return std::expm1(x); }},
      {"Sinh", [](double x) { return std::sinh(x); }},
      {"Cosh", [](double x) { return std::cosh(x); }},
      {"Tan", [](double x) { return std::tan(x); }},
      {"ArcTan", [](double x) { return std::atan(x); }},
      {"ArcSin", [](double x) { return std::asin(x); }},
      {"ArcCos", [](double x) { return std::acos(x); }},
      {"ArcSinh", [](double x) { return std::asinh(x); }},
      {"ArcCosh", [](double x) { return std::acosh(x); }},
      {"ArcTanh", [](double x) { return std::atanh(x); }},
  };
  for (auto& [name, fn] : unary)
    if (n == name) {
      need(1);
      auto f = fn;
      return nary(c, [f](const double* a) { return f(a[0]); });
    }
  if (n == "Sqrt") {
    need(1);
    bool recip = c.i(0);
    return nary(c, [recip](const double* a) { return recip ? 1.0 / std::sqrt(a[0]) : std::sqrt(a[0]); });
  }
  if (n == "Log") {
    need(1);
    int64_t base = c.i(0);  // 0 e, 1 two, 2 ten
    return nary(c, [base](const double* a) { return base == 1 ? std::log2(a[0]) : base == 2 ? std::log10(a[0]) : std::log(a[0]); });
  }
  bool ints = !c.in.empty() && is_int(c.in[0]->dtype);
  static const std::pair<const char*, double (*)(double, double)> binary[] = {
      {"Add", [](double a, double b) { return a + b; }},
      {"Subtract", [](double a, double b) { return a - b; }},
      {"Multiply", [](double a, double b) { return a * b; }},
      {"Maximum", [](double a, double b) { return std::isnan(a) ? a : std::max(a, b); }},
      {"Minimum", [](double a, double b) { return std::isnan(a) ? a : std::min(a, b); }},
      {"Power", [](double a, double b) { return std::pow(a, b); }},
      {"Equal", [](double a, double b) { return double(a == b); }},
      {"NotEqual", [](double a, double b) { return double(a != b); }},
      {"Less", [](double a, double b) { return double(a < b); }},
      {"LessEqual", [](double a, double b) { return double(a <= b); }},
      {"Greater", [](double a, double b) { return double(a > b); }},
      {"GreaterEqual", [](double a, double b) { return double(a >= b); }},
      {"LogicalAnd", [](double a, double b) { return double(a != 0 && b != 0); }},
      {"LogicalOr", [](double a, double b) { return double(a != 0 || b != 0); }},
      {"ArcTan2", [](double a, double b) { return std::atan2(a, b); }},
      {"LogAddExp", [](double a, double b) {
         double m = std::max(a, b);
         return std::isinf(m) ? m : m + std::log1p(std::exp(-std::fabs(a - b)));
       }},
  };
  for (auto& [name, fn] : binary)
    if (n == name) {
      need(2);
      auto f = fn;
      return nary(c, [f](const double* a) { return f(a[0], a[1]); });
    }
  if (n == "Divide") {
    need(2);
    if (ints) return nary(c, [](const double* a) { return a[1] == 0 ? 0.0 : std::floor(a[0] / a[1]); });
    return nary(c, [](const double* a) { return a[0] / a[1]; });
  }
  if (n == "Remainder") {
    need(2);
    return nary(c, [](const double* a) {
      double r = std::fmod(a[0], a[1]);
      return (r != 0 && ((r < 0) != (a[1] < 0))) ? r + a[1] : r;
    });
  }
  if (n == "BitwiseBinary") {
    need(2);
    int64_t op = c.i(0);  // And, Or, Xor, LeftShift, RightShift
    return nary(c, [op](const double* a) {
      uint64_t x = uint64_t(int64_t(a[0])), y = uint64_t(int64_t(a[1]));
      uint64_t r = op == 0 ? (x & y) : op == 1 ? (x | y) : op == 2 ? (x ^ y) : op == 3 ? (y >= 64 ? 0 : x << y) : (y >= 64 ? 0 : x >> y);
      return double(int64_t(r));
    });
  }
  if (n == "Select") {
    need(3);
    return nary(c, [](const double* a) { return a[0] != 0 ? a[1] : a[2]; });
  }
  if (n == "Matmul" || n == "AddMM") {
    bool addmm = n == "AddMM";
    need(addmm ? 3 : 2);
    const Tensor& a = *c.in[addmm ? 1 : 0];
    const Tensor& b = *c.in[addmm ? 2 : 1];
    if (a.shape.size() < 2 || b.shape.size() < 2) fail("{}: {} needs arrays of at least 2 dims", c.file, n);
    int64_t M = a.shape[a.shape.size() - 2], K = a.shape.back(), N = b.shape.back();
    if (b.shape[b.shape.size() - 2] != K) fail("{}: {} inner dims {} and {} differ", c.file, n, K, b.shape[b.shape.size() - 2]);
    Dims ab(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
    Tensor ta{ab, a.dtype, {}}, tb{bb, b.dtype, {}};
    Dims batch = broadcast_shape({&ta, &tb}, c);
    Dims as = batch, bs = batch;
    as.insert(as.end(), {M, K});
    bs.insert(bs.end(), {K, N});
    Tensor A = a.shape == as ? a : broadcast_to(a, as, c);
    Tensor B = b.shape == bs ? b : broadcast_to(b, bs, c);
    Dims os = batch;
    os.insert(os.end(), {M, N});
    Tensor out{os, c.out_dtype(0), std::vector<double>(numel(os))};
    int64_t nb = numel(batch);
    for (int64_t z = 0; z < nb; ++z) {
      const double* pa = A.v.data() + z * M * K;
      const double* pb = B.v.data() + z * K * N;
      double* po = out.v.data() + z * M * N;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t k = 0; k < K; ++k) {
          double x = pa[i * K + k];
          for (int64_t j = 0; j < N; ++j) po[i * N + j] += x * pb[k * N + j];
        }
    }
    if (addmm) {
      double alpha = c.f(0), beta = c.f(1);
      Tensor C = broadcast_to(*c.in[0], os, c);
      for (size_t j = 0; j < out.v.size(); ++j) out.v[j] = alpha * out.v[j] + beta * C.v[j];
    }
    return {out};
  }
  if (n == "Reduce") {
    need(1);
    int64_t type = c.i(0);  // And, Or, Sum, Prod, Min, Max
    const Tensor& x = *c.in[0];
    Dims axes = c.vec(1);
    std::vector<bool> red(x.shape.size());
    for (int64_t a : axes) red[norm_axis(a, x.shape.size(), c)] = true;
    Dims os = x.shape;
    for (size_t i = 0; i < os.size(); ++i)
      if (red[i]) os[i] = 1;
    double init = type == 0 || type == 3 ? 1 : type == 4 ? INFINITY : type == 5 ? -INFINITY : 0;
    Tensor out{os, c.out_dtype(0), std::vector<double>(numel(os), init)};
    Dims ost = strides_of(os);
    size_t nd = x.shape.size();
    Dims idx(nd, 0);
    for (size_t j = 0; j < x.v.size(); ++j) {
      int64_t o = 0;
      for (size_t i = 0; i < nd; ++i)
        if (!red[i]) o += idx[i] * ost[i];
      double& r = out.v[o];
      double v = x.v[j];
      switch (type) {
        case 0: r = (r != 0 && v != 0); break;
        case 1: r = (r != 0 || v != 0); break;
        case 2: r += v; break;
        case 3: r *= v; break;
        case 4: r = std::min(r, v); break;
        default: r = std::max(r, v); break;
      }
      for (int64_t i = int64_t(nd) - 1; i >= 0; --i) {
        if (++idx[i] < x.shape[i]) break;
        idx[i] = 0;
      }
    }
    return {out};
  }
  if (n == "Scan") {
    need(1);
    int64_t type = c.i(0);  // Max, Min, Sum, Prod, LogAddExp
    bool reverse = c.i(2), inclusive = c.i(3);
    Tensor out = *c.in[0];
    out.dtype = c.out_dtype(0);
    int64_t ax = norm_axis(c.i(1), out.shape.size(), c);
    int64_t len = out.shape[ax], inner = 1;
    for (size_t k = ax + 1; k < out.shape.size(); ++k) inner *= out.shape[k];
    int64_t outer = len == 0 ? 0 : out.numel() / (len * inner);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        double acc = type == 0 ? -INFINITY : type == 1 ? INFINITY : type == 3 ? 1 : type == 4 ? -INFINITY : 0;
        for (int64_t step = 0; step < len; ++step) {
          int64_t j = reverse ? len - 1 - step : step;
          double& x = out.v[(o * len + j) * inner + in];
          double v = x;
          if (!inclusive) x = acc;
          switch (type) {
            case 0: acc = std::max(acc, v); break;
            case 1: acc = std::min(acc, v); break;
            case 2: acc += v; break;
            case 3: acc *= v; break;
            default: acc = std::max(acc, v) + std::log1p(std::exp(-std::fabs(acc - v))); break;
          }
          if (inclusive) x = acc;
        }
      }
    return {out};
  }
  if (n == "Softmax") {
    need(1);
    Tensor out = *c.in[0];
    out.dtype = c.out_dtype(0);
    int64_t d = out.shape.empty() ? 1 : out.shape.back();
    for (int64_t r = 0; d > 0 && r < int64_t(out.v.size()) / d; ++r) {
      double* p = out.v.data() + r * d;
      double m = *std::max_element(p, p + d), s = 0;
      for (int64_t j = 0; j < d; ++j) s += (p[j] = std::exp(p[j] - m));
      for (int64_t j = 0; j < d; ++j) p[j] /= s;
    }
    return {out};
  }
  (void)sizeof(F);
  return {};
}

}  // namespace mlx::graph::detail
