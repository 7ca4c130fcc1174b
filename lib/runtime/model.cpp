#include "runtime/model.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "formats/model_dir.h"
#include "formats/weight_set.h"
#include "models/family.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/moe.h"
#include "ops/norm.h"
#include "ops/rope.h"

namespace mlx {

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const fs::path& dir) {
  formats::ModelDir md = formats::ModelDir::open(dir);
  models::Json cfg = md.effective_config();
  std::unique_ptr<Model> m(new Model());
  m->config_ = models::parse_model_config(cfg, (dir / "config.json").string());
  m->weights_file_ = std::make_unique<formats::WeightSet>(formats::WeightSet::open(dir));
  m->w_ = models::bind_weights(m->config_, cfg, *m->weights_file_, dir.string());
  const models::ModelConfig& c = m->config_;
  ModelInfo& i = m->info_;
  i.path = dir;
  i.model_type = c.model_type;
  i.vocab_size = c.vocab_size;
  i.max_position_embeddings = c.max_position_embeddings;
  i.hidden_size = c.hidden_size;
  i.num_layers = c.num_layers;
  for (int64_t e : c.eos_token_ids) i.eos_token_ids.push_back(static_cast<int32_t>(e));
  if (c.bos_token_id) i.bos_token_id = static_cast<int32_t>(*c.bos_token_id);
  i.dtype = m->w_.dtype;
  i.quantization = m->w_.quantization;
  for (const models::RopeConfig& r : c.ropes) {
    m->inv_freq_.push_back(r.inv_freq(1));
    m->rope_scaling_.push_back(r.attention_scaling());
  }
  return m;
}

std::unique_ptr<KVCache> Model::make_cache(int max_kv_size) const {
  std::vector<int64_t> windows;
  for (const models::LayerConfig& l : config_.layers) windows.push_back(l.sliding_window);
  return std::make_unique<KVCache>(windows, config_.num_kv_heads, config_.head_dim, max_kv_size);
}

void Model::reserve(int64_t n) {
  if (n <= cap_) return;
  const models::ModelConfig& c = config_;
  const int64_t H = c.hidden_size, nq = c.num_heads * c.head_dim, nkv = c.num_kv_heads * c.head_dim;
  const int64_t I = std::max(c.intermediate_size, c.moe_intermediate_size);
  const int64_t K = std::max<int64_t>(c.top_k, 1);
  auto grow = [](std::vector<float>& v, int64_t size) { v.resize(static_cast<size_t>(size)); };
  grow(x_, n * H);
  grow(h_, n * H);
  grow(q_, n * nq);
  grow(k_, n * nkv);
  grow(v_, n * nkv);
  grow(qkv_, c.fused_qkv ? n * (nq + 2 * nkv) : 0);
  grow(attn_, n * nq);
  grow(tmp_, n * H);
  grow(gate_, n * 2 * I);
  grow(up_, n * I);
  grow(router_, n * std::max<int64_t>(c.num_experts, 1));
  grow(moe_x_, n * H);
  grow(moe_y_, n * H);
  positions_.resize(size_t(n));
  moe_ids_.resize(size_t(n * K));
  moe_w_.resize(size_t(n * K));
  moe_tokens_.resize(size_t(n));
  moe_tw_.resize(size_t(n));
  cap_ = n;
}

