// Layout primitives: Reshape, Flatten, Unflatten, Squeeze, ExpandDims (O(1) views), Transpose, Broadcast,
// BroadcastAxes, Slice (a view when contiguous), SliceUpdate, Concatenate, Gather, Arange, Full, AsType.
// They move elements as bytes, so they work on every storage (float32, int64, raw constants) unchanged.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
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

namespace {

template <class T>
void copy_rows(const T* src, T* dst, const Dims& shape, const Dims& st, int64_t offset, int64_t r0, int64_t r1) {
  // Rows = all dims but the last; row r's source base from its multi-index.
  const size_t n = shape.size();
  const int64_t inner = n ? shape[n - 1] : 1, is = n ? st[n - 1] : 0;
  Dims idx(n ? n - 1 : 0, 0);
  int64_t rem = r0;
  for (int64_t i = int64_t(idx.size()) - 1; i >= 0; --i) {
    idx[i] = rem % shape[i];
    rem /= shape[i];
  }
  for (int64_t r = r0; r < r1; ++r) {
    int64_t base = offset;
    for (size_t i = 0; i < idx.size(); ++i) base += idx[i] * st[i];
    T* o = dst + r * inner;
    if (is == 1) std::memcpy(o, src + base, size_t(inner) * sizeof(T));
    else if (is == 0) std::fill(o, o + inner, src[base]);
    else
      for (int64_t j = 0; j < inner; ++j) o[j] = src[base + j * is];
    for (int64_t i = int64_t(idx.size()) - 1; i >= 0; --i) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
}

}  // namespace

void strided_copy_into(const Tensor& x, const Dims& out_shape, const Dims& st, int64_t offset, uint8_t* d) {
  const size_t eb = x.elem_bytes();
  const int64_t total = numel(out_shape);
  if (total == 0) return;
  const int64_t inner = out_shape.empty() ? 1 : out_shape.back(), rows = total / inner;
  auto run = [&](int64_t r0, int64_t r1) {
    // Byte-array elements (alignment 1): raw constants may sit unaligned in the mapped file.
    using B2 = std::array<uint8_t, 2>;
    using B4 = std::array<uint8_t, 4>;
    using B8 = std::array<uint8_t, 8>;
    switch (eb) {
      case 1: copy_rows(x.data, d, out_shape, st, offset, r0, r1); break;
      case 2: copy_rows(reinterpret_cast<const B2*>(x.data), reinterpret_cast<B2*>(d), out_shape, st, offset, r0, r1); break;
      case 4: copy_rows(reinterpret_cast<const B4*>(x.data), reinterpret_cast<B4*>(d), out_shape, st, offset, r0, r1); break;
      default: copy_rows(reinterpret_cast<const B8*>(x.data), reinterpret_cast<B8*>(d), out_shape, st, offset, r0, r1); break;
    }
  };
  if (big(total >> 4) && rows > 1) parallel_for(rows, run);  // memory-bound: threads only for large copies
  else run(0, rows);
}

Tensor strided_copy(const Tensor& x, const Dims& out_shape, const Dims& st, int64_t offset) {
  for (int64_t d : out_shape)
    if (d < 0) fail("negative dimension in shape {}", dims_string(out_shape));
  Tensor out;
  out.shape = out_shape;
  out.dtype = x.dtype;
  out.store = x.store;
  std::shared_ptr<uint8_t[]> buf(new uint8_t[std::max<size_t>(size_t(numel(out_shape)) * x.elem_bytes(), 1)]);
  out.data = buf.get();
  out.hold = std::move(buf);
  strided_copy_into(x, out_shape, st, offset, const_cast<uint8_t*>(out.data));
  return out;
}

Dims broadcast_strides(const Dims& x, const Dims& shape, const Ctx& c) {
  if (shape.size() < x.size()) fail("{}: {} cannot broadcast {} to {}", c.file, c.name, dims_string(x), dims_string(shape));
  Dims st(shape.size(), 0), xs = strides_of(x);
  size_t off = shape.size() - x.size();
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == shape[off + i]) st[off + i] = x[i] == 1 ? 0 : xs[i];
    else if (x[i] != 1) fail("{}: {} cannot broadcast {} to {}", c.file, c.name, dims_string(x), dims_string(shape));
  }
  return st;
}

