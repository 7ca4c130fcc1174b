#include "models/weights.h"

#include <fmt/format.h>

#include "core/error.h"
#include "formats/safetensors.h"

namespace mlx::models {

void Linear::apply(const float* x, int64_t m, float* y) const {
  if (quantized) cpu::matmul(x, m, q, y);
  else cpu::matmul(x, m, dense, y);
  if (!bias.empty())
    for (int64_t r = 0; r < m; ++r)
      for (int64_t i = 0; i < out; ++i) y[r * out + i] += bias[i];
}

void Linear::gather(int64_t row, float* dst) const {
  if (quantized) cpu::gather_row(q, row, dst);
  else cpu::gather_row(dense, row, dst);
}

namespace {

using formats::Shape;
using formats::TensorView;

// What config.json says about quantization: the global spec and per-module entries.
struct QuantConfig {
  std::optional<quant::QuantSpec> global;
  const Json* table = nullptr;
};

quant::QuantSpec parse_spec(const Json& d, const std::string& where, const std::string& key,
                            std::optional<quant::QuantSpec> fallback) {
  quant::QuantMode mode = quant::QuantMode::Affine;
  if (d.contains("mode") && !d.at("mode").is_null()) {
    if (!d.at("mode").is_string()) fail("{}: quantization \"{}\" mode must be a string", where, key);
    auto m = quant::parse_quant_mode(d.at("mode").get<std::string>());
    if (!m) fail("{}: quantization \"{}\" has unknown mode \"{}\"", where, key, d.at("mode").get<std::string>());
    mode = *m;
  } else if (fallback) {
    mode = fallback->mode;
  }
  quant::QuantSpec s = quant::default_spec(mode);
  for (const char* k : {"group_size", "bits"}) {
    if (!d.contains(k) || d.at(k).is_null()) continue;  // null group_size: the mode's default (64 for affine)
    if (!d.at(k).is_number_integer()) fail("{}: quantization \"{}\" {} must be an integer", where, key, k);
    (std::string_view(k) == "bits" ? s.bits : s.group_size) = d.at(k).get<int>();
  }
  if (auto problem = quant::spec_problem(s)) fail("{}: quantization \"{}\": {}", where, key, *problem);
  return s;
}

QuantConfig parse_quant_config(const Json& j, const std::string& where) {
  QuantConfig q;
  const Json* d = nullptr;
  if (j.contains("quantization") && !j.at("quantization").is_null()) d = &j.at("quantization");
  else if (j.contains("quantization_config") && j.at("quantization_config").is_object() &&
           j.at("quantization_config").contains("bits"))
    d = &j.at("quantization_config");
  if (!d) return q;
  if (!d->is_object()) fail("{}: key \"quantization\" must be an object", where);
  q.global = parse_spec(*d, where, "quantization", std::nullopt);
  q.table = d;
  return q;
}

std::string join_first(const std::vector<std::string>& v, size_t n) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < n; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > n) s += fmt::format(" (and {} more)", v.size() - n);
  return s;
}

class Binder {
 public:
  Binder(const formats::WeightSet& w, const QuantConfig& q, std::string where) : w_(w), q_(q), where_(std::move(where)) {}

  const TensorView* find(const std::string& name) const { return w_.find(name); }
  bool has(const std::string& name) const { return w_.find(name) != nullptr; }

  // A float vector (norm weight, bias) of `n` values.
  std::vector<float> vec(const std::string& name, int64_t n) {
    const TensorView* t = w_.find(name);
    if (!t) {
      missing_.push_back(name);
      return {};
    }
    if (!check_shape(*t, {n}) || !check_float(*t)) return {};
    std::vector<float> out(static_cast<size_t>(n));
    to_f32(t->data, t->dtype, out.data(), size_t(n));
    return out;
  }

