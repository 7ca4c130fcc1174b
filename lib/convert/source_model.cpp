// Reading source tensors: plain ones straight from the mmap, quantized ones dequantized with quant/.
#include "convert/source_model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/affine.h"
#include "quant/fp_formats.h"

namespace mlx::convert {

namespace fs = std::filesystem;

uint64_t LogicalTensor::source_bytes() const {
  if (view) return view->nbytes;
  return qweight->nbytes + scales->nbytes + (biases ? biases->nbytes : 0);
}

void convert_dtype(const void* src, DType from, void* dst, DType to, size_t n) {
  if (from == to) {
    std::memcpy(dst, src, n * dtype_size(from));
    return;
  }
  constexpr int64_t kChunk = 1 << 16;
  const int64_t chunks = int64_t((n + kChunk - 1) / kChunk);
  parallel_for(chunks, [&](int64_t b, int64_t e) {
    std::vector<float> tmp(kChunk);
    for (int64_t c = b; c < e; ++c) {
      size_t off = size_t(c) * kChunk, len = std::min<size_t>(kChunk, n - off);
      to_f32(static_cast<const uint8_t*>(src) + off * dtype_size(from), from, tmp.data(), len);
      from_f32(tmp.data(), to, static_cast<uint8_t*>(dst) + off * dtype_size(to), len);
    }
  });
}

namespace {

// Asks the kernel to read a tensor's pages ahead (large sequential faults instead of one per 16 pages).
void prefetch(const formats::TensorView* v) {
  if (!v || v->nbytes < (size_t(1) << 20)) return;
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t b = reinterpret_cast<uintptr_t>(v->data) & ~(page - 1);
  uintptr_t e = reinterpret_cast<uintptr_t>(v->data) + v->nbytes;
  madvise(reinterpret_cast<void*>(b), e - b, MADV_WILLNEED);
}

// The quantization spec of module `p` from config.json's "quantization" (per-layer entry or global).
quant::QuantSpec spec_for(const nlohmann::ordered_json& q, const std::string& module, const std::string& file) {
  auto read = [&](const nlohmann::ordered_json& e, quant::QuantSpec base) {
    if (!e.is_object()) return base;
    quant::QuantMode mode = quant::QuantMode::Affine;
    if (e.contains("mode") && e["mode"].is_string()) {
      auto m = quant::parse_quant_mode(e["mode"].get<std::string>());
      if (!m) fail("{}: unknown quantization mode \"{}\"", file, e["mode"].get<std::string>());
      mode = *m;
    }
    quant::QuantSpec s = quant::default_spec(mode);
    if (e.contains("bits") && e["bits"].is_number_integer()) s.bits = e["bits"].get<int>();
    // mlx_lm writes null group sizes for recipes; the loader falls back to the mode's default.
    if (e.contains("group_size") && e["group_size"].is_number_integer()) s.group_size = e["group_size"].get<int>();
    return s;
  };
  quant::QuantSpec global = read(q, quant::default_spec(quant::QuantMode::Affine));
  if (q.contains(module) && q[module].is_object()) return read(q[module], global);
  return global;
}

}  // namespace

SourceModel SourceModel::open(const fs::path& path) {
  SourceModel m{formats::ModelDir::open(path), formats::WeightSet::open(path), {}, false};
  const std::string cfg = (path / "config.json").string();
  nlohmann::ordered_json qcfg;
  if (m.dir.config.contains("quantization")) qcfg = m.dir.config["quantization"];
  auto ends = [](const std::string& s, const char* suf) {
    size_t n = std::strlen(suf);
    return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
  };
  for (const formats::TensorView* t : m.weights.tensors()) {
    const std::string& n = t->name;
    std::string module;
    if (ends(n, ".scales")) module = n.substr(0, n.size() - 7);
    else if (ends(n, ".biases")) module = n.substr(0, n.size() - 7);
    if (!module.empty() && m.weights.find(module + ".weight") && m.weights.find(module + ".scales")) continue;
    LogicalTensor l;
    l.name = n;
    l.dtype = t->dtype;
    l.shape = t->shape;
    const formats::TensorView* scales = ends(n, ".weight") ? m.weights.find(n.substr(0, n.size() - 7) + ".scales") : nullptr;
    if (!scales) {
      l.view = t;
      m.tensors.push_back(std::move(l));
      continue;
    }
    // A quantized module.
    module = n.substr(0, n.size() - 7);
    if (!qcfg.is_object()) fail("{}: {} has .scales but config.json has no \"quantization\" section", cfg, module);
    l.spec = spec_for(qcfg, module, cfg);
    if (auto problem = quant::spec_problem(l.spec)) fail("{}: module {}: {}", cfg, module, *problem);
    l.qweight = t;
    l.scales = scales;
    l.biases = m.weights.find(module + ".biases");
    const bool affine = l.spec.mode == quant::QuantMode::Affine;
    if (t->dtype != DType::U32 || t->shape.empty() || (affine && !l.biases) || scales->shape.size() != t->shape.size())
      fail("{}: quantized module {} has an unexpected layout ({} {} with scales {})", t->name, module,
           dtype_name(t->dtype), formats::shape_string(t->shape), formats::shape_string(scales->shape));
    const int64_t in = t->shape.back() * 32 / l.spec.bits;
    if (scales->shape.back() * l.spec.group_size != in || (l.biases && l.biases->shape != scales->shape))
      fail("{}: packed shape {} does not match {} with scales {}", t->name, formats::shape_string(t->shape),
           quant::format_spec(l.spec), formats::shape_string(scales->shape));
    l.shape.back() = in;
    l.dtype = affine ? scales->dtype : DType::BF16;
    m.quantized = true;
    m.tensors.push_back(std::move(l));
  }
  return m;
}

const LogicalTensor* SourceModel::find(const std::string& name) const {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const LogicalTensor& t, const std::string& n) { return t.name < n; });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}