Dims broadcast_shapes(const std::vector<Dims>& shapes, const Ctx& c) {
  size_t n = 0;
  for (const Dims& s : shapes) n = std::max(n, s.size());
  Dims out(n, 1);
  for (const Dims& s : shapes) {
    size_t off = n - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t d = s[i];
      if (out[off + i] == 1) out[off + i] = d;
      else if (d != 1 && d != out[off + i]) fail("{}: {} shapes do not broadcast", c.file, c.name);
    }
  }
  return out;
}

Tensor broadcast_to(const Tensor& x, const Dims& shape, const Ctx& c) {
  if (x.shape == shape) return x;
  Dims st = broadcast_strides(x.shape, shape, c);
  if (numel(shape) == x.numel()) {  // only size-1 dims added: same elements, same order
    Tensor v = x;
    v.shape = shape;
    return v;
  }
  return strided_copy(x, shape, st, 0);
}

Tensor transpose(const Tensor& x, const Dims& axes, const Ctx& c) {
  size_t n = x.shape.size();
  if (axes.size() != n) fail("{}: Transpose axes {} for a {}-d array", c.file, dims_string(axes), n);
  Dims ax(n), out_shape(n), st(n);
  Dims in_st = strides_of(x.shape);
  bool identity = true;
  for (size_t i = 0; i < n; ++i) {
    ax[i] = norm_axis(axes[i], n, c);
    out_shape[i] = x.shape[ax[i]];
    st[i] = in_st[ax[i]];
    identity &= ax[i] == int64_t(i);
  }
  if (identity) return x;
  return strided_copy(x, out_shape, st, 0);
}

namespace {

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
  return shape;
}

// Python-style slice bounds, clamped.
void slice_params(const Dims& shape, const Dims& start, const Dims& stop, const Dims& strides, Dims& out_shape, Dims& st,
                  int64_t& offset, const Ctx& c) {
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

// A slice is one contiguous run of the input when, after the first dim of size > 1, every dim is taken whole.
bool contiguous_slice(const Dims& in, const Dims& out, const Dims& st) {
  Dims in_st = strides_of(in);
  size_t k = 0;
  while (k < out.size() && out[k] == 1) ++k;
  if (k == out.size()) return true;
  if (st[k] != in_st[k]) return false;
  for (size_t j = k + 1; j < out.size(); ++j)
    if (out[j] != in[j] || st[j] != in_st[j]) return false;
  return true;
}

// Shapeless: Slice/SliceUpdate bounds baked at the recorded size of an axis that changed at run time follow the
// axis: a stop at the recorded end becomes the run-time end, and a start > 0 of such a slice keeps its distance
// from the end (x[:, -1:] stays the last row).
void rebake_slice(Dims& start, Dims& stop, const Dims& actual, const Ctx& c) {
  if (!c.shapes || c.shapes->recorded_in.empty()) return;
  const Dims& rec = c.shapes->recorded_in[0];
  if (rec.size() != actual.size() || start.size() != actual.size() || stop.size() != actual.size()) return;
  for (size_t i = 0; i < actual.size(); ++i) {
    int64_t r = rec[i], n = actual[i];
    if (r == n || stop[i] != r) continue;
    stop[i] = n;
    if (start[i] > 0) start[i] = std::max<int64_t>(0, start[i] + (n - r));
  }
}

}  // namespace

Dims Ctx::rebake(Dims s, const Dims& recorded_out) const {
  if (!shapes || shapes->changed.empty()) return s;
  for (size_t k = 0; k < s.size(); ++k) {
    auto it = shapes->changed.find(s[k]);
    if (it != shapes->changed.end() && (k < recorded_out.size() ? recorded_out[k] == s[k] : true)) s[k] = it->second;
  }
  return s;
}