  // Linear `path` with weight [lead..., out, in]; returns views for each leading index (1 when lead is empty).
  std::vector<Linear> linears(const std::string& path, const Shape& lead, int64_t out, int64_t in, bool bias) {
    int64_t count = 1;
    for (int64_t d : lead) count *= d;
    std::vector<Linear> result;
    const TensorView* wt = w_.find(path + ".weight");
    if (!wt) {
      missing_.push_back(path + ".weight");
      return result;
    }
    const TensorView* scales = w_.find(path + ".scales");
    Shape shape = lead;
    shape.push_back(out);
    if (scales) {
      quant::QuantSpec s = spec_for(path);
      if (in % s.group_size != 0 || (in * s.bits) % 32 != 0) {
        bad(fmt::format("{}: in_features {} does not fit {}", path, in, quant::format_spec(s)));
        return result;
      }
      Shape ws = shape, ss = shape;
      ws.push_back(quant::packed_cols(in, s.bits));
      ss.push_back(quant::groups(in, s.group_size));
      const TensorView* biases = w_.find(path + ".biases");
      bool ok = check_shape(*wt, ws) && check_shape(*scales, ss);
      if (wt->dtype != DType::U32) ok = bad(fmt::format("{}.weight is {}, expected U32 (packed)", path, dtype_name(wt->dtype)));
      if (quant::has_biases(s.mode)) {
        if (!biases) {
          missing_.push_back(path + ".biases");
          ok = false;
        } else {
          ok = check_shape(*biases, ss) && ok;
          if (biases->dtype != scales->dtype) ok = bad(fmt::format("{}.biases dtype differs from its scales", path));
        }
        if (!is_float(scales->dtype)) ok = bad(fmt::format("{}.scales must be a float dtype", path));
      } else if (scales->dtype != DType::U8) {
        ok = bad(fmt::format("{}.scales is {}, expected U8 for {}", path, dtype_name(scales->dtype), quant::format_spec(s)));
      }
      if (!ok) return result;
      dtype_ = quant::has_biases(s.mode) ? scales->dtype : dtype_;
      cpu::QuantizedWeight all{reinterpret_cast<const uint32_t*>(wt->data), scales->data,
                               biases && quant::has_biases(s.mode) ? biases->data : nullptr,
                               quant::has_biases(s.mode) ? scales->dtype : DType::U8, s.mode, s.bits, s.group_size,
                               out * count, in};
      for (int64_t e = 0; e < count; ++e) {
        Linear l;
        l.quantized = true;
        l.q = count == 1 ? cpu::QuantizedWeight{all.packed, all.scales, all.biases, all.scale_dtype, all.mode, all.bits,
                                                all.group_size, out, in}
                         : cpu::expert(all, e, out, in);
        l.out = out;
        l.in = in;
        result.push_back(std::move(l));
      }
    } else {
      Shape ws = shape;
      ws.push_back(in);
      if (!check_shape(*wt, ws) || !check_float(*wt)) return result;
      dtype_ = wt->dtype;
      cpu::DenseWeight all{wt->data, wt->dtype, out * count, in};
      for (int64_t e = 0; e < count; ++e) {
        Linear l;
        l.dense = count == 1 ? cpu::DenseWeight{wt->data, wt->dtype, out, in} : cpu::expert(all, e, out, in);
        l.out = out;
        l.in = in;
        result.push_back(std::move(l));
      }
    }
    if (bias) {
      std::vector<float> b = vec(path + ".bias", out);
      if (!b.empty())
        for (Linear& l : result) l.bias = b;
    }
    return result;
  }

  Linear linear(const std::string& path, int64_t out, int64_t in, bool bias) {
    std::vector<Linear> v = linears(path, {}, out, in, bias);
    return v.empty() ? Linear{} : std::move(v[0]);
  }

  void finish() const {
    if (!missing_.empty())
      fail("{}: missing tensors: {}", where_, join_first(missing_, 4));
    if (!problems_.empty()) fail("{}: {}", where_, join_first(problems_, 3));
  }
  DType dtype() const { return dtype_; }

 private:
  bool bad(std::string msg) {
    problems_.push_back(std::move(msg));
    return false;
  }
  bool check_shape(const TensorView& t, const Shape& expected) {
    if (t.shape == expected) return true;
    return bad(fmt::format("tensor {} has shape {}, expected {} (in {})", t.name, formats::shape_string(t.shape),
                           formats::shape_string(expected), w_.file_of(t).path().filename().string()));
  }
  bool check_float(const TensorView& t) {
    if (t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16) return true;
    return bad(fmt::format("tensor {} has dtype {}, expected F32, F16 or BF16", t.name, dtype_name(t.dtype)));
  }
  quant::QuantSpec spec_for(const std::string& path) {
    if (!q_.global) {
      bad(fmt::format("{}.scales exists but config.json has no \"quantization\"", path));
      return quant::QuantSpec{};
    }
    if (q_.table && q_.table->contains(path)) {
      const Json& v = q_.table->at(path);
      if (v.is_object()) return parse_spec(v, where_, path, std::nullopt);
      if (v.is_boolean() && !v.get<bool>()) bad(fmt::format("{} is marked unquantized but has scales", path));
    }
    return *q_.global;
  }

