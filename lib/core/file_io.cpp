#include "core/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>

#include "core/error.h"

namespace mlx {

namespace {

bool ends_with_zst(const fs::path& p) { return p.extension() == ".zst"; }

std::string read_raw(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path.string(), std::strerror(errno));
  std::string data;
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  if (size < 0) fail("{}: cannot read", path.string());
  data.resize(size_t(size));
  in.seekg(0);
  if (size > 0 && !in.read(data.data(), size)) fail("{}: read failed", path.string());
  return data;
}

std::string zstd_decompress(const std::string& compressed, const fs::path& path) {
  std::string out;
  unsigned long long expected = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (expected != ZSTD_CONTENTSIZE_ERROR && expected != ZSTD_CONTENTSIZE_UNKNOWN) out.reserve(size_t(expected));
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> stream(ZSTD_createDStream(), ZSTD_freeDStream);
  ZSTD_initDStream(stream.get());
  ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  // Feed all input, then keep draining while the decoder says a frame is unfinished (ret != 0).
  for (size_t ret = 1; in.pos < in.size || ret != 0;) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    ret = ZSTD_decompressStream(stream.get(), &ob, &in);
    if (ZSTD_isError(ret)) fail("{}: corrupt zstd data: {}", path.string(), ZSTD_getErrorName(ret));
    out.append(chunk.data(), ob.pos);
    if (in.pos == in.size && ob.pos == 0 && ret != 0) fail("{}: truncated zstd data", path.string());
  }
  return out;
}

}  // namespace

bool exists_maybe_zst(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec) || fs::exists(fs::path(path.string() + ".zst"), ec);
}

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (ends_with_zst(path)) return zstd_decompress(read_raw(path), path);
  if (!fs::exists(path, ec)) {
    fs::path zst(path.string() + ".zst");
    if (fs::exists(zst, ec)) return zstd_decompress(read_raw(zst), zst);
    fail("{}: no such file", path.string());
  }
  if (fs::is_directory(path, ec)) fail("{}: is a directory, expected a file", path.string());
  return read_raw(path);
}

nlohmann::ordered_json read_json(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string what = e.what();
    auto pos = what.find("] ");
    fail("{}: not valid JSON: {}", path.string(), pos == std::string::npos ? what : what.substr(pos + 2));
  }
}

void write_file_atomic(const fs::path& path, std::string_view data) {
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::random_device rd;
  fs::path tmp = dir / fmt::format(".{}.tmp-{:08x}", path.filename().string(), rd());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot create: {}", tmp.string(), std::strerror(errno));
    out.write(data.data(), std::streamsize(data.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      fail("{}: write failed (disk full?)", path.string());
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fail("{}: cannot rename into place: {}", path.string(), ec.message());
  }
}

MappedFile MappedFile::open(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path.string(), std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    fail("{}: cannot stat: {}", path.string(), std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail("{}: is a directory, expected a file", path.string());
  }
  MappedFile m;
  m.path_ = path;
  m.size_ = size_t(st.st_size);
  if (m.size_ > 0) {
    void* p = mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      fail("{}: cannot map: {}", path.string(), std::strerror(errno));
    }
    m.data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_), path_(std::move(o.path_)) {
  o.data_ = nullptr;
  o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_) munmap(const_cast<uint8_t*>(data_), size_);
    data_ = o.data_;
    size_ = o.size_;
    path_ = std::move(o.path_);
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace mlx