namespace {

Tensor reshape(const Tensor& x, Dims want, const Ctx& c) {
  want = infer_reshape(want, x.numel(), c);
  if (numel(want) == x.numel()) return x.reshaped(want);
  // Shapeless replay of a shape MLX baked at the recorded sizes: substitute the one dim equal to a recorded
  // input size that changed (ties broken by the axis that changed in this entry's own input).
  if (c.shapes && !c.shapes->changed.empty()) {
    std::vector<size_t> cand;
    for (size_t k = 0; k < want.size(); ++k)
      if (c.shapes->changed.count(want[k])) cand.push_back(k);
    if (cand.size() > 1 && !c.shapes->recorded_in.empty()) {
      const Dims& rec = c.shapes->recorded_in[0];
      std::vector<size_t> keep;
      for (size_t k : cand)
        if (k < rec.size() && k < x.shape.size() && rec[k] != x.shape[k]) keep.push_back(k);
      cand = keep;
    }
    if (cand.size() == 1) {
      Dims s = want;
      s[cand[0]] = c.shapes->changed.at(want[cand[0]]);
      if (numel(s) == x.numel()) return x.reshaped(s);
    }
    fail("{}: tape entry {} (Reshape): cannot infer the run-time shape from the recorded {} for an input of shape {}",
         c.file, c.shapes->pos, dims_string(want), dims_string(x.shape));
  }
  fail("{}: {} cannot reshape {} elements to {}", c.file, c.name, x.numel(), dims_string(want));
}

}  // namespace

