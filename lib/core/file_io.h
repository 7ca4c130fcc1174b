// Reading files (zstd-transparent), read-only memory maps, JSON with file-naming errors, atomic writes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mlx {

namespace fs = std::filesystem;

// Whole file as bytes. `x.zst` is decompressed; if `x` is missing but `x.zst` exists, that is read instead.
std::string read_file(const fs::path& path);

// True if `path` or `path.zst` exists.
bool exists_maybe_zst(const fs::path& path);

// Parse a JSON file keeping key order; errors name the file and the position.
nlohmann::ordered_json read_json(const fs::path& path);

// Write `data` to `path` via a temporary file in the same directory and a rename: readers never see half a file.
void write_file_atomic(const fs::path& path, std::string_view data);

// A read-only memory map of a whole file (an empty file maps to size 0, data nullptr).
class MappedFile {
 public:
  static MappedFile open(const fs::path& path);
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const fs::path& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  fs::path path_;
};

}  // namespace mlx
