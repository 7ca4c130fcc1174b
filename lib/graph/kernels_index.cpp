// Index-producing and splitting primitives: ArgReduce, ArgSort, ArgPartition (a full sort is a valid partition),
// Split, DivMod, NumberOfElements.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "graph/kernels_impl.h"

namespace mlx::graph::detail {

std::vector<Tensor> eval_index(const std::string& n, const Ctx& c) {
  const auto& in = c.in;
  if (n == "ArgSort" || n == "ArgPartition" || n == "ArgReduce") {
    if (in.size() != 1) fail("{}: {} needs one input", c.file, n);
    const Tensor& x = *in[0];
    const std::vector<double> xv = x.values();
    int64_t ax = norm_axis(n == "ArgSort" ? c.i(0) : c.i(1), x.shape.size(), c);
    Dims os = x.shape;
    if (n == "ArgReduce") os[ax] = 1;
    Tensor out = Tensor::zeros(os, MxDtype{8, 8});
    bool argmax = n == "ArgReduce" && c.i(0) == 1;
    std::vector<int64_t> idx;
    lanes(x.shape, ax, [&](int64_t base, int64_t stride, int64_t len) {
      if (len == 0) return;
      idx.resize(len);
      std::iota(idx.begin(), idx.end(), 0);
      auto val = [&](int64_t k) { return xv[size_t(base + k * stride)]; };
      std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return val(a) < val(b); });
      if (n == "ArgReduce") {
        // first index of the min / max, as MLX
        int64_t best = 0;
        for (int64_t k = 1; k < len; ++k)
          if (argmax ? val(k) > val(best) : val(k) < val(best)) best = k;
        int64_t o = (base / (len * stride)) * stride + base % stride;
        out.i64_mut()[o] = best;
      } else {
        for (int64_t k = 0; k < len; ++k) out.i64_mut()[base + k * stride] = idx[k];
      }
    });
    return {out};
  }
  if (n == "Split") {
    if (in.size() != 1) fail("{}: Split needs one input", c.file);
    const Tensor& x = *in[0];
    int64_t ax = norm_axis(c.i(1), x.shape.size(), c);
    Dims cuts = c.vec(0);
    cuts.insert(cuts.begin(), 0);
    cuts.push_back(x.shape[ax]);
    std::vector<Tensor> outs;
    for (size_t k = 0; k + 1 < cuts.size(); ++k) {
      int64_t b = std::clamp<int64_t>(cuts[k], 0, x.shape[ax]), e = std::clamp<int64_t>(cuts[k + 1], b, x.shape[ax]);
      Dims os = x.shape;
      os[ax] = e - b;
      Dims st = strides_of(x.shape);
      outs.push_back(strided_copy(x, os, st, b * st[ax]));
    }
    return outs;
  }
  if (n == "DivMod") {
    if (in.size() != 2 || in[0]->shape != in[1]->shape) fail("{}: DivMod needs two inputs of one shape", c.file);
    Tensor q = Tensor::alloc(in[0]->shape, MxDtype{10, 4}), r = Tensor::alloc(in[0]->shape, MxDtype{10, 4});
    for (int64_t k = 0; k < q.numel(); ++k) {
      double a = in[0]->at(k), b = in[1]->at(k);
      double qq = std::floor(a / b);
      q.f32_mut()[k] = float(qq);
      r.f32_mut()[k] = float(a - b * qq);
    }
    return {q, r};
  }
  if (n == "NumberOfElements") {
    if (in.size() != 1) fail("{}: NumberOfElements needs one input", c.file);
    Dims axes = c.vec(0);
    bool inverted = c.i(1);
    std::vector<bool> sel(in[0]->shape.size(), inverted);
    for (int64_t a : axes) sel[norm_axis(a, sel.size(), c)] = !inverted;
    double count = 1;
    for (size_t k = 0; k < sel.size(); ++k)
      if (sel[k]) count *= double(in[0]->shape[k]);
    return {Tensor{{}, c.out_dtype(0), std::vector<double>{count}}};
  }
  return {};
}

}  // namespace mlx::graph::detail