std::vector<Tensor> eval_layout(const std::string& name, const Ctx& c) {
  const auto& in = c.in;
  auto need = [&](size_t n) {
    if (in.size() < n) fail("{}: {} needs {} inputs, has {}", c.file, name, n, in.size());
  };
  if (name == "Reshape") {
    need(1);
    return {reshape(*in[0], c.vec(0), c)};
  }
  if (name == "Flatten") {
    need(1);
    const Tensor& x = *in[0];
    size_t n = x.shape.size();
    if (n == 0) return {x.reshaped({1})};
    int64_t a = norm_axis(c.i(0), n, c), b = norm_axis(c.i(1), n, c);
    Dims s(x.shape.begin(), x.shape.begin() + a);
    int64_t m = 1;
    for (int64_t k = a; k <= b; ++k) m *= x.shape[k];
    s.push_back(m);
    s.insert(s.end(), x.shape.begin() + b + 1, x.shape.end());
    return {x.reshaped(s)};
  }
  if (name == "Unflatten") {
    need(1);
    const Tensor& x = *in[0];
    int64_t a = norm_axis(c.i(0), x.shape.size(), c);
    Dims part = infer_reshape(c.vec(1), x.shape[a], c);
    if (numel(part) != x.shape[a]) {
      Dims rp = c.rebake(part, {});
      if (numel(rp) != x.shape[a]) fail("{}: {} cannot split a dim of {} into {}", c.file, name, x.shape[a], dims_string(part));
      part = rp;
    }
    Dims s(x.shape.begin(), x.shape.begin() + a);
    s.insert(s.end(), part.begin(), part.end());
    s.insert(s.end(), x.shape.begin() + a + 1, x.shape.end());
    return {x.reshaped(s)};
  }
  if (name == "Squeeze" || name == "ExpandDims") {
    need(1);
    const Tensor& x = *in[0];
    Dims axes = c.vec(0), s;
    if (name == "Squeeze") {
      std::vector<bool> drop(x.shape.size());
      for (int64_t a : axes) drop[norm_axis(a, x.shape.size(), c)] = true;
      for (size_t i = 0; i < x.shape.size(); ++i)
        if (!drop[i]) s.push_back(x.shape[i]);
        else if (x.shape[i] != 1) fail("{}: Squeeze of axis {} with size {}", c.file, i, x.shape[i]);
    } else {
      size_t n = x.shape.size() + axes.size();
      std::vector<bool> add(n);
      for (int64_t a : axes) add[norm_axis(a, n, c)] = true;
      size_t k = 0;
      for (size_t i = 0; i < n; ++i) s.push_back(add[i] ? 1 : x.shape[k++]);
    }
    return {x.reshaped(s)};
  }
  if (name == "Transpose") { need(1); return {transpose(*in[0], c.vec(0), c)}; }
  if (name == "Broadcast") {
    need(1);
    Dims s = c.vec(0);
    if (c.shapes && !c.shapes->changed.empty() && !c.shapes->recorded_in.empty() && c.shapes->recorded_in[0] != in[0]->shape) {
      // Only when this input's own shape changed: dims it carries follow it; size-1 input dims baked at a changed
      // size are substituted (a broadcast of an unchanged input keeps its recorded shape).
      const Dims& x = in[0]->shape;
      size_t off = s.size() >= x.size() ? s.size() - x.size() : 0;
      for (size_t k = 0; k < s.size(); ++k) {
        int64_t xd = k >= off ? x[k - off] : 1;
        if (xd != 1) s[k] = xd;
        else if (c.shapes->changed.count(s[k])) s[k] = c.shapes->changed.at(s[k]);
      }
    }
    return {broadcast_to(*in[0], s, c)};
  }
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
    const Tensor& x = *in[0];
    Dims start = c.vec(0), stop = c.vec(1), os, st;
    rebake_slice(start, stop, x.shape, c);
    int64_t off;
    slice_params(x.shape, start, stop, c.vec(2), os, st, off, c);
    if (contiguous_slice(x.shape, os, st)) {
      Tensor v = x;
      v.shape = os;
      v.data = x.data + size_t(numel(os) ? off : 0) * x.elem_bytes();
      return {v};
    }
    return {strided_copy(x, os, st, off)};
  }
  if (name == "SliceUpdate") {
    // State: reduce type {Max, Min, Sum, Prod, None 4}, start, stop, strides; out[slice] = op(out[slice], update).
    need(2);
    const int64_t op = c.i(0);
    if (op < 0 || op > 4) fail("{}: SliceUpdate reduce type {} is unknown", c.file, op);
    Dims start = c.vec(1), stop = c.vec(2), os, st;
    rebake_slice(start, stop, in[0]->shape, c);
    int64_t off;
    slice_params(in[0]->shape, start, stop, c.vec(3), os, st, off, c);
    Store s = natural_store(in[0]->dtype);
    Tensor src = as_store(*in[0], s);
    Tensor out = strided_copy(src, src.shape, strides_of(src.shape), 0);  // a private copy
    Tensor upd = as_store(*in[1], s);
    Dims ust = broadcast_strides(upd.shape, os, c);
    // Element-by-element scatter of the (broadcast) update into the slice positions.
    size_t n = os.size(), eb = out.elem_bytes();
    Dims idx(n, 0);
    int64_t total = numel(os);
    uint8_t* d = const_cast<uint8_t*>(out.data);
    for (int64_t o = 0; o < total; ++o) {
      int64_t dst = off, srci = 0;
      for (size_t i = 0; i < n; ++i) {
        dst += idx[i] * st[i];
        srci += idx[i] * ust[i];
      }
      if (op == 4) {
        std::memcpy(d + dst * eb, upd.data + srci * eb, eb);
      } else if (s == Store::F32) {
        float& a = reinterpret_cast<float*>(d)[dst];
        float b = upd.f32()[srci];
        a = op == 0 ? std::max(a, b) : op == 1 ? std::min(a, b) : op == 2 ? a + b : a * b;
      } else {
        int64_t& a = reinterpret_cast<int64_t*>(d)[dst];
        int64_t b = upd.i64()[srci];
        a = op == 0 ? std::max(a, b) : op == 1 ? std::min(a, b) : op == 2 ? a + b : a * b;
      }
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
    Store store = natural_store(in[0]->dtype);
    std::vector<Tensor> parts;
    for (const Tensor* t : in) {
      if (t->shape.size() != s.size()) fail("{}: Concatenate of arrays with different ndim", c.file);
      s[a] += t->shape[a];
      parts.push_back(as_store(*t, store));
    }
    Tensor out = Tensor::alloc(s, in[0]->dtype);
    out.store = store;
    size_t eb = out.elem_bytes();
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < a; ++k) outer *= s[k];
    for (size_t k = a + 1; k < s.size(); ++k) inner *= s[k];
    uint8_t* d = const_cast<uint8_t*>(out.data);
    size_t pos = 0;
    for (int64_t o = 0; o < outer; ++o)
      for (const Tensor& t : parts) {
        size_t chunk = size_t(t.shape[a] * inner) * eb;
        std::memcpy(d + pos, t.data + o * chunk, chunk);
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
    std::vector<Dims> ishapes;
    for (size_t k = 1; k < in.size(); ++k) ishapes.push_back(in[k]->shape);
    Dims ishape = axes.empty() ? Dims{} : broadcast_shapes(ishapes, c);
    std::vector<Tensor> idx;
    std::vector<Dims> ist;
    for (size_t k = 1; k < in.size(); ++k) {
      idx.push_back(c.iin(k));
      ist.push_back(broadcast_strides(in[k]->shape, ishape, c));
    }
    int64_t ni = numel(ishape), slice = numel(sizes);
    Dims s = ishape;
    s.insert(s.end(), sizes.begin(), sizes.end());
    Tensor out;
    out.shape = s;
    out.dtype = src.dtype;
    out.store = src.store;
    size_t eb = src.elem_bytes();
    std::shared_ptr<uint8_t[]> buf(new uint8_t[std::max<size_t>(size_t(ni * slice) * eb, 1)]);
    out.data = buf.get();
    out.hold = std::move(buf);
    Dims sst = strides_of(src.shape);
    std::vector<int64_t> ax(axes.size());
    for (size_t k = 0; k < axes.size(); ++k) ax[k] = norm_axis(axes[k], src.shape.size(), c);
    Dims ii(ishape.size(), 0);
    for (int64_t j = 0; j < ni; ++j) {
      int64_t base = 0;
      for (size_t k = 0; k < axes.size(); ++k) {
        int64_t p = 0;
        for (size_t q = 0; q < ii.size(); ++q) p += ii[q] * ist[k][q];
        int64_t id = idx[k].i64()[p];
        if (id < 0) id += src.shape[ax[k]];
        if (id < 0 || id + sizes[ax[k]] > src.shape[ax[k]])
          fail("{}: Gather index {} out of range for axis {} of size {}", c.file, id, ax[k], src.shape[ax[k]]);
        base += id * sst[ax[k]];
      }
      strided_copy_into(src, sizes, sst, base, const_cast<uint8_t*>(out.data) + size_t(j * slice) * eb);
      for (int64_t q = int64_t(ii.size()) - 1; q >= 0; --q) {
        if (++ii[q] < ishape[q]) break;
        ii[q] = 0;
      }
    }
    return {out};
  }
  if (name == "Arange") {
    double start = c.f(0), stop = c.f(1), step = c.f(2);
    if (c.shapes && c.shapes->changed.count(int64_t(stop)) && double(int64_t(stop)) == stop)
      stop = double(c.shapes->changed.at(int64_t(stop)));
    int64_t n = step == 0 ? 0 : std::max<int64_t>(0, int64_t(std::ceil((stop - start) / step)));
    Tensor out = Tensor::alloc({n}, c.out_dtype(0));
    for (int64_t i = 0; i < n; ++i) {
      double v = start + double(i) * step;
      if (out.store == Store::F32) out.f32_mut()[i] = float(v);
      else out.i64_mut()[i] = int64_t(v);
    }
    return {out};
  }
  if (name == "Full") {
    need(1);
    Dims rec(c.e.outputs[0].shape.begin(), c.e.outputs[0].shape.end());
    return {broadcast_to(*in[0], c.rebake(rec, rec), c)};
  }
  if (name == "AsType" || name == "Copy" || name == "StopGradient") {
    need(1);
    Tensor out = *in[0];
    if (out.dtype != c.out_dtype(0)) convert_to(out, c.out_dtype(0));  // to the same dtype: a view
    return {out};
  }
  return {};
}

}  // namespace mlx::graph::detail
