#include "graph/export_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

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
constexpr MxDtype kU32{3, 4};
constexpr MxDtype kU8{1, 1};
constexpr MxDtype kBool{0, 1};
constexpr MxDtype kF16{9, 2};
constexpr MxDtype kBF16{12, 2};

// MLX QuantizationMode codes {Affine 0, Mxfp4 1, Mxfp8 2, Nvfp4 3} (mlx/primitives.h).
int mlx_mode(quant::QuantMode m) {
  switch (m) {
    case quant::QuantMode::Affine: return 0;
    case quant::QuantMode::MxFp4: return 1;
    case quant::QuantMode::MxFp8: return 2;
    case quant::QuantMode::NvFp4: return 3;
  }
  return 0;
}

// Quantized layers MLX's QuantizedMatmul/GatherQMM take as they are: affine with biases, or an fp mode without a
// global scale (an nvfp4 global_scale has no place in the primitive; such layers are exported dequantized).
bool packable(const models::Linear& L) {
  if (!L.quantized) return false;
  return L.q.mode == quant::QuantMode::Affine ? L.q.biases != nullptr : L.q.global_scale == 0.0f;
}

// Whether mx.fast.scaled_dot_product_attention records the fused primitive (rather than its fallback ops) for
// queries [1, Hq, T, D] against T keys, on a Metal stream by default routing (ScaledDotProductAttention::
// use_fallback, mlx/backend/metal/scaled_dot_product_attention.cpp as of 0c537a41, quoted in MLX issue #3885):
// T <= 8 takes the vector kernel (D in {64, 96, 128, 256}, T * gqa <= 32), T > 8 the full kernel (D in
// {64, 80, 128}). MLX's eval_gpu does not re-check this when a trace is replayed, it picks the kernel by T, so a
// shapeless trace (any T) must be valid for both: D in {64, 128}. (Newer MLX, after PR #4185's force_fused, also
// runs full attention at 72/96 and 192/256, and vector attention at 192/512, the last two only when forced or for
// long keys; CUDA's cuDNN path takes any D <= 128 divisible by 8 in f16/bf16.)
bool mlx_fuses_attention(int64_t D, int64_t T, int64_t gqa, bool shapeless) {
  const bool vector = D == 64 || D == 96 || D == 128 || D == 256;
  const bool full = D == 64 || D == 80 || D == 128;
  if (shapeless) return vector && full;
  return T <= 8 ? vector && T * gqa <= 32 : full;
}

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
  // One constant per distinct weight slice: a tied lm_head is the embedding (the same Linear copied, same data
  // pointers), so both uses share one constant id and the file holds the table once, as MLX's exporter dedups by
  // array id and mlx_lm's tied head (embed.as_linear) reuses the embedding's arrays.
  using SliceKey = std::tuple<const void*, int64_t, int64_t>;
  std::map<SliceKey, Val> float_cache;
  static const void* source(const models::Linear& L) {
    return L.quantized ? static_cast<const void*>(L.q.packed) : L.dense.data;
  }
  // Rows [r0, r0+n) of W (any Linear, quantized ones dequantized) as a float32 [n, in] constant.
  Val float_rows(const models::Linear& L, int64_t r0, int64_t n) {
    SliceKey key{source(L), r0, n};
    if (auto it = float_cache.find(key); it != float_cache.end()) return it->second;
    std::vector<float> w(size_t(n * L.in));
    for (int64_t r = 0; r < n; ++r) L.gather(r0 + r, w.data() + r * L.in);
    return float_cache.emplace(key, tr.constant(Tensor::of_f32({n, L.in}, kF32, std::move(w)))).first->second;
  }
  Val weight_t(const models::Linear& L, int64_t r0, int64_t n) {
    return tr.op("Transpose", {float_rows(L, r0, n)}, {st::v({1, 0})});
  }
  // Packed rows [r0, r0+n) of a quantized layer as constants in their stored dtypes: weights uint32, scales
  // (bf16/f16/f32 for affine, uint8 exponents for fp modes), affine biases. Affine scales/biases are widened to the
  // float32 activations by an AsType op (widen) where they are used, as MLX's quantized_matmul casts them to the
  // input's dtype; storing them widened would double their bytes in the file.
  struct Packed {
    Val w, scales;
    std::optional<Val> biases;
  };
  std::map<SliceKey, Packed> packed_cache;
  Packed packed_rows(const cpu::QuantizedWeight& q, int64_t r0, int64_t n) {
    SliceKey key{q.packed, r0, n};
    if (auto it = packed_cache.find(key); it != packed_cache.end()) return it->second;
    const int64_t words = q.in_features * q.bits / 32, groups = q.in_features / q.group_size;
    const bool affine = q.mode == quant::QuantMode::Affine;
    const MxDtype sd = affine ? mx::mx_dtype(q.scale_dtype) : kU8;
    auto raw = [&](const void* base, int64_t per_row, size_t esize, const Dims& shape, MxDtype dt) {
      const uint8_t* p = static_cast<const uint8_t*>(base) + size_t(r0 * per_row) * esize;
      return tr.constant(from_bytes(p, size_t(n * per_row) * esize, shape, dt, "quantized weight"));
    };
    Packed pk{raw(q.packed, words, 4, {n, words}, kU32), raw(q.scales, groups, sd.size, {n, groups}, sd), {}};
    if (affine) pk.biases = raw(q.biases, groups, sd.size, {n, groups}, sd);
    return packed_cache.emplace(key, pk).first->second;
  }
  // A bf16/f16 value as float32 (AsType); float32 and integer values unchanged.
  Val widen(const Val& v) {
    const MxDtype d = v.t->dtype;
    if (d == kF32 || !(d == kBF16 || d == kF16)) return v;
    return tr.op("AsType", {v}, {st::t(kF32)}, kF32);
  }
  // MLX's quantized Linear: QuantizedMatmul(x, w, scales[, biases]) with (group_size, bits, mode, transpose).
  Val qlinear(const Val& x, const models::Linear& L, int64_t r0, int64_t n) {
    const cpu::QuantizedWeight& q = L.q;
    Packed pk = packed_rows(q, r0, n);
    std::vector<Val> in = {x, pk.w, widen(pk.scales)};
    if (pk.biases) in.push_back(widen(*pk.biases));
    Val y = tr.op("QuantizedMatmul", in, {st::i(q.group_size), st::i(q.bits), st::i(mlx_mode(q.mode)), st::b(true)}, kF32);
    if (!L.bias.empty()) y = tr.op("Add", {y, vec(std::vector<float>(L.bias.begin() + r0, L.bias.begin() + r0 + n))});
    return y;
  }
  Val linear(const Val& x, const models::Linear& L, int64_t r0 = 0, int64_t n = -1) {
    if (n < 0) n = L.out;
    if (packable(L)) return qlinear(x, L, r0, n);
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
  // All experts' weights stacked as one float32 constant [E, in, out] (each expert transposed).
  Val stacked_t(const std::vector<models::Linear>& ls) {
    int64_t E = int64_t(ls.size()), O = ls[0].out, In = ls[0].in;
    std::vector<float> w(size_t(E * In * O));
    std::vector<float> row(In);
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < O; ++r) {
        ls[size_t(e)].gather(r, row.data());
        for (int64_t k = 0; k < In; ++k) w[size_t((e * In + k) * O + r)] = row[size_t(k)];
      }
    return tr.constant(Tensor::of_f32({E, In, O}, kF32, std::move(w)));
  }
  // Quantized experts stacked as [E, out, words] / [E, out, groups] constants for GatherQMM.
  Packed stacked_packed(const std::vector<models::Linear>& ls) {
    std::vector<Packed> each;
    for (const auto& l : ls) each.push_back(packed_rows(l.q, 0, l.out));
    auto stack = [&](auto get) {
      std::vector<Tensor> parts;
      for (auto& p : each) parts.push_back(*get(p).t);
      Dims s = parts[0].shape;
      s.insert(s.begin(), int64_t(parts.size()));
      std::string bytes;
      for (auto& t : parts) bytes += to_bytes(t);
      return tr.constant(from_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), s, parts[0].dtype, "experts"));
    };
    Packed pk{stack([](Packed& p) { return p.w; }), stack([](Packed& p) { return p.scales; }), {}};
    if (each[0].biases) pk.biases = stack([](Packed& p) { return *p.biases; });
    return pk;
  }
  // One projection of every selected expert, as mlx_lm's SwitchLinear / QuantizedSwitchLinear: GatherMM(x, Wᵀ,
  // lhs, rhs) or GatherQMM(x, w, scales[, biases], lhs, rhs, transpose). x [.., 1, in] -> [.., k, 1, out].
  Val expert_mm(const Val& x, const std::vector<models::Linear>& ls, const Val& lhs, const Val& rhs) {
    bool packed = true;
    for (const auto& l : ls) packed &= packable(l) && l.q.mode == ls[0].q.mode;
    if (!packed) return tr.op("GatherMM", {x, stacked_t(ls), lhs, rhs}, {st::b(false), st::b(false)}, kF32);
    const cpu::QuantizedWeight& q = ls[0].q;
    Packed pk = stacked_packed(ls);
    std::vector<Val> in = {x, pk.w, widen(pk.scales)};
    if (pk.biases) in.push_back(widen(*pk.biases));
    in.push_back(lhs);
    in.push_back(rhs);
    return tr.op("GatherQMM", in,
                 {st::i(q.group_size), st::i(q.bits), st::i(mlx_mode(q.mode)), st::b(true), st::b(false), st::b(false)}, kF32);
  }
  // Sparse MoE as mlx_lm's SwitchGLU (small-batch path, no sort): router probabilities, the top-k experts per token,
  // gate/up/down through GatherMM/GatherQMM on those experts only, outputs weighted by the (renormalised) scores.
  // Top-k is k rounds of arg-max and masking (ArgPartition + Slice would bake the length into the trace).
  Val moe(const Val& h, const models::LayerWeights& L, const Val& pos) {
    const int64_t E = int64_t(L.expert_gate.size()), k = c.top_k;
    Val probs = tr.op("Softmax", {linear(h, L.router)}, {st::b(true)});  // [1,T,E]
    std::vector<double> ids(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) ids[size_t(e)] = double(e);
    Val expert_ids = tr.constant(make({E}, kU32, ids));
    std::vector<Val> idx, val;
    Val rest = probs;
    for (int64_t j = 0; j < k; ++j) {
      idx.push_back(tr.op("ArgReduce", {rest}, {st::i(1), st::i(2)}, kU32));  // [1,T,1]
      val.push_back(tr.op("Reduce", {rest}, {st::i(5), st::v({2})}));
      if (j + 1 < k) rest = tr.op("Select", {tr.op("Equal", {idx.back(), expert_ids}, {st::b(false)}, kBool), scalar(-1.0), rest});
    }
    Val inds = k == 1 ? idx[0] : tr.op("Concatenate", idx, {st::i(2)}, kU32);  // [1,T,k]
    Val scores = k == 1 ? val[0] : tr.op("Concatenate", val, {st::i(2)});
    if (c.routing == models::MoeRouting::TopKSoftmax || c.norm_topk_prob)
      scores = tr.op("Divide", {scores, tr.op("Reduce", {scores}, {st::i(2), st::v({2})})});
    // Row of x each (token, slot) reads: token t for gate/up (x is [1,T,1,1,H]), t*k + slot for down.
    Val t = tr.op("ExpandDims", {pos}, {st::v({2})});  // [1,T,1] int32
    Val lhs_in = tr.op("AsType", {tr.op("BroadcastAxes", {t, inds}, {st::v({})})}, {st::t(kU32)}, kU32);
    std::vector<double> slots(static_cast<size_t>(k));
    for (int64_t j = 0; j < k; ++j) slots[size_t(j)] = double(j);
    Val lhs_out = tr.op("AsType", {tr.op("Add", {tr.op("Multiply", {t, scalar(double(k), kI32)}), tr.constant(make({k}, kI32, slots))})},
                        {st::t(kU32)}, kU32);
    Val x5 = tr.op("ExpandDims", {h}, {st::v({2, 3})});  // [1,T,1,1,H]
    Val g = expert_mm(x5, L.expert_gate, lhs_in, inds);  // [1,T,k,1,I]
    Val u = expert_mm(x5, L.expert_up, lhs_in, inds);
    Val d = expert_mm(act_mul(g, u), L.expert_down, lhs_out, inds);  // [1,T,k,1,H]
    Val y = tr.op("Multiply", {tr.op("Squeeze", {d}, {st::v({3})}), tr.op("ExpandDims", {scores}, {st::v({3})})});
    return tr.op("Squeeze", {tr.op("Reduce", {y}, {st::i(2), st::v({2})})}, {st::v({2})});  // [1,T,H]
  }
  // Token embeddings [1,T,H]. Float tables: Gather rows, drop the slice axis. Quantized tables stay packed, as
  // mlx_lm's QuantizedEmbedding: gather the rows of weight/scales/biases, then dequantize; affine tables whose bit
  // width divides 32 with the ops MLX's dequantize falls back to (shift, mask, scale, bias), which every MLX
  // backend runs, the others through fast::Quantize.
  Val embed(const models::Linear& E, const Val& ids) {
    const int64_t V = E.out, H = E.in;
    auto rows = [&](const Val& table) {
      Dims sizes = table.shape();
      sizes[0] = 1;
      return tr.op("Squeeze", {tr.op("Gather", {table, ids}, {st::v({0}), st::v(sizes)})}, {st::v({2})});
    };
    const cpu::QuantizedWeight& q = E.q;
    if (packable(E) && q.mode == quant::QuantMode::Affine && 32 % q.bits == 0) {
      Packed pk = packed_rows(q, 0, V);
      const int64_t per_word = 32 / q.bits, groups = H / q.group_size;
      std::vector<double> shifts(static_cast<size_t>(per_word));
      for (int64_t j = 0; j < per_word; ++j) shifts[size_t(j)] = double(j * q.bits);
      Val words = tr.op("ExpandDims", {rows(pk.w)}, {st::v({3})});  // [1,T,W,1]
      Val sh = tr.op("BitwiseBinary", {words, tr.constant(make({per_word}, kU32, shifts))}, {st::i(4)});
      Val qv = tr.op("BitwiseBinary", {sh, scalar(double((1u << q.bits) - 1), kU32)}, {st::i(0)});
      Val f = tr.op("AsType", {tr.op("Flatten", {qv}, {st::i(2), st::i(3)})}, {st::t(kF32)}, kF32);  // [1,T,H]
      Val g = tr.op("Unflatten", {f}, {st::i(2), st::v({groups, q.group_size})});      // [1,T,G,gs]
      // Only the gathered rows of scales/biases are widened (per call, [1,T,G]), not the whole table.
      Val y = tr.op("Add", {tr.op("Multiply", {g, tr.op("ExpandDims", {widen(rows(pk.scales))}, {st::v({3})})}),
                            tr.op("ExpandDims", {widen(rows(*pk.biases))}, {st::v({3})})});
      return tr.op("Flatten", {y}, {st::i(2), st::i(3)});
    }
    if (packable(E)) {
      // Other packed tables (fp modes; affine bit widths whose values straddle words) stay packed too: the rows are
      // gathered and dequantized by fast::Quantize (dequantize = true), what mx.dequantize records and every MLX
      // backend runs (it has a CPU kernel). Affine scales/biases are widened first: the kernel reads them in the
      // output's dtype.
      Packed pk = packed_rows(q, 0, V);
      std::vector<Val> in = {rows(pk.w), widen(rows(pk.scales))};
      if (pk.biases) in.push_back(widen(rows(*pk.biases)));
      return tr.op("Quantize", in, {st::n(), st::i(q.group_size), st::i(q.bits), st::i(mlx_mode(q.mode)), st::b(true)}, kF32);
    }
    return rows(float_rows(E, 0, V));
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
  // Attention as MLX's own fallback records it (fast.cpp: scale q, group the query heads per kv head, scores,
  // mask, softmax(precise), values), for what MLX's fused kernels do not cover (see mlx_fuses_attention) and
  // attention logit soft-capping (mlx_lm gemma2: tanh(s / cap) * cap before the mask). Masks come from
  // `visible` [1,T,T] bool, so the trace stays shapeless.
  Val attention_ops(const Val& q, Val k, Val v, float scale, const Val& visible) {
    const int64_t Hq = q.shape()[1], Hk = k.shape()[1];
    Val qs = tr.op("Multiply", {scalar(scale), q});
    if (Hq != Hk) {
      qs = tr.op("Unflatten", {qs}, {st::i(1), st::v({Hk, Hq / Hk})});  // [1,Hk,rep,T,D]
      k = tr.op("ExpandDims", {k}, {st::v({2})});
      v = tr.op("ExpandDims", {v}, {st::v({2})});
    }
    Dims swap;
    for (int64_t a = 0; a < int64_t(k.shape().size()); ++a) swap.push_back(a);
    std::swap(swap[swap.size() - 1], swap[swap.size() - 2]);
    Val scores = tr.op("Matmul", {qs, tr.op("Transpose", {k}, {st::v(swap)})});
    if (c.attn_softcap > 0) {
      Val cap = scalar(c.attn_softcap);
      scores = tr.op("Multiply", {tr.op("Tanh", {tr.op("Divide", {scores, cap})}), cap});
    }
    Val mask = tr.op("ExpandDims", {visible}, {st::v({1})});  // [1,1,T,T]
    if (Hq != Hk) mask = tr.op("ExpandDims", {mask}, {st::v({1})});
    scores = tr.op("Select", {mask, scores, scalar(-3.4028234663852886e38)});  // finfo(float32).min, as MLX
    Val out = tr.op("Matmul", {tr.op("Softmax", {scores}, {st::b(true)}), v});
    if (Hq != Hk) out = tr.op("Flatten", {out}, {st::i(1), st::i(2)});
    return out;
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
    // yarn / longrope scale the rotated dims only (mlx_lm scales x[..., :dims] before the rotation; the same up
    // to rounding); with partial rotary the pass-through dims keep their values.
    float s = r.attention_scaling();
    if (s != 1.0f) {
      const int64_t D = x.shape().back();
      std::vector<float> per(size_t(D), 1.0f);
      std::fill(per.begin(), per.begin() + dims, s);
      y = tr.op("Multiply", {y, dims == D ? scalar(s) : vec(per)});
    }
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
  for (int32_t id : sample_ids)
    if (id < 0 || id >= c.vocab_size) fail("sample token id {} is outside the vocabulary [0, {})", id, c.vocab_size);

  Tracer tr(mx::Stream{0, opts.gpu_stream ? 1 : 0, 0});
  Builder b{tr, c, !opts.gpu_stream, int64_t(sample_ids.size()), {}, {}};
  const int64_t T = int64_t(sample_ids.size()), D = c.head_dim;
  Val ids = tr.input(make({1, T}, kI32, std::vector<double>(sample_ids.begin(), sample_ids.end())));

  Val x = b.embed(w.embed, ids);
  if (c.embed_scale != 0.0f) x = tr.op("Multiply", {x, b.scalar(c.embed_scale)});

  Val offset = b.scalar(0, kI32);
  // Positions 0..T-1 as int32 [1,T]: ArgSort of zeros shaped like the ids. MLX's argsort is stable on every
  // backend, so equal keys keep index order: CPU stable sort (mlx/backend/cpu/sort.cpp); Metal merge sort
  // (kernels/sort.h: the odd-even thread sort swaps only on a strict less, the merge takes the left run on ties,
  // padding is the maximum value, after any 0); CUDA the same block merge sort, and cub's
  // DeviceSegmentedSort::StableSortPairs for long rows. Shapeless for MLX too, where a cumsum (Scan) has no
  // output_shapes.
  std::optional<Val> pos_cache;
  auto positions = [&]() {
    if (!pos_cache) {
      Val order = tr.op("ArgSort", {tr.op("Multiply", {ids, b.scalar(0, kI32)})}, {st::i(1)}, kU32);
      pos_cache = tr.op("AsType", {order}, {st::t(kI32)}, kI32);
    }
    return *pos_cache;
  };
  // Sliding-window mask from the positions: key j is visible from query i when 0 <= i - j < window.
  // Which keys each query sees, [1,T,T] bool: causal, and within the window when there is one.
  auto visible = [&](int64_t window) {
    Val qi = tr.op("ExpandDims", {positions()}, {st::v({2})});
    Val kj = tr.op("ExpandDims", {positions()}, {st::v({1})});
    Val dist = tr.op("Subtract", {qi, kj});
    Val ok = tr.op("GreaterEqual", {dist, b.scalar(0, kI32)}, {}, kBool);
    if (window > 0) ok = tr.op("LogicalAnd", {ok, tr.op("Less", {dist, b.scalar(double(window), kI32)}, {}, kBool)}, {}, kBool);
    return ok;
  };
  const bool fused_attention =
      c.attn_softcap == 0.0f &&
      (opts.fused_attention_any_head_dim || mlx_fuses_attention(D, T, c.num_heads / std::max<int64_t>(1, c.num_kv_heads),
                                                                opts.shapeless));

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
    else if (!fused_attention)
      attn = b.attention_ops(q, k, v, scale, visible(lc.sliding_window));
    else if (lc.sliding_window > 0)
      // An additive float mask: every MLX backend's fused attention takes one (CUDA's converts boolean masks at
      // op level, before the primitive exists, so an imported boolean mask would reach its kernel unconverted).
      attn = tr.op("ScaledDotProductAttention",
                   {q, k, v, tr.op("ExpandDims", {tr.op("Select", {visible(lc.sliding_window), b.scalar(0.0), b.scalar(-INFINITY)})}, {st::v({1})})},
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
      x = tr.op("Add", {x, b.moe(h, L, positions())});
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
