#include "runtime/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace mlx {

KVCache::KVCache(std::span<const int64_t> layer_windows, int64_t kv_heads, int64_t head_dim, int64_t max_kv_size)
    : row_(kv_heads * head_dim), max_kv_size_(max_kv_size) {
  if (max_kv_size < 0) fail("--max-kv-size must be >= 0, got {}", max_kv_size);
  if (max_kv_size > 0 && max_kv_size <= kKeep) fail("--max-kv-size must be larger than {}, got {}", kKeep, max_kv_size);
  layers_.resize(layer_windows.size());
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = layers_[i];
    l.window = layer_windows[i];
    l.reserved = max_kv_size_ > 0 ? kKeep : 0;
    l.begin = l.end = l.reserved;
  }
}

void KVCache::ensure(Layer& l, int64_t extra) {
  if (l.end + extra <= l.capacity) return;
  // Slide the live window back to the front first (amortised: it only happens when the buffer end is reached).
  if (l.begin > l.reserved) {
    const int64_t live = l.end - l.begin;
    std::memmove(l.k.data() + l.reserved * row_, l.k.data() + l.begin * row_, size_t(live * row_) * sizeof(float));
    std::memmove(l.v.data() + l.reserved * row_, l.v.data() + l.begin * row_, size_t(live * row_) * sizeof(float));
    l.begin = l.reserved;
    l.end = l.reserved + live;
  }
  if (l.end + extra <= l.capacity) return;
  const int64_t need = l.end + extra;
  const int64_t cap = (need + kStep - 1) / kStep * kStep;
  l.k.resize(size_t(cap * row_));
  l.v.resize(size_t(cap * row_));
  l.capacity = cap;
}

void KVCache::append(int layer, const float* k, const float* v, int64_t n) {
  Layer& l = layers_.at(size_t(layer));
  ensure(l, n);
  std::memcpy(l.k.data() + l.end * row_, k, size_t(n * row_) * sizeof(float));
  std::memcpy(l.v.data() + l.end * row_, v, size_t(n * row_) * sizeof(float));
  l.end += n;
}

int KVCache::spans(int layer, ops::KVSpan out[2]) const {
  const Layer& l = layers_.at(size_t(layer));
  int n = 0;
  if (l.npinned > 0) out[n++] = {l.k.data(), l.v.data(), l.npinned, 0};
  if (l.end > l.begin) out[n++] = {l.k.data() + l.begin * row_, l.v.data() + l.begin * row_, l.end - l.begin, l.first_pos};
  return n;
}

void KVCache::visibility(int layer, ops::AttentionParams& p) const {
  const Layer& l = layers_.at(size_t(layer));
  p.window = l.window;
  p.keep = max_kv_size_ > 0 ? kKeep : 0;
  p.recent = max_kv_size_ > 0 ? max_kv_size_ - kKeep : 0;
}

// Drops live entries that no query at position >= next_pos can see; with a rotating cache the first kKeep
// positions move to the pinned slots instead.
void KVCache::retain(Layer& l, int64_t next_pos) {
  while (l.begin < l.end) {
    const int64_t j = l.first_pos;  // live entries are in position order: the first one is the oldest
    bool needed = l.window == 0 || next_pos - j < l.window;
    bool pin = false;
    if (max_kv_size_ > 0 && next_pos - j >= max_kv_size_ - kKeep) {
      pin = needed && j < kKeep;
      needed = false;
    }
    if (needed) break;
    if (pin) {  // one of the first kKeep tokens: it stays visible forever, in its reserved slot
      std::memcpy(l.k.data() + j * row_, l.k.data() + l.begin * row_, size_t(row_) * sizeof(float));
      std::memcpy(l.v.data() + j * row_, l.v.data() + l.begin * row_, size_t(row_) * sizeof(float));
      l.npinned = j + 1;
    }
    l.dropped = true;
    ++l.begin;
    ++l.first_pos;
  }
  if (l.begin == l.end) l.begin = l.end = l.reserved;
}

void KVCache::commit(int64_t n) {
  offset_ += n;
  for (Layer& l : layers_) {
    // Make sure the pinned slots exist before the first token moves there.
    if (l.reserved > 0 && l.capacity < l.reserved) ensure(l, 0);
    retain(l, offset_);
  }
}

bool KVCache::can_trim(int64_t n) const {
  if (n < 0 || n > offset_) return false;
  for (const Layer& l : layers_)
    if (l.dropped) return false;
  return true;
}

int64_t KVCache::trim(int64_t n) {
  if (n == 0) return 0;
  if (!can_trim(n)) fail("the KV cache cannot drop {} of its {} tokens (it has already rotated)", n, offset_);
  for (Layer& l : layers_) l.end -= n;
  offset_ -= n;
  return n;
}

void KVCache::clear() {
  offset_ = 0;
  for (Layer& l : layers_) {
    l.npinned = 0;
    l.begin = l.end = l.reserved;
    l.first_pos = 0;
    l.dropped = false;
  }
}

size_t KVCache::nbytes() const {
  size_t b = 0;
  for (const Layer& l : layers_) b += (l.k.capacity() + l.v.capacity()) * sizeof(float);
  return b;
}

}  // namespace mlx
