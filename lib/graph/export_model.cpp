#include "graph/export_model.h"

#include <cmath>

#include "core/error.h"
#include "formats/model_dir.h"
#include "formats/weight_set.h"
#include "graph/tracer.h"
#include "models/family.h"
#include "models/weights.h"

namespace mlx::graph {

namespace mx = formats::mlxfn;

namespace {

constexpr MxDtype kF32{10, 4};
constexpr MxDtype kI32{7, 4};
constexpr MxDtype kBool{0, 1};

Tensor make(Dims shape, MxDtype dt, std::vector<double> v) { return Tensor{std::move(shape), dt, std::move(v)}; }

struct Builder {
  Tracer& tr;
  const models::ModelConfig& c;
  bool decompose = false;  // --target cpu: MLX's CPU backend has no fast:: kernels, emit their fallbacks
  int64_t T = 0;           // sample length (the decomposed trace is fixed-shape)

  Val scalar(double x, MxDtype dt = kF32) { return tr.constant(make({}, dt, {x})); }
  Val vec(const std::vector<float>& v, double plus = 0) {
    std::vector<double> d(v.begin(), v.end());
    for (double& x : d) x += plus;
    return tr.constant(make({int64_t(v.size())}, kF32, d));
  }
  // Rows [r0, r0+n) of W (any Linear, quantized ones dequantized) as a float32 [n, in] constant, transposed.
  Val weight_t(const models::Linear& L, int64_t r0, int64_t n) {
    std::vector<float> row(L.in);
    std::vector<double> w(size_t(n * L.in));
    for (int64_t r = 0; r < n; ++r) {
      L.gather(r0 + r, row.data());
      std::copy(row.begin(), row.end(), w.begin() + r * L.in);
    }
    Val W = tr.constant(make({n, L.in}, kF32, std::move(w)));
    return tr.op("Transpose", {W}, {st::v({1, 0})});
  }
  // Affine-quantized rows [r0, r0+n) kept packed: QuantizedMatmul(x, w, scales, biases), MLX's quantized Linear.
  Val qlinear(const Val& x, const models::Linear& L, int64_t r0, int64_t n) {
    const cpu::QuantizedWeight& q = L.q;
    const int64_t words = q.in_features * q.bits / 32, groups = q.in_features / q.group_size;
    const MxDtype sd = mx::mx_dtype(q.scale_dtype);
    // Scales and biases become float32 (exact): MLX's quantized_matmul casts them to the input's dtype anyway.
    auto raw = [&](const void* base, int64_t per_row, size_t esize, const Dims& shape, MxDtype dt, bool to_f32) {
      const uint8_t* p = static_cast<const uint8_t*>(base) + size_t(r0 * per_row) * esize;
      Tensor t = from_bytes(p, size_t(n * per_row) * esize, shape, dt, "quantized weight");
      if (to_f32) t.dtype = kF32;
      return tr.constant(std::move(t));
    };
    Val w = raw(q.packed, words, 4, {n, words}, MxDtype{3, 4}, false);
    Val sc = raw(q.scales, groups, sd.size, {n, groups}, sd, true);
    Val bi = raw(q.biases, groups, sd.size, {n, groups}, sd, true);
    Val y = tr.op("QuantizedMatmul", {x, w, sc, bi}, {st::i(q.group_size), st::i(q.bits), st::i(0), st::b(true)}, kF32);
    if (!L.bias.empty()) y = tr.op("Add", {y, vec(std::vector<float>(L.bias.begin() + r0, L.bias.begin() + r0 + n))});
    return y;
  }
  Val linear(const Val& x, const models::Linear& L, int64_t r0 = 0, int64_t n = -1) {
    if (n < 0) n = L.out;
    if (L.quantized && L.q.mode == quant::QuantMode::Affine && L.q.biases) return qlinear(x, L, r0, n);
    Val wt = weight_t(L, r0, n);
    // [1,T,in] -> [T,in] -> Matmul -> [1,T,out]: both Matmul operands 2-d, nothing bakes T.
    Val y = tr.op("ExpandDims", {tr.op("Matmul", {tr.op("Flatten", {x}, {st::i(0), st::i(1)}), wt})}, {st::v({0})});
    if (!L.bias.empty()) y = tr.op("Add", {y, vec(std::vector<float>(L.bias.begin() + r0, L.bias.begin() + r0 + n))});
    return y;
  }
  Val rms(const Val& x, const std::vector<float>& w) {
    if (decompose) {
      int64_t d = x.shape().back();
      Val ms = tr.op("Divide", {tr.op("Reduce", {tr.op("Square", {x})}, {st::i(2), st::v({int64_t(x.shape().size()) - 1})}),
                                scalar(double(d))});
      Val inv = tr.op("Sqrt", {tr.op("Add", {ms, scalar(c.rms_norm_eps)})}, {st::b(true)});
      return tr.op("Multiply", {tr.op("Multiply", {x, inv}), vec(w, c.norm_plus_one ? 1.0 : 0.0)});
    }
    return tr.op("RMSNorm", {x, vec(w, c.norm_plus_one ? 1.0 : 0.0)}, {st::n(), st::f(c.rms_norm_eps)});
  }
  Val act_mul(const Val& g, const Val& u) {
    Val a;
    if (c.activation == models::Activation::GeluTanh) {
      Val cube = tr.op("Multiply", {tr.op("Multiply", {g, g}), g});
      Val inner = tr.op("Add", {g, tr.op("Multiply", {scalar(0.044715), cube})});
      Val th = tr.op("Tanh", {tr.op("Multiply", {scalar(0.7978845608028654), inner})});
      a = tr.op("Multiply", {tr.op("Multiply", {scalar(0.5), g}), tr.op("Add", {scalar(1.0), th})});
    } else {
      a = tr.op("Multiply", {g, tr.op("Sigmoid", {g})});
    }
    return tr.op("Multiply", {a, u});
  }
  // All experts' weights stacked as one float32 constant [E, rows, cols] (transposed per expert).
  Val stacked_t(const std::vector<models::Linear>& ls) {
    int64_t E = int64_t(ls.size()), O = ls[0].out, In = ls[0].in;
    std::vector<double> w(size_t(E * In * O));
    std::vector<float> row(In);
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < O; ++r) {
        ls[size_t(e)].gather(r, row.data());
        for (int64_t k = 0; k < In; ++k) w[size_t((e * In + k) * O + r)] = row[size_t(k)];
      }
    return tr.constant(make({E, In, O}, kF32, std::move(w)));
  }
  // Sparse MoE as a dense computation: every expert runs, the routing weights of unselected experts are zero.
  // Top-k is found by k rounds of "max, mark, mask out" (no sort primitive needed, shapeless).
  Val moe(const Val& h, const models::LayerWeights& L) {
    const float ninf = -INFINITY;
    Val logits = linear(h, L.router);                                  // [1,T,E]
    Val probs = tr.op("Softmax", {logits}, {st::b(true)});
    Val rest = logits, mask;
    for (int64_t j = 0; j < c.top_k; ++j) {
      Val m = tr.op("Reduce", {rest}, {st::i(5), st::v({2})});        // [1,T,1]
      Val sel = tr.op("Equal", {rest, m}, {st::b(false)}, kBool);
      mask = j == 0 ? sel : tr.op("LogicalOr", {mask, sel}, {}, kBool);
      rest = tr.op("Select", {sel, scalar(ninf), rest});
    }
    Val pw = tr.op("Select", {mask, probs, scalar(0.0)});
    if (c.routing == models::MoeRouting::TopKSoftmax || c.norm_topk_prob)
      pw = tr.op("Divide", {pw, tr.op("Reduce", {pw}, {st::i(2), st::v({2})})});
    Val x4 = tr.op("ExpandDims", {h}, {st::v({1})});                  // [1,1,T,H]
    Val g = tr.op("Matmul", {x4, stacked_t(L.expert_gate)});           // [1,E,T,I]
    Val u = tr.op("Matmul", {x4, stacked_t(L.expert_up)});
    Val y = tr.op("Matmul", {act_mul(g, u), stacked_t(L.expert_down)});  // [1,E,T,H]
    Val wgt = tr.op("ExpandDims", {tr.op("Transpose", {pw}, {st::v({0, 2, 1})})}, {st::v({3})});  // [1,E,T,1]
    Val sum = tr.op("Reduce", {tr.op("Multiply", {y, wgt})}, {st::i(2), st::v({1})});          // [1,1,T,H]
    return tr.op("Squeeze", {sum}, {st::v({1})});
  }
  Val slice_last(const Val& x, int64_t b, int64_t e, int64_t step = 1) {
    Dims start(x.shape().size(), 0), stop = x.shape(), strides(x.shape().size(), 1);
    start.back() = b;
    stop.back() = e;
    strides.back() = step;
    return tr.op("Slice", {x}, {st::v(start), st::v(stop), st::v(strides)});
  }
  // RoPE fallback: positions 0..T-1 (baked), cos/sin of position x inverse frequency, rotate, concatenate.
  Val rope_decomposed(const Val& x, const models::RopeConfig& r, int64_t dims, const std::vector<float>& inv) {
    const int64_t D = x.shape().back(), half = dims / 2;
    Val pos = tr.op("ExpandDims", {tr.op("Arange", {}, {st::d(0), st::d(double(T)), st::d(1)}, kF32)}, {st::v({1})});
    Val th = tr.op("Multiply", {pos, vec(inv)});  // [T, half]
    Val cs = tr.op("Cos", {th}), sn = tr.op("Sin", {th});
    float s = r.attention_scaling();
    if (s != 1.0f) {
      cs = tr.op("Multiply", {cs, scalar(s)});
      sn = tr.op("Multiply", {sn, scalar(s)});
    }
    Val x1 = r.traditional ? slice_last(x, 0, dims, 2) : slice_last(x, 0, half);
    Val x2 = r.traditional ? slice_last(x, 1, dims, 2) : slice_last(x, half, dims);
    Val r1 = tr.op("Subtract", {tr.op("Multiply", {x1, cs}), tr.op("Multiply", {x2, sn})});
    Val r2 = tr.op("Add", {tr.op("Multiply", {x1, sn}), tr.op("Multiply", {x2, cs})});
    Val rot;
    if (r.traditional) {
      Val both = tr.op("Concatenate", {tr.op("ExpandDims", {r1}, {st::v({4})}), tr.op("ExpandDims", {r2}, {st::v({4})})}, {st::i(4)});
      Dims sh = x.shape();
      sh.back() = dims;
      rot = tr.op("Reshape", {both}, {st::v(sh)});
    } else {
      rot = tr.op("Concatenate", {r1, r2}, {st::i(3)});
    }
    if (dims < D) rot = tr.op("Concatenate", {rot, slice_last(x, dims, D)}, {st::i(3)});
    return rot;
  }
  // Attention fallback: repeat kv heads, scores, causal (and sliding-window) mask, softmax, values.
  Val sdpa_decomposed(const Val& q, Val k, Val v, float scale, int64_t window) {
    const int64_t Hq = q.shape()[1], Hk = k.shape()[1], L = q.shape()[2], D = q.shape()[3];
    if (Hq != Hk) {
      auto rep = [&](const Val& a) {
        Val e = tr.op("ExpandDims", {a}, {st::v({2})});
        Val bc = tr.op("Broadcast", {e}, {st::v({1, Hk, Hq / Hk, L, a.shape()[3]})});
        return tr.op("Reshape", {bc}, {st::v({1, Hq, L, a.shape()[3]})});
      };
      k = rep(k);
      v = rep(v);
    }
    Val scores = tr.op("Matmul", {tr.op("Multiply", {q, scalar(scale)}), tr.op("Transpose", {k}, {st::v({0, 1, 3, 2})})});
    Val ar = tr.op("Arange", {}, {st::d(0), st::d(double(L)), st::d(1)}, kI32);
    Val qi = tr.op("ExpandDims", {ar}, {st::v({1})}), kj = tr.op("ExpandDims", {ar}, {st::v({0})});
    Val mask = tr.op("GreaterEqual", {qi, kj}, {}, kBool);
    if (window > 0)
      mask = tr.op("LogicalAnd", {mask, tr.op("Less", {tr.op("Subtract", {qi, kj}), scalar(double(window), kI32)}, {}, kBool)}, {}, kBool);
    scores = tr.op("Select", {mask, scores, scalar(-INFINITY)});
    Val p = tr.op("Softmax", {scores}, {st::b(true)});
    (void)D;
    return tr.op("Matmul", {p, v});
  }
  Val heads(const Val& x, int64_t n_heads, const std::vector<float>* norm) {
    Val h = tr.op("Unflatten", {x}, {st::i(2), st::v({n_heads, c.head_dim})});
    if (norm) h = rms(h, *norm);
    return tr.op("Transpose", {h}, {st::v({0, 2, 1, 3})});
  }
  Val rope(const Val& x, const models::RopeConfig& r, const Val& offset) {
    int64_t dims = r.rotary_dim > 0 ? r.rotary_dim : c.head_dim;
    std::vector<float> inv = r.inv_freq(1);
    std::vector<double> freqs(inv.size());
    for (size_t k = 0; k < inv.size(); ++k) freqs[k] = 1.0 / double(inv[k]);
    if (decompose) return rope_decomposed(x, r, dims, inv);
    Val f = tr.constant(make({int64_t(freqs.size())}, kF32, freqs));
    Val y = tr.op("RoPE", {x, offset, f},
                  {st::n(), st::i(dims), st::b(r.traditional), st::f(r.base), st::f(1.0), st::b(true)});
    float s = r.attention_scaling();
    if (s != 1.0f) y = tr.op("Multiply", {y, scalar(s)});
    return y;
  }
};

}  // namespace

