// Streaming safetensors writer: the layout is fixed from the specs, so tensors can be written as they are produced.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "formats/safetensors.h"

namespace mlx::formats {

namespace {

void pwrite_all(int fd, const void* data, size_t n, uint64_t offset, const fs::path& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, std::min<size_t>(n, size_t(1) << 30), off_t(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("{}: write failed: {}", path.string(), std::strerror(errno));
    }
    if (w == 0) fail("{}: write failed: no progress (disk full?)", path.string());
    p += w;
    n -= size_t(w);
    offset += uint64_t(w);
  }
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(const fs::path& path, std::vector<TensorSpec> specs,
                                     const std::map<std::string, std::string>& metadata)
    : path_(path), specs_(std::move(specs)) {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name == "__metadata__") fail("{}: a tensor cannot be named __metadata__", path_.string());
    if (!by_name_.emplace(specs_[i].name, i).second)
      fail("{}: tensor '{}' given twice", path_.string(), specs_[i].name);
  }
  // Data layout: sizes that are multiples of 8 first (then every start stays aligned with no gap), the rest after.
  std::vector<size_t> order(specs_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    bool ua = specs_[a].nbytes() % 8 != 0, ub = specs_[b].nbytes() % 8 != 0;
    if (ua != ub) return !ua;
    return specs_[a].name < specs_[b].name;
  });
  std::vector<uint64_t> rel(specs_.size());
  uint64_t pos = 0;
  for (size_t i : order) {
    pos = (pos + 7) & ~uint64_t(7);
    rel[i] = pos;
    pos += specs_[i].nbytes();
  }
  const uint64_t data_size = pos;

  nlohmann::json header = nlohmann::json::object();
  if (metadata.empty()) {
    header["__metadata__"] = nullptr;
  } else {
    for (const auto& [k, v] : metadata) header["__metadata__"][k] = v;
  }
  for (size_t i = 0; i < specs_.size(); ++i) {
    const TensorSpec& s = specs_[i];
    header[s.name] = {{"data_offsets", {rel[i], rel[i] + s.nbytes()}},
                      {"dtype", std::string(dtype_name(s.dtype))},
                      {"shape", s.shape}};
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  const uint64_t data_start = 8 + text.size();
  offsets_.resize(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) offsets_[i] = data_start + rel[i];
  file_size_ = data_start + data_size;
  written_.assign(specs_.size(), 0);

  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("{}: cannot create: {}", path_.string(), std::strerror(errno));
  uint8_t len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(n >> (8 * i));
  pwrite_all(fd_, len, 8, 0, path_);
  pwrite_all(fd_, text.data(), text.size(), 8, path_);
}

SafetensorsWriter::~SafetensorsWriter() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t SafetensorsWriter::index_of(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : int64_t(it->second);
}

void SafetensorsWriter::write(size_t index, const void* data) {
  if (index >= specs_.size()) fail("{}: tensor index {} out of range", path_.string(), index);
  if (fd_ < 0) fail("{}: write after finish", path_.string());
  pwrite_all(fd_, data, specs_[index].nbytes(), offsets_[index], path_);
  written_[index] = 1;
}

void SafetensorsWriter::write(std::string_view name, const void* data) {
  int64_t i = index_of(name);
  if (i < 0) fail("{}: tensor '{}' is not in the header", path_.string(), name);
  write(size_t(i), data);
}

void SafetensorsWriter::finish() {
  if (fd_ < 0) return;
  for (size_t i = 0; i < specs_.size(); ++i)
    if (!written_[i]) fail("{}: tensor '{}' was never written", path_.string(), specs_[i].name);
  // Padding gaps were never written; make the length exact (also catches a full disk on the last block).
  if (::ftruncate(fd_, off_t(file_size_)) != 0) fail("{}: cannot set size: {}", path_.string(), std::strerror(errno));
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("{}: close failed: {}", path_.string(), std::strerror(errno));
}

void write_safetensors(const fs::path& path, const std::vector<OwnedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  for (const auto& t : tensors) {
    if (t.bytes.size() != t.spec.nbytes())
      fail("{}: tensor '{}' has {} bytes, its shape needs {}", path.string(), t.spec.name, t.bytes.size(),
           t.spec.nbytes());
    specs.push_back(t.spec);
  }
  std::random_device rd;
  fs::path tmp = path.parent_path() / fmt::format(".{}.tmp-{:08x}", path.filename().string(), rd());
  try {
    SafetensorsWriter w(tmp, specs, metadata);
    for (size_t i = 0; i < tensors.size(); ++i) w.write(i, tensors[i].bytes.data());
    w.finish();
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

}  // namespace mlx::formats
