// The convert / quantize pipeline: plan every output tensor from metadata alone, then stream: read (mmap),
// cast, quantize, write at its fixed offset, release the source pages; rename OUT.partial-XXXX to OUT at the end.
#include "convert/pipeline.h"

#include <cmath>
#include <cstring>
#include <random>

#include "convert/output_files.h"
#include "convert/source_model.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/interrupt.h"
#include "formats/shard_writer.h"
#include "quant/fp_formats.h"

namespace mlx::convert {

std::optional<DType> parse_torch_dtype(std::string_view name) {
  if (name == "float16") return DType::F16;
  if (name == "bfloat16") return DType::BF16;
  if (name == "float32") return DType::F32;
  return std::nullopt;
}

namespace {

using Clock = std::chrono::steady_clock;

// Parameter-like order: digit runs compare as numbers (layers.2 before layers.10), the rest bytewise.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      std::string_view x(a.data() + i, i2 - i), y(b.data() + j, j2 - j);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i2;
      j = j2;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

// What to do with one planned tensor.
struct Item {
  const models::PlannedTensor* planned = nullptr;
  std::vector<const LogicalTensor*> sources;
  DType dtype = DType::F32;  // float output dtype, or the dtype quantization runs in
  bool quantize = false;
  bool passthrough = false;  // already-quantized source kept as stored
  quant::QuantSpec spec;
  uint64_t source_bytes = 0;
};

// The output directory under construction; removed unless commit() ran.
class PartialDir {
 public:
  explicit PartialDir(const fs::path& out) {
    std::random_device rd;
    path_ = out.parent_path() / fmt::format("{}.partial-{:08x}", out.filename().string(), rd());
    std::error_code ec;
    fs::create_directories(path_, ec);
    if (ec) fail("{}: cannot create: {}", path_.string(), ec.message());
  }
  ~PartialDir() {
    if (!committed_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const fs::path& path() const { return path_; }
  void commit(const fs::path& out, bool force) {
    std::error_code ec;
    if (fs::exists(out, ec)) {
      if (!force) fail("{}: already exists (use --force to replace it)", out.string());
      fs::remove_all(out, ec);
      if (ec) fail("{}: cannot remove the existing output: {}", out.string(), ec.message());
    }
    fs::rename(path_, out, ec);
    if (ec) fail("{}: cannot rename {} to it: {}", out.string(), path_.string(), ec.message());
    committed_ = true;
  }

 private:
  fs::path path_;
  bool committed_ = false;
};

std::optional<DType> config_dtype(const nlohmann::ordered_json& c) {
  // mlx_lm: --dtype, else torch_dtype, else text_config.dtype (a top-level "dtype" is not consulted).
  if (c.contains("torch_dtype") && c["torch_dtype"].is_string()) return parse_torch_dtype(c["torch_dtype"].get<std::string>());
  if (c.contains("text_config") && c["text_config"].is_object() && c["text_config"].contains("dtype") &&
      c["text_config"]["dtype"].is_string())
    return parse_torch_dtype(c["text_config"]["dtype"].get<std::string>());
  return std::nullopt;
}

struct ErrorStats {
  double err2 = 0, sig2 = 0;
  int64_t n = 0;
};

ErrorStats compare(const TensorData& ref, const void* deq_f32_bytes, int64_t n) {
  std::vector<float> a(static_cast<size_t>(n));
  to_f32(ref.data, ref.dtype, a.data(), size_t(n));
  const float* b = static_cast<const float*>(deq_f32_bytes);
  ErrorStats s;
  s.n = n;
  for (int64_t i = 0; i < n; ++i) {
    double d = double(a[size_t(i)]) - double(b[i]);
    s.err2 += d * d;
    s.sig2 += double(a[size_t(i)]) * double(a[size_t(i)]);
  }
  return s;
}

double snr_db(double sig2, double err2) { return err2 <= 0 ? 999.0 : 10.0 * std::log10(sig2 / err2); }

}  // namespace

nlohmann::ordered_json ConvertSummary::to_json() const {
  nlohmann::ordered_json j;
  j["source"] = source.string();
  j["output"] = out.string();
  j["model_type"] = model_type;
  j["tensors"] = tensors_written;
  j["quantized_modules"] = modules_quantized;
  j["float_modules"] = modules_left_float;
  j["source_bytes"] = source_bytes;
  j["output_bytes"] = output_bytes;
  j["total_parameters"] = total_parameters;
  j["shards"] = shards;
  j["dtype"] = cast_to ? nlohmann::ordered_json(std::string(dtype_name(*cast_to))) : nlohmann::ordered_json(nullptr);
  j["quantization"] = quantization;
  j["seconds"] = seconds;
  j["source_gb_per_s"] = seconds > 0 ? double(source_bytes) / 1e9 / seconds : 0.0;
  if (!report.empty()) {
    nlohmann::ordered_json r = nlohmann::ordered_json::array();
    for (const auto& t : report)
      r.push_back({{"name", t.name}, {"bits", t.spec.bits}, {"group_size", t.spec.group_size},
                   {"mode", quant::quant_mode_name(t.spec.mode)}, {"rmse", t.rmse}, {"snr_db", t.snr_db}});
    j["report"] = r;
    j["total_rmse"] = total_rmse;
    j["total_snr_db"] = total_snr_db;
  }
  return j;
}

ConvertSummary run_convert(const ConvertOptions& opt) {
  const auto t0 = Clock::now();
  if (opt.quantize && opt.dequantize) usage_fail("-q/--quantize and -d/--dequantize cannot be used together");
  if (opt.quantize) {
    if (auto p = quant::spec_problem(opt.policy.global)) usage_fail("{}", *p);
    for (const auto& o : opt.policy.overrides) {
      quant::QuantSpec s{quant::QuantMode::Affine, o.bits, o.group_size.value_or(opt.policy.global.group_size)};
      if (auto p = quant::spec_problem(s)) usage_fail("--layer '{}': {}", o.glob, *p);
    }
  }
  fs::path out = opt.out.lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  if (out.empty()) usage_fail("empty output path");
  std::error_code ec;
  // As mlx_lm: an existing output is refused before anything is loaded.
  if (fs::exists(out, ec) && !opt.force) fail("{}: already exists (use --force to replace it)", out.string());

  const fs::path src = formats::resolve_model_path(opt.model);
  SourceModel sm = SourceModel::open(src);
  const std::string cfg_file = (src / "config.json").string();
  const models::Family& family = models::family_for(sm.dir.model_type(), cfg_file);
  const models::ModelConfig mc = family.parse_config(sm.dir.config, cfg_file);
  if (sm.quantized && opt.quantize && !opt.requantize)
    fail("{}: the model is already quantized (use `mlx quantize` to re-quantize, or -d to dequantize)", src.string());
  const bool dequant_sources = opt.dequantize || opt.quantize;

  ConvertSummary sum;
  sum.source = src;
  sum.out = out;
  sum.model_type = sm.dir.model_type();
  sum.cast_to = opt.dtype ? opt.dtype : config_dtype(sm.dir.config);

  // ---- Plan (metadata only) ----
  std::vector<models::PlannedTensor> planned = family.sanitize(mc, sm.metadata());
  std::stable_sort(planned.begin(), planned.end(), [](auto& a, auto& b) { return natural_less(a.name, b.name); });
  std::vector<std::string> modules;
  for (const auto& p : planned)
    if (p.quantizable) modules.push_back(p.module());
  QuantPlanner planner(opt.policy, &family, modules, mc.num_layers);
  nlohmann::ordered_json qconfig = planner.global_entry();

  std::vector<Item> items;
  std::vector<formats::TensorSpec> specs;
  for (const auto& p : planned) {
    Item it;
    it.planned = &p;
    for (const auto& s : p.sources) {
      const LogicalTensor* l = sm.find(s);
      if (!l) fail("{}: tensor '{}' needed for '{}' is missing", src.string(), s, p.name);
      it.sources.push_back(l);
      it.source_bytes += l->source_bytes();
    }
    const LogicalTensor& first = *it.sources[0];
    it.dtype = first.dtype;
    if (sum.cast_to && is_float(it.dtype)) it.dtype = *sum.cast_to;
    if (first.quantized() && !dequant_sources) {
      if (it.sources.size() != 1) fail("{}: cannot stack already-quantized experts", p.name);
      it.passthrough = true;
      it.spec = first.spec;
      const std::string m = p.module();
      specs.push_back({m + ".weight", DType::U32, first.qweight->shape});
      specs.push_back({m + ".scales", first.scales->dtype, first.scales->shape});
      if (first.biases) specs.push_back({m + ".biases", first.biases->dtype, first.biases->shape});
      ++sum.modules_quantized;
    } else if (opt.quantize && p.quantizable && is_float(it.dtype)) {
      QuantDecision d = planner.decide(p.module(), p.shape.back());
      if (d.quantize) {
        if (it.dtype == DType::F64) it.dtype = DType::F32;
        it.quantize = true;
        it.spec = d.spec;
        if (d.config_entry) qconfig[p.module()] = *d.config_entry;
        formats::Shape ws = p.shape, ss = p.shape;
        ws.back() = quant::packed_cols(ws.back(), d.spec.bits);
        ss.back() = quant::groups(ss.back(), d.spec.group_size);
        const bool affine = d.spec.mode == quant::QuantMode::Affine;
        specs.push_back({p.module() + ".weight", DType::U32, ws});
        specs.push_back({p.module() + ".scales", affine ? it.dtype : DType::U8, ss});
        if (affine) specs.push_back({p.module() + ".biases", it.dtype, ss});
        ++sum.modules_quantized;
      } else {
        ++sum.modules_left_float;
        specs.push_back({p.name, it.dtype, p.shape});
      }
    } else {
      specs.push_back({p.name, it.dtype, p.shape});
    }
    sum.total_parameters += formats::shape_numel(p.shape);
    sum.source_bytes += it.source_bytes;
    items.push_back(std::move(it));
  }
  sum.tensors_written = specs.size();

  // ---- Stream ----
  fs::create_directories(out.parent_path().empty() ? fs::path(".") : out.parent_path(), ec);
  PartialDir partial(out);
  formats::ShardedWriter writer(partial.path(), specs);
  Progress prog;
  prog.tensors_total = items.size();
  prog.bytes_total = sum.source_bytes;
  ErrorStats total;
  for (const Item& it : items) {
    if (interrupted()) throw Interrupted();
    const models::PlannedTensor& p = *it.planned;
    if (it.passthrough) {
      const LogicalTensor& l = *it.sources[0];
      writer.write(p.module() + ".weight", l.qweight->data);
      writer.write(p.module() + ".scales", l.scales->data);
      if (l.biases) writer.write(p.module() + ".biases", l.biases->data);
    } else {
      // Gather (stacking experts when there are several sources) in the working dtype.
      TensorData data;
      if (it.sources.size() == 1) {
        data = sm.read(*it.sources[0], it.dtype);
      } else {
        data.dtype = it.dtype;
        data.shape = p.shape;
        data.nbytes = size_t(formats::shape_numel(p.shape)) * dtype_size(it.dtype);
        data.owned.resize(data.nbytes);
        size_t off = 0;
        for (const LogicalTensor* l : it.sources) {
          TensorData part = sm.read(*l, it.dtype);
          std::memcpy(data.owned.data() + off, part.data, part.nbytes);
          off += part.nbytes;
          sm.release(*l);
        }
        data.data = data.owned.data();
      }
      if (!it.quantize) {
        writer.write(p.name, data.data);
      } else {
        const int64_t cols = p.shape.back(), rows = formats::shape_numel(p.shape) / cols;
        const quant::QuantSpec& s = it.spec;
        std::vector<uint32_t> packed(size_t(rows * quant::packed_cols(cols, s.bits)));
        const size_t ngroups = size_t(rows * quant::groups(cols, s.group_size));
        if (s.mode == quant::QuantMode::Affine) {
          std::vector<uint8_t> scales(ngroups * dtype_size(it.dtype)), biases(scales.size());
          quant::affine_quantize(data.data, it.dtype, rows, cols, s.bits, s.group_size, opt.rounding, packed.data(),
                                 scales.data(), biases.data());
          writer.write(p.module() + ".weight", packed.data());
          writer.write(p.module() + ".scales", scales.data());
          writer.write(p.module() + ".biases", biases.data());
          if (opt.report) {
            std::vector<float> deq(size_t(rows * cols));
            quant::affine_dequantize(packed.data(), scales.data(), biases.data(), it.dtype, rows, cols, s.bits,
                                     s.group_size, deq.data());
            ErrorStats e = compare(data, deq.data(), rows * cols);
            total.err2 += e.err2;
            total.sig2 += e.sig2;
            total.n += e.n;
            sum.report.push_back({p.module(), s, e.n, std::sqrt(e.err2 / double(e.n)), snr_db(e.sig2, e.err2)});
          }
        } else {
          std::vector<uint8_t> scales(ngroups);
          quant::fp_quantize(data.data, it.dtype, rows, cols, s.mode, packed.data(), scales.data());
          writer.write(p.module() + ".weight", packed.data());
          writer.write(p.module() + ".scales", scales.data());
          if (opt.report) {
            std::vector<float> deq(size_t(rows * cols));
            quant::fp_dequantize(packed.data(), scales.data(), s.mode, rows, cols, deq.data());
            ErrorStats e = compare(data, deq.data(), rows * cols);
            total.err2 += e.err2;
            total.sig2 += e.sig2;
            total.n += e.n;
            sum.report.push_back({p.module(), s, e.n, std::sqrt(e.err2 / double(e.n)), snr_db(e.sig2, e.err2)});
          }
        }
      }
    }
    for (const LogicalTensor* l : it.sources) sm.release(*l);
    ++prog.tensors_done;
    prog.bytes_done += it.source_bytes;
    prog.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (opt.on_progress) opt.on_progress(prog);
  }
  if (interrupted()) throw Interrupted();
  writer.finish(sum.total_parameters);
  sum.output_bytes = writer.total_bytes();
  sum.shards = writer.num_shards();
  if (total.n > 0) {
    sum.total_rmse = std::sqrt(total.err2 / double(total.n));
    sum.total_snr_db = snr_db(total.sig2, total.err2);
  }

  // ---- Side files ----
  nlohmann::ordered_json config = sm.dir.effective_config();
  if (opt.quantize) {
    config["quantization"] = qconfig;
    config["quantization_config"] = qconfig;
    sum.quantization = qconfig;
  } else if (opt.dequantize) {
    config.erase("quantization");
    config.erase("quantization_config");
  } else if (config.contains("quantization")) {
    sum.quantization = config["quantization"];
  }
  write_file_atomic(partial.path() / "config.json", config_json_text(config));
  copy_side_files(sm.dir, partial.path());
  const bool from_hub = !fs::is_directory(fs::path(opt.model), ec) && formats::is_hf_repo_id(opt.model);
  write_file_atomic(partial.path() / "README.md", model_card_text(opt.model, from_hub));
  if (interrupted()) throw Interrupted();
  partial.commit(out, opt.force);
  sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return sum;
}

}  // namespace mlx::convert