mx::Function export_model(const std::filesystem::path& dir, const std::vector<int32_t>& sample_ids,
                          const ExportOptions& opts) {
  if (sample_ids.empty()) fail("{}: the sample prompt has no tokens", dir.string());
  formats::ModelDir md = formats::ModelDir::open(dir);
  models::Json cfg = md.effective_config();
  models::ModelConfig c = models::parse_model_config(cfg, (dir / "config.json").string());
  formats::WeightSet ws = formats::WeightSet::open(dir);
  models::DecoderWeights w = models::bind_weights(c, cfg, ws, dir.string());
  if (c.attn_softcap > 0) fail("{}: export with attention softcapping is not supported", dir.string());
  for (const auto& r : c.ropes)
    if (r.depends_on_length())
      fail("{}: export of rope type '{}' (length-dependent frequencies) is not supported", dir.string(), r.type);
  for (int32_t id : sample_ids)
    if (id < 0 || id >= c.vocab_size) fail("sample token id {} is outside the vocabulary [0, {})", id, c.vocab_size);

  Tracer tr(mx::Stream{0, opts.gpu_stream ? 1 : 0, 0});
  Builder b{tr, c, !opts.gpu_stream, int64_t(sample_ids.size())};
  const int64_t T = int64_t(sample_ids.size()), H = c.hidden_size, D = c.head_dim;
  Val ids = tr.input(make({1, T}, kI32, std::vector<double>(sample_ids.begin(), sample_ids.end())));

  // Embedding: Gather rows, drop the slice axis.
  std::vector<double> emb(size_t(c.vocab_size * H));
  {
    std::vector<float> row(H);
    for (int64_t r = 0; r < c.vocab_size; ++r) {
      w.embed.gather(r, row.data());
      std::copy(row.begin(), row.end(), emb.begin() + r * H);
    }
  }
  Val table = tr.constant(make({c.vocab_size, H}, kF32, std::move(emb)));
  Val x = tr.op("Squeeze", {tr.op("Gather", {table, ids}, {st::v({0}), st::v({1, H})})}, {st::v({2})});
  if (c.embed_scale != 0.0f) x = tr.op("Multiply", {x, b.scalar(c.embed_scale)});

  Val offset = b.scalar(0, kI32);
  // Sliding-window mask from the positions (a running sum over ones shaped like the ids), so it stays shapeless.
  std::optional<Val> positions;
  auto window_mask = [&](int64_t window) {
    if (!positions) {
      Val ones = tr.op("Add", {tr.op("Multiply", {ids, b.scalar(0, kI32)}), b.scalar(1, kI32)});
      positions = tr.op("Scan", {ones}, {st::i(2), st::i(1), st::b(false), st::b(true)});
    }
    Val qi = tr.op("ExpandDims", {*positions}, {st::v({2})});
    Val kj = tr.op("ExpandDims", {*positions}, {st::v({1})});
    Val dist = tr.op("Subtract", {qi, kj});
    Val ok = tr.op("LogicalAnd", {tr.op("GreaterEqual", {dist, b.scalar(0, kI32)}, {}, kBool),
                                  tr.op("Less", {dist, b.scalar(double(window), kI32)}, {}, kBool)}, {}, kBool);
    return tr.op("ExpandDims", {ok}, {st::v({1})});
  };

  const float scale = c.attn_scale != 0.0f ? c.attn_scale : float(1.0 / std::sqrt(double(D)));
  const int64_t nq = c.num_heads * D, nkv = c.num_kv_heads * D, I = c.intermediate_size;
  for (int64_t layer = 0; layer < c.num_layers; ++layer) {
    const models::LayerWeights& L = w.layers[size_t(layer)];
    const models::LayerConfig& lc = c.layers[size_t(layer)];
    Val h = b.rms(x, L.input_norm);
    Val q, k, v;
    if (c.fused_qkv) {
      q = b.linear(h, L.qkv, 0, nq);
      k = b.linear(h, L.qkv, nq, nkv);
      v = b.linear(h, L.qkv, nq + nkv, nkv);
    } else {
      q = b.linear(h, L.q);
      k = b.linear(h, L.k);
      v = b.linear(h, L.v);
    }
    q = b.heads(q, c.num_heads, c.qk_norm ? &L.q_norm : nullptr);
    k = b.heads(k, c.num_kv_heads, c.qk_norm ? &L.k_norm : nullptr);
    v = b.heads(v, c.num_kv_heads, nullptr);
    const models::RopeConfig& r = c.ropes[size_t(lc.rope)];
    q = b.rope(q, r, offset);
    k = b.rope(k, r, offset);
    Val attn;
    if (b.decompose)
      attn = b.sdpa_decomposed(q, k, v, scale, lc.sliding_window);
    else if (lc.sliding_window > 0)
      attn = tr.op("ScaledDotProductAttention", {q, k, v, window_mask(lc.sliding_window)},
                   {st::n(), st::f(scale), st::b(false), st::b(false), st::b(false), st::b(false)});
    else
      attn = tr.op("ScaledDotProductAttention", {q, k, v},
                   {st::n(), st::f(scale), st::b(true), st::b(false), st::b(false), st::b(false)});
    attn = tr.op("Flatten", {tr.op("Transpose", {attn}, {st::v({0, 2, 1, 3})})}, {st::i(2), st::i(3)});
    Val o = b.linear(attn, L.o);
    if (c.sandwich_norms) o = b.rms(o, L.post_attention_norm);
    x = tr.op("Add", {x, o});
    h = b.rms(x, c.sandwich_norms ? L.pre_feedforward_norm : L.post_attention_norm);
    if (lc.moe) {
      x = tr.op("Add", {x, b.moe(h, L)});
      continue;
    }
    Val g, u;
    if (c.fused_gate_up) {
      g = b.linear(h, L.gate_up, 0, I);
      u = b.linear(h, L.gate_up, I, I);
    } else {
      g = b.linear(h, L.gate);
      u = b.linear(h, L.up);
    }
    Val m = b.linear(b.act_mul(g, u), L.down);
    if (c.sandwich_norms) m = b.rms(m, L.post_feedforward_norm);
    x = tr.op("Add", {x, m});
  }
  x = b.rms(x, w.final_norm);
  Val logits = b.linear(x, w.lm_head);
  if (c.final_softcap > 0.0f) {
    Val cap = b.scalar(c.final_softcap);
    logits = tr.op("Multiply", {tr.op("Tanh", {tr.op("Divide", {logits, cap})}), cap});
  }
  return tr.finish({logits}, opts.shapeless && opts.gpu_stream, "");
}

}  // namespace mlx::graph