void Model::attention_block(int layer, int64_t n, KVCache& cache) {
  const models::ModelConfig& c = config_;
  const models::LayerWeights& L = w_.layers[size_t(layer)];
  const int64_t D = c.head_dim, nq = c.num_heads * D, nkv = c.num_kv_heads * D;
  if (c.fused_qkv) {
    const int64_t row = nq + 2 * nkv;
    L.qkv.apply(h_.data(), n, qkv_.data());
    for (int64_t t = 0; t < n; ++t) {
      const float* src = qkv_.data() + t * row;
      std::memcpy(q_.data() + t * nq, src, size_t(nq) * sizeof(float));
      std::memcpy(k_.data() + t * nkv, src + nq, size_t(nkv) * sizeof(float));
      std::memcpy(v_.data() + t * nkv, src + nq + nkv, size_t(nkv) * sizeof(float));
    }
  } else {
    L.q.apply(h_.data(), n, q_.data());
    L.k.apply(h_.data(), n, k_.data());
    L.v.apply(h_.data(), n, v_.data());
  }
  const float eps = static_cast<float>(c.rms_norm_eps);
  if (c.qk_norm) {
    ops::rms_norm(q_.data(), n * c.num_heads, D, L.q_norm.data(), eps, c.norm_plus_one, q_.data());
    ops::rms_norm(k_.data(), n * c.num_kv_heads, D, L.k_norm.data(), eps, c.norm_plus_one, k_.data());
  }
  const int ri = c.layers[size_t(layer)].rope;
  const models::RopeConfig& rope = c.ropes[size_t(ri)];
  const int64_t p0 = cache.offset();
  std::vector<float> dynamic_freq;
  const std::vector<float>* freq = &inv_freq_[size_t(ri)];
  if (rope.depends_on_length()) {
    dynamic_freq = rope.inv_freq(p0 + n);
    freq = &dynamic_freq;
  }
  ops::rope(q_.data(), n, c.num_heads, D, positions_.data(), rope, *freq, rope_scaling_[size_t(ri)]);
  ops::rope(k_.data(), n, c.num_kv_heads, D, positions_.data(), rope, *freq, rope_scaling_[size_t(ri)]);
  cache.append(layer, k_.data(), v_.data(), n);
  ops::KVSpan spans[2];
  const int ns = cache.spans(layer, spans);
  ops::AttentionParams p;
  p.heads = c.num_heads;
  p.kv_heads = c.num_kv_heads;
  p.head_dim = D;
  p.scale = c.attn_scale;
  p.softcap = c.attn_softcap;
  cache.visibility(layer, p);
  ops::attention(q_.data(), n, p0, std::span<const ops::KVSpan>(spans, size_t(ns)), p, attn_.data());
  L.o.apply(attn_.data(), n, tmp_.data());
}

namespace {
void gated(models::Activation a, const float* gate, const float* up, int64_t n, float* out) {
  if (a == models::Activation::GeluTanh) ops::gelu_tanh_mul(gate, up, n, out);
  else ops::silu_mul(gate, up, n, out);
}
}  // namespace

void Model::mlp_block(int layer, int64_t n) {
  const models::ModelConfig& c = config_;
  const models::LayerWeights& L = w_.layers[size_t(layer)];
  const int64_t I = c.intermediate_size;
  if (c.fused_gate_up) {
    L.gate_up.apply(h_.data(), n, gate_.data());
    for (int64_t t = 0; t < n; ++t) {
      float* row = gate_.data() + t * 2 * I;
      gated(c.activation, row, row + I, I, up_.data() + t * I);
    }
  } else {
    L.gate.apply(h_.data(), n, gate_.data());
    L.up.apply(h_.data(), n, up_.data());
    gated(c.activation, gate_.data(), up_.data(), n * I, up_.data());
  }
  L.down.apply(up_.data(), n, tmp_.data());
}

void Model::moe_block(int layer, int64_t n) {
  const models::ModelConfig& c = config_;
  const models::LayerWeights& L = w_.layers[size_t(layer)];
  const int64_t E = c.num_experts, K = c.top_k, H = c.hidden_size, I = c.moe_intermediate_size;
  L.router.apply(h_.data(), n, router_.data());
  const bool renorm = c.routing == models::MoeRouting::TopKSoftmax || c.norm_topk_prob;
  for (int64_t t = 0; t < n; ++t)
    ops::route_topk(router_.data() + t * E, E, K, renorm, moe_ids_.data() + t * K, moe_w_.data() + t * K);
  std::fill(tmp_.begin(), tmp_.begin() + n * H, 0.0f);
  // Expert by expert over the tokens routed to it: only the selected experts' weights are touched.
  for (int64_t e = 0; e < E; ++e) {
    int64_t cnt = 0;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < K; ++j)
        if (moe_ids_[size_t(t * K + j)] == e) {
          moe_tokens_[size_t(cnt)] = static_cast<int32_t>(t);
          moe_tw_[size_t(cnt)] = moe_w_[size_t(t * K + j)];
          std::memcpy(moe_x_.data() + cnt * H, h_.data() + t * H, size_t(H) * sizeof(float));
          ++cnt;
        }
    if (cnt == 0) continue;
    L.expert_gate[size_t(e)].apply(moe_x_.data(), cnt, gate_.data());
    L.expert_up[size_t(e)].apply(moe_x_.data(), cnt, up_.data());
    gated(c.activation, gate_.data(), up_.data(), cnt * I, up_.data());
    L.expert_down[size_t(e)].apply(up_.data(), cnt, moe_y_.data());
    for (int64_t r = 0; r < cnt; ++r) {
      float* dst = tmp_.data() + int64_t(moe_tokens_[size_t(r)]) * H;
      const float* src = moe_y_.data() + r * H;
      const float wgt = moe_tw_[size_t(r)];
      for (int64_t d = 0; d < H; ++d) dst[d] += wgt * src[d];
    }
  }
}

