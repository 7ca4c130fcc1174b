// Safetensors files: a validating zero-copy reader (mmap) and a streaming writer (header first, tensors as they come).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/file_io.h"

namespace mlx::formats {

namespace fs = std::filesystem;

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_string(const Shape& shape);  // "[512, 64]"

// One tensor inside a mapped file: no copy, valid while its SafetensorsFile lives.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t numel() const { return shape_numel(shape); }
};

// A safetensors file mapped read-only. open() validates the whole header before any tensor is exposed:
// 8-byte length <= 100 MB and <= file size, a JSON object, known dtypes, shape x dtype size = offsets span,
// offsets inside the data area, no two tensors overlapping, `__metadata__` a string -> string map.
class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

  static SafetensorsFile open(const fs::path& path);

  const fs::path& path() const { return file_.path(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }  // sorted by name
  const TensorView* find(std::string_view name) const;                  // nullptr when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  size_t file_size() const { return file_.size(); }
  // Tells the kernel the pages of `t` are no longer needed by this process (keeps peak RSS low when streaming).
  void release(const TensorView& t) const;

 private:
  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// What a writer needs to know about a tensor before its data exists.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  size_t nbytes() const { return size_t(shape_numel(shape)) * dtype_size(dtype); }
};

// Writes one safetensors file. All tensor specs are known up front, so the header (keys sorted, `__metadata__`,
// padded with spaces so data starts 8-byte aligned) is written first and every tensor has a fixed offset;
// write() may then be called in any order, from any thread (pwrite). Tensors whose size is a multiple of 8 are
// laid out first so that in the usual case the data is both 8-byte aligned and gap-free (HF's reader rejects gaps).
class SafetensorsWriter {
 public:
  SafetensorsWriter(const fs::path& path, std::vector<TensorSpec> specs,
                    const std::map<std::string, std::string>& metadata = {{"format", "mlx"}});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // Index of `name` in the specs, or -1.
  int64_t index_of(std::string_view name) const;
  // Writes the bytes of tensor `index` (exactly specs[index].nbytes() bytes). Thread-safe.
  void write(size_t index, const void* data);
  void write(std::string_view name, const void* data);
  // Checks every tensor was written, flushes and closes. Errors name the file (e.g. disk full).
  void finish();
  const fs::path& path() const { return path_; }
  const std::vector<TensorSpec>& specs() const { return specs_; }

 private:
  fs::path path_;
  int fd_ = -1;
  std::vector<TensorSpec> specs_;
  std::vector<uint64_t> offsets_;  // absolute file offsets
  std::vector<char> written_;
  std::map<std::string, size_t, std::less<>> by_name_;
  uint64_t file_size_ = 0;
};

// Convenience: writes a whole file from in-memory tensors (tests, small files), atomically.
struct OwnedTensor {
  TensorSpec spec;
  std::string bytes;
};
void write_safetensors(const fs::path& path, const std::vector<OwnedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "mlx"}});

}  // namespace mlx::formats
