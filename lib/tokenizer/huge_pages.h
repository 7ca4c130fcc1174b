// Memory for the multi-megabyte arrays built while loading a tokenizer (token bytes, entry lists, hash tables).
// Why: fresh anonymous memory is committed one 4 KiB page fault at a time, and a page fault is expensive (measured
// 10-35 us each on the shared VM this project is developed on, so ~4000 faults cost more than the whole parse).
// Large blocks are therefore mapped 2 MiB aligned with MADV_HUGEPAGE: a transparent huge page is committed by one
// fault. Blocks are zero-filled (the kernel zeroes new pages anyway), which hash tables use as "all slots empty".
#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace mlx::tok {

inline constexpr size_t kHugePage = size_t(2) << 20;
inline constexpr size_t kHugeThreshold = size_t(1) << 20;  // smaller blocks come from calloc

// Zeroed memory of `bytes` bytes; throws std::bad_alloc. Free with huge_free(p, bytes).
inline void* huge_alloc(size_t bytes) {
  if (bytes < kHugeThreshold) {
    void* p = std::calloc(bytes ? bytes : 1, 1);
    if (!p) throw std::bad_alloc();
    return p;
  }
  size_t len = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* base = mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  auto b = reinterpret_cast<uintptr_t>(base);
  uintptr_t aligned = (b + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > b) munmap(base, aligned - b);  // trim to a 2 MiB aligned range
  if (b + kHugePage > aligned) munmap(reinterpret_cast<void*>(aligned + len), b + kHugePage - aligned);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);  // advice only: without THP, plain pages
#endif
  return reinterpret_cast<void*>(aligned);
}

inline void huge_free(void* p, size_t bytes) noexcept {
  if (!p) return;
  if (bytes < kHugeThreshold) {
    std::free(p);
    return;
  }
  munmap(p, (bytes + kHugePage - 1) / kHugePage * kHugePage);
}

// std::allocator replacement for std::vector / std::basic_string holding big load-time data. Reserving far more
// than is used costs only address space: untouched pages are never committed.
template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(huge_alloc(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { huge_free(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;
using HugeString = std::basic_string<char, std::char_traits<char>, HugePageAllocator<char>>;

// A fixed-size, zero-filled array of an implicit-lifetime type T (hash table slots).
template <class T>
class ZeroedArray {
 public:
  ZeroedArray() = default;
  explicit ZeroedArray(size_t n) : data_(static_cast<T*>(huge_alloc(n * sizeof(T)))), size_(n) {}
  ZeroedArray(ZeroedArray&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  ZeroedArray& operator=(ZeroedArray&& o) noexcept {
    if (this != &o) {
      huge_free(data_, size_ * sizeof(T));
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ZeroedArray(const ZeroedArray&) = delete;
  ZeroedArray& operator=(const ZeroedArray&) = delete;
  ~ZeroedArray() { huge_free(data_, size_ * sizeof(T)); }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mlx::tok