void Model::forward(std::span<const int32_t> tokens, KVCache& cache, float* logits, bool all_positions) {
  const models::ModelConfig& c = config_;
  const int64_t n = static_cast<int64_t>(tokens.size()), H = c.hidden_size;
  if (n == 0) fail("forward: empty input");
  if (cache.num_layers() != c.num_layers) fail("forward: the cache has {} layers, the model {}", cache.num_layers(), c.num_layers);
  for (int32_t id : tokens)
    if (id < 0 || id >= c.vocab_size) fail("token id {} is outside the vocabulary [0, {})", id, c.vocab_size);
  reserve(n);
  const int64_t p0 = cache.offset();
  for (int64_t t = 0; t < n; ++t) positions_[size_t(t)] = static_cast<int32_t>(p0 + t);
  for (int64_t t = 0; t < n; ++t) {
    float* row = x_.data() + t * H;
    w_.embed.gather(tokens[size_t(t)], row);
    if (c.embed_scale != 0.0f)
      for (int64_t d = 0; d < H; ++d) row[d] *= c.embed_scale;
  }
  if (capture_) {
    capture_->embed.assign(x_.begin(), x_.begin() + n * H);
    capture_->layers.clear();
  }
  const float eps = static_cast<float>(c.rms_norm_eps);
  const bool p1 = c.norm_plus_one;
  for (int layer = 0; layer < c.num_layers; ++layer) {
    const models::LayerWeights& L = w_.layers[size_t(layer)];
    ops::rms_norm(x_.data(), n, H, L.input_norm.data(), eps, p1, h_.data());
    attention_block(layer, n, cache);
    if (c.sandwich_norms) ops::rms_norm(tmp_.data(), n, H, L.post_attention_norm.data(), eps, p1, tmp_.data());
    for (int64_t i = 0; i < n * H; ++i) x_[size_t(i)] += tmp_[size_t(i)];
    const std::vector<float>& pre = c.sandwich_norms ? L.pre_feedforward_norm : L.post_attention_norm;
    ops::rms_norm(x_.data(), n, H, pre.data(), eps, p1, h_.data());
    if (c.layers[size_t(layer)].moe) moe_block(layer, n);
    else mlp_block(layer, n);
    if (c.sandwich_norms) ops::rms_norm(tmp_.data(), n, H, L.post_feedforward_norm.data(), eps, p1, tmp_.data());
    for (int64_t i = 0; i < n * H; ++i) x_[size_t(i)] += tmp_[size_t(i)];
    if (capture_) capture_->layers.emplace_back(x_.begin(), x_.begin() + n * H);
  }
  cache.commit(n);
  // Only the rows whose logits are wanted go through the final norm and the head.
  const int64_t first = (all_positions || capture_) ? 0 : n - 1;
  const int64_t rows = n - first;
  ops::rms_norm(x_.data() + first * H, rows, H, w_.final_norm.data(), eps, p1, h_.data());
  if (capture_) capture_->final_norm.assign(h_.begin(), h_.begin() + n * H);
  const int64_t out_first = all_positions ? 0 : rows - 1;
  const int64_t out_rows = all_positions ? rows : 1;
  w_.lm_head.apply(h_.data() + out_first * H, out_rows, logits);
  if (c.final_softcap > 0.0f) ops::softcap(logits, out_rows * c.vocab_size, c.final_softcap);
}

}  // namespace mlx