std::vector<models::SourceTensor> SourceModel::metadata() const {
  std::vector<models::SourceTensor> out;
  for (const auto& t : tensors) out.push_back({t.name, t.dtype, t.shape});
  return out;
}

TensorData SourceModel::read(const LogicalTensor& t, std::optional<DType> as) const {
  TensorData d;
  d.shape = t.shape;
  d.dtype = as.value_or(t.dtype);
  const size_t n = size_t(formats::shape_numel(t.shape));
  d.nbytes = n * dtype_size(d.dtype);
  for (const formats::TensorView* v : {t.view, t.qweight, t.scales, t.biases}) prefetch(v);
  if (t.view) {
    if (d.dtype == t.dtype) {
      d.data = t.view->data;
      return d;
    }
    d.owned.resize(d.nbytes);
    convert_dtype(t.view->data, t.dtype, d.owned.data(), d.dtype, n);
    d.data = d.owned.data();
    return d;
  }
  const int64_t cols = t.shape.back(), rows = int64_t(n) / std::max<int64_t>(cols, 1);
  d.owned.resize(d.nbytes);
  const uint32_t* packed = reinterpret_cast<const uint32_t*>(t.qweight->data);
  if (t.spec.mode == quant::QuantMode::Affine) {
    if (d.dtype != DType::F32 && d.dtype != DType::F16 && d.dtype != DType::BF16)
      fail("{}: cannot dequantize to {}", t.qweight->name, dtype_name(d.dtype));
    std::vector<uint8_t> s, b;
    const void* sp = t.scales->data;
    const void* bp = t.biases->data;
    if (t.scales->dtype != d.dtype) {  // mlx_lm casts scales/biases before dequantizing
      const size_t g = size_t(t.scales->numel());
      s.resize(g * dtype_size(d.dtype));
      b.resize(g * dtype_size(d.dtype));
      convert_dtype(t.scales->data, t.scales->dtype, s.data(), d.dtype, g);
      convert_dtype(t.biases->data, t.biases->dtype, b.data(), d.dtype, g);
      sp = s.data();
      bp = b.data();
    }
    quant::affine_dequantize(packed, sp, bp, d.dtype, rows, cols, t.spec.bits, t.spec.group_size,
                             static_cast<void*>(d.owned.data()));
  } else {
    DType out = d.dtype;
    if (out != DType::F32 && out != DType::F16 && out != DType::BF16) out = DType::BF16;
    quant::fp_dequantize(packed, t.scales->data, t.spec.mode, rows, cols, out, static_cast<void*>(d.owned.data()));
    d.dtype = out;
  }
  d.data = d.owned.data();
  return d;
}

void SourceModel::release(const LogicalTensor& t) const {
  for (const formats::TensorView* v : {t.view, t.qweight, t.scales, t.biases})
    if (v) weights.release(*v);
}

}  // namespace mlx::convert
