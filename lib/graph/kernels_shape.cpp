// Layout primitives: Reshape, Flatten, Unflatten, Squeeze, ExpandDims, Transpose, Broadcast, Slice, SliceUpdate,
// Concatenate, Gather, Arange, Full, AsType.
#include <cmath>

#include "core/error.h"
#include "graph/kernels_impl.h"

namespace mlx::graph::detail {

int64_t norm_axis(int64_t a, size_t ndim, const Ctx& c) {
  int64_t n = int64_t(ndim);
  if (a < 0) a += n;
  if (a < 0 || a >= n) fail("{}: {} axis {} out of range for {} dims", c.file, c.name, a, n);
  return a;
}

Dims strides_of(const Dims& s) {
  Dims st(s.size(), 1);
  for (int64_t i = int64_t(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

Dims infer_reshape(Dims shape, int64_t total, const Ctx& c) {
  int64_t known = 1, neg = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (neg >= 0) fail("{}: {} has two -1 dims", c.file, c.name);
      neg = int64_t(i);
    } else {
      known *= shape[i];
    }
  }
  if (neg >= 0 && known > 0) shape[neg] = total / known;
  if (numel(shape) != total) fail("{}: {} cannot reshape {} elements to {}", c.file, c.name, total, dims_string(shape));
  return shape;
}

Tensor transpose(const Tensor& x, const Dims& axes, const Ctx& c) {
  size_t n = x.shape.size();
  if (axes.size() != n) fail("{}: Transpose axes {} for a {}-d array", c.file, dims_string(axes), n);
  Dims ax(n), out_shape(n);
  for (size_t i = 0; i < n; ++i) {
    ax[i] = norm_axis(axes[i], n, c);
    out_shape[i] = x.shape[ax[i]];
  }
  Dims in_st = strides_of(x.shape);
  Tensor out{out_shape, x.dtype, std::vector<double>(x.v.size())};
  Dims idx(n, 0);
  for (size_t o = 0; o < out.v.size(); ++o) {
    int64_t src = 0;
    for (size_t i = 0; i < n; ++i) src += idx[i] * in_st[ax[i]];
    out.v[o] = x.v[src];
    for (int64_t i = int64_t(n) - 1; i >= 0; --i) {
      if (++idx[i] < out_shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

// Generic strided copy: out[idx] = x[sum(idx*stride)+offset].
static Tensor gather_strided(const Tensor& x, const Dims& out_shape, const Dims& st, int64_t offset) {
  Tensor out{out_shape, x.dtype, std::vector<double>(numel(out_shape))};
  size_t n = out_shape.size();
  Dims idx(n, 0);
  for (size_t o = 0; o < out.v.size(); ++o) {
    int64_t src = offset;
    for (size_t i = 0; i < n; ++i) src += idx[i] * st[i];
    out.v[o] = x.v[src];
    for (int64_t i = int64_t(n) - 1; i >= 0; --i) {
      if (++idx[i] < out_shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

Tensor broadcast_to(const Tensor& x, const Dims& shape, const Ctx& c) {
  if (shape.size() < x.shape.size()) fail("{}: {} cannot broadcast {} to {}", c.file, c.name, dims_string(x.shape), dims_string(shape));
  Dims st(shape.size(), 0), xs = strides_of(x.shape);
  size_t off = shape.size() - x.shape.size();
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (x.shape[i] == shape[off + i]) st[off + i] = xs[i];
    else if (x.shape[i] != 1) fail("{}: {} cannot broadcast {} to {}", c.file, c.name, dims_string(x.shape), dims_string(shape));
  }
  return gather_strided(x, shape, st, 0);
}

// Python-style slice bounds, clamped.
static void slice_params(const Dims& shape, const Dims& start, const Dims& stop, const Dims& strides, Dims& out_shape,
                         Dims& st, int64_t& offset, const Ctx& c) {
  size_t n = shape.size();
  if (start.size() != n || stop.size() != n || strides.size() != n) fail("{}: {} state does not match a {}-d input", c.file, c.name, n);
  Dims in_st = strides_of(shape);
  out_shape.assign(n, 0);
  st.assign(n, 0);
  offset = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t s = strides[i] == 0 ? 1 : strides[i];
    int64_t b = start[i], e = stop[i], d = shape[i];
    if (b < 0) b += d;
    if (e < 0) e += d;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      out_shape[i] = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = std::clamp<int64_t>(b, -1, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      out_shape[i] = b > e ? (b - e - s - 1) / (-s) : 0;
    }
    st[i] = in_st[i] * s;
    offset += b * in_st[i];
  }
}

std::vector<Tensor> eval_layout(const std::string& name, const Ctx& c) {
  const auto& in = c.in;
  auto need = [&](size_t n) {
    if (in.size() < n) fail("{}: {} needs {} inputs, has {}", c.file, name, n, in.size());
  };
  if (name == "Reshape") {
    need(1);
    Tensor out = *in[0];
    out.shape = infer_reshape(c.vec(0), out.numel(), c);
    return {out};
  }
  if (name == "Flatten") {
    need(1);
    Tensor out = *in[0];
    size_t n = out.shape.size();
    if (n == 0) { out.shape = {1}; return {out}; }
    int64_t a = norm_axis(c.i(0), n, c), b = norm_axis(c.i(1), n, c);
    Dims s(out.shape.begin(), out.shape.begin() + a);
    int64_t m = 1;
    for (int64_t k = a; k <= b; ++k) m *= out.shape[k];
    s.push_back(m);
    s.insert(s.end(), out.shape.begin() + b + 1, out.shape.end());
    out.shape = s;
    return {out};
  }
  if (name == "Unflatten") {
    need(1);
    Tensor out = *in[0];
    int64_t a = norm_axis(c.i(0), out.shape.size(), c);
    Dims part = infer_reshape(c.vec(1), out.shape[a], c);
    Dims s(out.shape.begin(), out.shape.begin() + a);
    s.insert(s.end(), part.begin(), part.end());
    s.insert(s.end(), out.shape.begin() + a + 1, out.shape.end());
    out.shape = s;
    return {out};
  }
  if (name == "Squeeze" || name == "ExpandDims") {
    need(1);
    Tensor out = *in[0];
    Dims axes = c.vec(0);
    if (name == "Squeeze") {
      std::vector<bool> drop(out.shape.size());
      for (int64_t a : axes) drop[norm_axis(a, out.shape.size(), c)] = true;
      Dims s;
      for (size_t i = 0; i < out.shape.size(); ++i)
        if (!drop[i]) s.push_back(out.shape[i]);
        else if (out.shape[i] != 1) fail("{}: Squeeze of axis {} with size {}", c.file, i, out.shape[i]);
      out.shape = s;
    } else {
      size_t n = out.shape.size() + axes.size();
      std::vector<bool> add(n);
      for (int64_t a : axes) add[norm_axis(a, n, c)] = true;
      Dims s;
      size_t k = 0;
      for (size_t i = 0; i < n; ++i) s.push_back(add[i] ? 1 : out.shape[k++]);
      out.shape = s;
    }
    return {out};
  }
  if (name == "Transpose") { need(1); return {transpose(*in[0], c.vec(0), c)}; }
  if (name == "Broadcast") { need(1); return {broadcast_to(*in[0], c.vec(0), c)}; }
  if (name == "BroadcastAxes") {
    // Input 0 broadcast against all inputs' shapes (shapeless-safe); ignored axes keep input 0's sizes.
    need(1);
    size_t nd = 0;
    for (const Tensor* t : in) nd = std::max(nd, t->shape.size());
    Dims s(nd, 1);
    std::vector<bool> ignored(nd, false);
    for (int64_t a : c.vec(0)) {
      int64_t ax = a < 0 ? int64_t(nd) + a : a;
      if (ax >= 0 && ax < int64_t(nd)) ignored[ax] = true;
    }
    for (const Tensor* t : in) {
      size_t off = nd - t->shape.size();
      for (size_t k = 0; k < t->shape.size(); ++k)
        if (ignored[off + k]) continue;
        else if (s[off + k] == 1) s[off + k] = t->shape[k];
        else if (t->shape[k] != 1 && t->shape[k] != s[off + k]) fail("{}: BroadcastAxes shapes do not broadcast", c.file);
    }
    for (int64_t a : c.vec(0)) {
      int64_t ax = a < 0 ? int64_t(nd) + a : a;
      int64_t x0 = ax - int64_t(nd - in[0]->shape.size());
      if (ax >= 0 && ax < int64_t(nd)) s[ax] = x0 >= 0 ? in[0]->shape[x0] : 1;
    }
    return {broadcast_to(*in[0], s, c)};
  }
  if (name == "Slice") {
    need(1);
    Dims os, st;
    int64_t off;
    slice_params(in[0]->shape, c.vec(0), c.vec(1), c.vec(2), os, st, off, c);
    return {gather_strided(*in[0], os, st, off)};
  }
  if (name == "SliceUpdate") {
    need(2);
    Dims os, st;
    int64_t off;
    slice_params(in[0]->shape, c.vec(0), c.vec(1), c.vec(2), os, st, off, c);
    Tensor out = *in[0];
    Tensor upd = broadcast_to(*in[1], os, c);
    size_t n = os.size();
    Dims idx(n, 0);
    for (size_t o = 0; o < upd.v.size(); ++o) {
      int64_t dst = off;
      for (size_t i = 0; i < n; ++i) dst += idx[i] * st[i];
      out.v[dst] = upd.v[o];
      for (int64_t i = int64_t(n) - 1; i >= 0; --i) {
        if (++idx[i] < os[i]) break;
        idx[i] = 0;
      }
    }
    return {out};
  }
  if (name == "Concatenate") {
    need(1);
    int64_t a = norm_axis(c.i(0), in[0]->shape.size(), c);
    Dims s = in[0]->shape;
    s[a] = 0;
    for (const Tensor* t : in) {
      if (t->shape.size() != s.size()) fail("{}: Concatenate of arrays with different ndim", c.file);
      s[a] += t->shape[a];
    }
    Tensor out{s, c.out_dtype(0), std::vector<double>(numel(s))};
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < a; ++k) outer *= s[k];
    for (size_t k = a + 1; k < s.size(); ++k) inner *= s[k];
    int64_t pos = 0;
    for (int64_t o = 0; o < outer; ++o)
      for (const Tensor* t : in) {
        int64_t chunk = t->shape[a] * inner;
        std::copy(t->v.begin() + o * chunk, t->v.begin() + (o + 1) * chunk, out.v.begin() + pos);
        pos += chunk;
      }
    return {out};
  }
  if (name == "Gather") {
    need(1);
    // inputs: src, then one index array per axis in state axes; out = broadcast(indices) + slice_sizes.
    Dims axes = c.vec(0), sizes = c.vec(1);
    const Tensor& src = *in[0];
    if (in.size() != axes.size() + 1) fail("{}: Gather has {} index arrays for {} axes", c.file, in.size() - 1, axes.size());
    if (sizes.size() != src.shape.size()) fail("{}: Gather slice sizes do not match the source", c.file);
    Dims ishape = axes.empty() ? Dims{} : in[1]->shape;
    for (size_t k = 1; k < in.size(); ++k)
      if (in[k]->shape != ishape) fail("{}: Gather index arrays of different shapes are not supported", c.file);
    int64_t ni = numel(ishape), slice = numel(sizes);
    Dims s = ishape;
    s.insert(s.end(), sizes.begin(), sizes.end());
    Tensor out{s, src.dtype, std::vector<double>(ni * slice)};
    Dims sst = strides_of(src.shape);
    for (int64_t j = 0; j < ni; ++j) {
      int64_t base = 0;
      for (size_t k = 0; k < axes.size(); ++k) {
        int64_t ax = norm_axis(axes[k], src.shape.size(), c);
        int64_t id = int64_t(in[k + 1]->v[j]);
        if (id < 0) id += src.shape[ax];
        if (id < 0 || id + sizes[ax] > src.shape[ax]) fail("{}: Gather index {} out of range for axis {} of size {}", c.file, id, ax, src.shape[ax]);
        base += id * sst[ax];
      }
      Tensor part = gather_strided(src, sizes, sst, base);
      std::copy(part.v.begin(), part.v.end(), out.v.begin() + j * slice);
    }
    return {out};
  }
  if (name == "Arange") {
    double start = c.f(0), stop = c.f(1), step = c.f(2);
    int64_t n = step == 0 ? 0 : std::max<int64_t>(0, int64_t(std::ceil((stop - start) / step)));
    Tensor out{{n}, c.out_dtype(0), std::vector<double>(n)};
    for (int64_t i = 0; i < n; ++i) out.v[i] = start + double(i) * step;
    return {out};
  }
  if (name == "Full") {
    need(1);
    Dims s(c.e.outputs[0].shape.begin(), c.e.outputs[0].shape.end());
    Tensor out = broadcast_to(*in[0], s, c);
    out.dtype = c.out_dtype(0);
    return {out};
  }
  if (name == "AsType" || name == "Copy" || name == "StopGradient") {
    need(1);
    Tensor out = *in[0];
    out.dtype = c.out_dtype(0);
    return {out};
  }
  return {};
}

}  // namespace mlx::graph::detail
