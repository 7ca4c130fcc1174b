#include "graph/program.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/error.h"
#include "graph/kernels.h"

namespace mlx::graph {

namespace mx = formats::mlxfn;

Program Program::load(const std::filesystem::path& path) { return from(mx::read(path), path.filename().string()); }

static Dims dims_of(const mx::ArrayDesc& d) { return Dims(d.shape.begin(), d.shape.end()); }

// Primitives that only move elements as bytes: they take raw (possibly unaligned) constants as they are.
static bool moves_bytes(const std::string& n) {
  static const char* names[] = {"Reshape", "Flatten", "Unflatten", "Squeeze", "ExpandDims", "Transpose", "Broadcast",
                                "BroadcastAxes", "Slice", "Gather", "Split", "Full", "AsType", "Copy", "StopGradient",
                                "Concatenate", "SliceUpdate"};
  for (const char* x : names)
    if (n == x) return true;
  return false;
}

const Tensor& Program::ready(uint64_t id, const Tensor& raw) const {
  std::lock_guard<std::mutex> lock(ready_->mu);
  auto it = ready_->map.find(id);
  if (it == ready_->map.end()) {
    it = ready_->map.emplace(id, aligned_for_compute(raw)).first;
    if (it->second.data != raw.data) release_pages(raw);
  }
  return it->second;
}

// A constant copied out of the mapped file no longer needs its file pages resident: dropping them keeps the RSS
// at the copies (the pages are clean, so a later read, e.g. by a Gather of the raw view, faults them back in).
void Program::release_pages(const Tensor& raw) const {
  if (!fn_.file || !fn_.file->data()) return;
  const uintptr_t base = reinterpret_cast<uintptr_t>(fn_.file->data()), end = base + fn_.file->size();
  const uintptr_t a = reinterpret_cast<uintptr_t>(raw.data), b = a + raw.nbytes();
  if (a < base || b > end) return;
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t lo = (a + page - 1) / page * page, hi = b / page * page;
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

Program Program::from(mx::Function f, std::string name) {
  // A replay allocates and frees the same large buffers on every run; served from the heap (not one mmap/munmap
  // each) they are reused without a page fault per 4 KiB. 32 MiB is glibc's largest mmap threshold.
  static std::once_flag malloc_once;
  std::call_once(malloc_once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  });
  Program p;
  p.fn_ = std::move(f);
  p.name_ = std::move(name);
  if (p.fn_.traces.empty()) fail("{}: the file holds no function trace", p.name_);
  for (const auto& tr : p.fn_.traces) {
    for (size_t i = 0; i < tr.inputs.size() && i < tr.input_ids.size(); ++i) p.recorded_[tr.input_ids[i]] = dims_of(tr.inputs[i]);
    for (const auto& e : tr.tape) {
      if (e.kind == mx::TapeEntry::kConstant) {
        p.recorded_[e.id] = dims_of(e.desc);
        if (!e.has_data) continue;
        std::shared_ptr<const void> keep = e.owned ? std::shared_ptr<const void>(e.owned) : std::shared_ptr<const void>(p.fn_.file);
        const std::string what = p.name_ + ": constant";
        // Bytes owned by neither (a Function parsed from a caller's buffer) are copied.
        p.constants_[e.id] = keep ? view_bytes(e.data, e.nbytes, dims_of(e.desc), e.desc.dtype, std::move(keep), what)
                                  : from_bytes(e.data, e.nbytes, dims_of(e.desc), e.desc.dtype, what);
      } else if (e.kind == mx::TapeEntry::kPrimitive) {
        if (e.n_siblings == 0) {
          if (!e.outputs.empty()) p.recorded_[e.id] = dims_of(e.outputs[0]);
        } else {
          for (size_t k = 0; k < e.sibling_ids.size() && k < e.outputs.size(); ++k) p.recorded_[e.sibling_ids[k]] = dims_of(e.outputs[k]);
        }
      }
    }
  }
  // Linear layers as MLX records them: Matmul(x, Transpose(W)) with W a constant.
  for (const auto& tr : p.fn_.traces) {
    std::unordered_map<uint64_t, const mx::TapeEntry*> constant;
    std::unordered_map<uint64_t, int> readers, matmul_rhs;
    for (const auto& e : tr.tape) {
      if (e.kind == mx::TapeEntry::kConstant && e.has_data) constant[e.id] = &e;
      if (e.kind != mx::TapeEntry::kPrimitive) continue;
      for (size_t k = 0; k < e.inputs.size(); ++k) {
        ++readers[e.inputs[k]];
        // Right operand of a Matmul (x, Wᵀ) or an AddMM (c, x, Wᵀ), and read nowhere else in that entry.
        bool rhs = (e.name == "Matmul" && e.inputs.size() == 2 && k == 1) || (e.name == "AddMM" && e.inputs.size() == 3 && k == 2);
        if (rhs && std::count(e.inputs.begin(), e.inputs.end(), e.inputs[k]) == 1) ++matmul_rhs[e.inputs[k]];
      }
    }
    for (uint64_t id : tr.output_ids) readers[id] += 1 << 20;  // a function output is materialized
    for (const auto& e : tr.tape) {
      if (e.kind != mx::TapeEntry::kPrimitive || e.name != "Transpose" || e.n_siblings || e.inputs.size() != 1) continue;
      if (e.state.empty() || e.state[0].v != std::vector<int64_t>{1, 0}) continue;
      auto c = constant.find(e.inputs[0]);
      if (c == constant.end() || c->second->desc.shape.size() != 2 || !is_floating(c->second->desc.dtype) ||
          c->second->desc.dtype.val == 11)
        continue;
      if (readers[e.id] > 0 && readers[e.id] == matmul_rhs[e.id]) p.lazy_t_[e.id] = e.inputs[0];
    }
  }
  return p;
}

const Tensor& Program::weight_view(uint64_t id) const {
  const Tensor& raw = constants_.at(id);
  if (raw.store != Store::Raw || reinterpret_cast<uintptr_t>(raw.data) % raw.dtype.size == 0) return raw;
  std::lock_guard<std::mutex> lock(ready_->mu);
  uint64_t key = id | (uint64_t(1) << 63);
  auto it = ready_->map.find(key);
  if (it == ready_->map.end()) {
    // Unaligned in the file: one aligned copy of the raw bytes (still not widened).
    std::shared_ptr<uint8_t[]> buf(new uint8_t[raw.nbytes()]);
    std::memcpy(buf.get(), raw.data, raw.nbytes());
    const uint8_t* d = buf.get();
    Tensor t = Tensor::view(raw.shape, raw.dtype, Store::Raw, std::move(buf), d);
    it = ready_->map.emplace(key, std::move(t)).first;
    release_pages(raw);
  }
  return it->second;
}

const mx::Trace& Program::pick_trace(const std::vector<Tensor>& inputs) const {
  std::string why;
  for (const auto& tr : fn_.traces) {
    if (tr.inputs.size() != inputs.size()) {
      why = fmt::format("expects {} inputs, got {}", tr.inputs.size(), inputs.size());
      continue;
    }
    bool ok = true;
    for (size_t i = 0; i < inputs.size() && ok; ++i) {
      const auto& d = tr.inputs[i];
      Dims want = dims_of(d);
      if (d.dtype.val != inputs[i].dtype.val) {
        why = fmt::format("input {} must be {}, got {}", i, mx::mx_dtype_name(d.dtype), mx::mx_dtype_name(inputs[i].dtype));
        ok = false;
      } else if (fn_.shapeless ? want.size() != inputs[i].shape.size() : want != inputs[i].shape) {
        why = fmt::format("input {} must have shape {}{}, got {}", i, dims_string(want),
                          fn_.shapeless ? " (any sizes, same ndim)" : "", dims_string(inputs[i].shape));
        ok = false;
      }
    }
    if (ok) return tr;
  }
  fail("{}: no trace matches the inputs: {}", name_, why);
}

std::vector<Tensor> Program::run(const std::vector<Tensor>& inputs) const {
  const mx::Trace& tr = pick_trace(inputs);
  // Shapeless replay at other sizes: which recorded input sizes changed, and to what.
  RunShapes shapes;
  bool ambiguous = false;
  for (size_t i = 0; i < inputs.size(); ++i)
    for (size_t d = 0; d < inputs[i].shape.size() && d < tr.inputs[i].shape.size(); ++d) {
      int64_t r = tr.inputs[i].shape[d], n = inputs[i].shape[d];
      if (r == n) continue;
      auto [it, fresh] = shapes.changed.emplace(r, n);
      if (!fresh && it->second != n) ambiguous = true;
    }
  if (ambiguous) shapes.changed.clear();  // kernels then fail where a baked size does not fit
  const bool resized = !shapes.changed.empty();

  std::unordered_map<uint64_t, Tensor> vals;
  std::unordered_map<uint64_t, const Tensor*> ref;
  for (size_t i = 0; i < inputs.size(); ++i) ref[tr.input_ids[i]] = &inputs[i];
  // Last tape position that reads each computed value, so intermediates are freed as soon as they are dead.
  std::unordered_map<uint64_t, size_t> last_use;
  for (size_t i = 0; i < tr.tape.size(); ++i)
    for (uint64_t id : tr.tape[i].inputs) last_use[id] = i;
  for (uint64_t id : tr.output_ids) last_use[id] = tr.tape.size();
  std::vector<const Tensor*> args;
  // MLX_GRAPH_PROFILE=1: time per primitive name on stderr after each run (where a replay spends its time).
  static const bool profile = std::getenv("MLX_GRAPH_PROFILE") != nullptr;
  std::map<std::string, std::pair<double, int>> prof;
  auto t_prev = std::chrono::steady_clock::now();
  auto tick = [&](const std::string& name) {
    if (!profile) return;
    auto now = std::chrono::steady_clock::now();
    auto& [ms, count] = prof[name];
    ms += std::chrono::duration<double, std::milli>(now - t_prev).count();
    ++count;
    t_prev = now;
  };
  for (size_t pos = 0; pos < tr.tape.size(); ++pos) {
    const auto& e = tr.tape[pos];
    if (profile) t_prev = std::chrono::steady_clock::now();
    if (e.kind == mx::TapeEntry::kConstant) {
      auto it = constants_.find(e.id);
      if (it == constants_.end()) fail("{}: constant {} has no data", name_, e.id);
      ref[e.id] = &it->second;
      continue;
    }
    if (e.kind == mx::TapeEntry::kInput) {
      if (!ref.count(e.id)) fail("{}: tape input {} is not a function input", name_, e.id);
      continue;
    }
    if (e.name == "Transpose" && lazy_t_.count(e.id)) continue;  // read only by the Matmuls below
    // AsType of a constant (e.g. bf16 scales cast to float32 before QuantizedMatmul) is computed once per Program.
    if (e.name == "AsType" && e.inputs.size() == 1 && e.n_siblings == 0 && !e.outputs.empty() && constants_.count(e.inputs[0])) {
      const Tensor& src = constants_.at(e.inputs[0]);
      const Tensor* folded;
      {
        std::lock_guard<std::mutex> lock(ready_->mu);
        const uint64_t key = e.id | (uint64_t(1) << 62);
        auto it = ready_->map.find(key);
        if (it == ready_->map.end()) {
          Tensor t = src;
          convert_to(t, e.outputs[0].dtype);
          it = ready_->map.emplace(key, std::move(t)).first;
        }
        folded = &it->second;
      }
      ref[e.id] = folded;
      tick(e.name + "(constant, once)");
      continue;
    }
    const bool linear = (e.name == "Matmul" && e.inputs.size() == 2 && lazy_t_.count(e.inputs[1])) ||
                        (e.name == "AddMM" && e.inputs.size() == 3 && lazy_t_.count(e.inputs[2]));
    if (linear) {
      const bool addmm = e.name == "AddMM";
      const uint64_t xid = e.inputs[addmm ? 1 : 0];
      auto x = ref.find(xid);
      const Tensor* cin = nullptr;
      if (addmm) {
        auto c = ref.find(e.inputs[0]);
        if (c == ref.end()) fail("{}: primitive {} uses undefined array {}", name_, e.name, e.inputs[0]);
        cin = c->second;
      }
      if (x == ref.end()) fail("{}: primitive {} uses undefined array {}", name_, e.name, xid);
      Tensor y = eval_linear(e, *x->second, weight_view(lazy_t_.at(e.inputs.back())), cin, name_);
      if (!e.outputs.empty()) convert_to(y, e.outputs[0].dtype);
      for (uint64_t id : e.inputs) {
        auto it = vals.find(id);
        if (it != vals.end() && last_use[id] == pos) {
          ref.erase(id);
          vals.erase(it);
        }
      }
      vals[e.id] = std::move(y);
      ref[e.id] = &vals[e.id];
      tick(e.name + "(x, constant W^T)");
      continue;
    }
    args.clear();
    if (resized) shapes.recorded_in.clear();
    for (uint64_t id : e.inputs) {
      auto it = ref.find(id);
      if (it == ref.end()) fail("{}: primitive {} uses undefined array {}", name_, e.name, id);
      const Tensor* t = it->second;
      if (t->store == Store::Raw && !moves_bytes(e.name) && constants_.count(id)) t = &ready(id, *t);
      args.push_back(t);
      if (resized) {
        auto r = recorded_.find(id);
        shapes.recorded_in.push_back(r == recorded_.end() ? it->second->shape : r->second);
      }
    }
    shapes.pos = pos;
    std::vector<Tensor> out = eval_primitive(e, args, name_, resized ? &shapes : nullptr);
    for (uint64_t id : e.inputs) {
      auto it = vals.find(id);
      if (it != vals.end() && last_use[id] == pos) {
        ref.erase(id);
        vals.erase(it);
      }
    }
    if (e.n_siblings == 0) {
      vals[e.id] = std::move(out.at(0));
      ref[e.id] = &vals[e.id];
    } else {
      if (out.size() < e.sibling_ids.size()) fail("{}: {} produced {} outputs, tape has {}", name_, e.name, out.size(), e.sibling_ids.size());
      for (size_t k = 0; k < e.sibling_ids.size(); ++k) {
        if (!last_use.count(e.sibling_ids[k])) continue;  // an output nothing reads (e.g. one half of a Split)
        vals[e.sibling_ids[k]] = std::move(out[k]);
        ref[e.sibling_ids[k]] = &vals[e.sibling_ids[k]];
      }
    }
    tick(e.name);
  }
  if (profile) {
    std::vector<std::pair<double, std::string>> rows;
    double total = 0;
    for (auto& [name, v] : prof) {
      rows.push_back({v.first, name});
      total += v.first;
    }
    std::sort(rows.rbegin(), rows.rend());
    std::fprintf(stderr, "%s: %.1f ms in primitives\n", name_.c_str(), total);
    for (auto& [ms, name] : rows) std::fprintf(stderr, "  %-36s %9.2f ms %6d calls\n", name.c_str(), ms, prof[name].second);
  }
  std::vector<Tensor> outs;
  for (uint64_t id : tr.output_ids) {
    auto it = ref.find(id);
    if (it == ref.end()) fail("{}: output {} was never computed", name_, id);
    outs.push_back(*it->second);
  }
  return outs;
}

}  // namespace mlx::graph
