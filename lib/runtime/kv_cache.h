// Per-layer attention keys/values in float32: grown in 256-token steps, bounded for sliding-window layers and,
// with --max-kv-size, rotating like mlx_lm's RotatingKVCache (the first `keep` = 4 tokens stay, then the most
// recent ones), for every family.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ops/attention.h"

namespace mlx {

class KVCache {
 public:
  static constexpr int64_t kStep = 256;
  static constexpr int64_t kKeep = 4;

  // One entry per layer: its sliding window (0 = full attention). max_kv_size 0 = unbounded.
  KVCache(std::span<const int64_t> layer_windows, int64_t kv_heads, int64_t head_dim, int64_t max_kv_size = 0);

  int64_t offset() const { return offset_; }          // tokens seen so far (= position of the next token)
  int64_t max_kv_size() const { return max_kv_size_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }

  // Drops the last n tokens (chat prefix reuse). Possible only while no layer has discarded anything yet;
  // throws mlx::Error otherwise. Returns the number of tokens removed.
  int64_t trim(int64_t n);
  bool can_trim(int64_t n) const;
  void clear();
  // Bytes held by the cache buffers.
  size_t nbytes() const;

  // --- used by the forward pass ---
  // Appends n rows of k/v ([n, kv_heads*head_dim]) to `layer` at positions offset()..offset()+n-1.
  void append(int layer, const float* k, const float* v, int64_t n);
  // The cached runs of `layer` (pinned first tokens, then the live window) for ops::attention.
  int spans(int layer, ops::KVSpan out[2]) const;
  // The attention visibility rules of `layer` (window / keep / recent) written into p.
  void visibility(int layer, ops::AttentionParams& p) const;
  // After all layers appended n tokens: advance the offset and drop what no future query can see.
  void commit(int64_t n);

 private:
  struct Layer {
    int64_t window = 0;   // sliding window of the layer (0 = none)
    int64_t reserved = 0; // slots [0, reserved) hold the pinned first tokens (rotating cache only)
    int64_t npinned = 0;
    int64_t begin = 0, end = 0;  // live slots; slot begin holds position first_pos
    int64_t first_pos = 0;
    int64_t capacity = 0;        // slots
    bool dropped = false;        // something was discarded (no more trimming)
    std::vector<float> k, v;
  };
  void ensure(Layer& l, int64_t extra);
  void retain(Layer& l, int64_t next_pos);
  int64_t row_ = 0;
  int64_t offset_ = 0;
  int64_t max_kv_size_ = 0;
  std::vector<Layer> layers_;
};

}  // namespace mlx