  const formats::WeightSet& w_;
  const QuantConfig& q_;
  std::string where_;
  std::vector<std::string> missing_, problems_;
  DType dtype_ = DType::F32;
};

}  // namespace

DecoderWeights bind_weights(const ModelConfig& c, const Json& config_json, const formats::WeightSet& w,
                            const std::string& where) {
  QuantConfig qc = parse_quant_config(config_json, where);
  Binder b(w, qc, where);
  DecoderWeights d;
  d.quantization = qc.global;
  const int64_t H = c.hidden_size, D = c.head_dim, nq = c.num_heads * D, nkv = c.num_kv_heads * D;
  d.embed = b.linear("model.embed_tokens", c.vocab_size, H, false);
  d.final_norm = b.vec("model.norm.weight", H);
  // An lm_head in the checkpoint is the output head; without one the embedding is (tied; gemma3 decides by this
  // alone, the other families also need tie_word_embeddings).
  if (b.has("lm_head.weight") || (!c.tie_word_embeddings && c.family != "gemma3_text"))
    d.lm_head = b.linear("lm_head", c.vocab_size, H, false);
  else
    d.tied = true;
  d.layers.resize(size_t(c.num_layers));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    LayerWeights& L = d.layers[size_t(i)];
    const std::string p = fmt::format("model.layers.{}.", i);
    L.input_norm = b.vec(p + "input_layernorm.weight", H);
    L.post_attention_norm = b.vec(p + "post_attention_layernorm.weight", H);
    if (c.sandwich_norms) {
      L.pre_feedforward_norm = b.vec(p + "pre_feedforward_layernorm.weight", H);
      L.post_feedforward_norm = b.vec(p + "post_feedforward_layernorm.weight", H);
    }
    const std::string a = p + "self_attn.";
    if (c.fused_qkv) {
      L.qkv = b.linear(a + "qkv_proj", nq + 2 * nkv, H, c.qkv_bias);
    } else {
      L.q = b.linear(a + "q_proj", nq, H, c.qkv_bias);
      L.k = b.linear(a + "k_proj", nkv, H, c.qkv_bias);
      L.v = b.linear(a + "v_proj", nkv, H, c.qkv_bias);
    }
    L.o = b.linear(a + "o_proj", H, nq, c.o_bias);
    if (c.qk_norm) {
      L.q_norm = b.vec(a + "q_norm.weight", D);
      L.k_norm = b.vec(a + "k_norm.weight", D);
    }
    const LayerConfig& lc = c.layers[size_t(i)];
    if (lc.moe) {
      const std::string m = p + c.moe_block + ".";
      const int64_t E = c.num_experts, I = c.moe_intermediate_size;
      L.router = b.linear(m + "gate", E, H, false);
      if (b.has(m + "switch_mlp.gate_proj.weight") || !b.has(m + "experts.0." + (c.family == "mixtral" ? "w1" : "gate_proj") + ".weight")) {
        L.expert_gate = b.linears(m + "switch_mlp.gate_proj", {E}, I, H, false);
        L.expert_up = b.linears(m + "switch_mlp.up_proj", {E}, I, H, false);
        L.expert_down = b.linears(m + "switch_mlp.down_proj", {E}, H, I, false);
      } else {
        const bool mixtral = c.family == "mixtral";
        for (int64_t e = 0; e < E; ++e) {
          const std::string x = fmt::format("{}experts.{}.", m, e);
          L.expert_gate.push_back(b.linear(x + (mixtral ? "w1" : "gate_proj"), I, H, false));
          L.expert_up.push_back(b.linear(x + (mixtral ? "w3" : "up_proj"), I, H, false));
          L.expert_down.push_back(b.linear(x + (mixtral ? "w2" : "down_proj"), H, I, false));
        }
      }
    } else if (c.fused_gate_up) {
      L.gate_up = b.linear(p + "mlp.gate_up_proj", 2 * c.intermediate_size, H, c.mlp_bias);
      L.down = b.linear(p + "mlp.down_proj", H, c.intermediate_size, c.mlp_bias);
    } else {
      L.gate = b.linear(p + "mlp.gate_proj", c.intermediate_size, H, c.mlp_bias);
      L.up = b.linear(p + "mlp.up_proj", c.intermediate_size, H, c.mlp_bias);
      L.down = b.linear(p + "mlp.down_proj", H, c.intermediate_size, c.mlp_bias);
    }
  }
  b.finish();
  if (d.tied) d.lm_head = d.embed;
  d.dtype = b.dtype();
  return d;
}

}  // namespace mlx::models
