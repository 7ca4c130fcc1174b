// The validating safetensors reader: nothing in the file is trusted until the whole header has been checked.
#include "formats/safetensors.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mlx::formats {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses one header entry; `where` prefixes every error ("model.safetensors: tensor 'x'").
TensorView parse_entry(const std::string& where, const std::string& name, const nlohmann::json& e,
                       uint64_t data_size, uint64_t& begin_out, uint64_t& end_out) {
  if (!e.is_object()) fail("{}: entry is not a JSON object", where);
  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string()) fail("{}: missing or non-string \"dtype\"", where);
  auto dtype = parse_dtype(dt->get<std::string>());
  if (!dtype) fail("{}: unknown dtype \"{}\"", where, dt->get<std::string>());
  auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array()) fail("{}: missing or non-array \"shape\"", where);
  Shape shape;
  unsigned __int128 numel = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) fail("{}: shape {} has a non-integer or negative dimension", where, sh->dump());
    shape.push_back(d.get<int64_t>());
    numel *= uint64_t(shape.back());
    if (numel > (unsigned __int128)(uint64_t(1) << 62)) fail("{}: shape {} is absurdly large", where, sh->dump());
  }
  auto off = e.find("data_offsets");
  if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_integer() ||
      !(*off)[1].is_number_integer() || (*off)[0].get<int64_t>() < 0 || (*off)[1].get<int64_t>() < 0)
    fail("{}: \"data_offsets\" must be two non-negative integers", where);
  uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
  if (end < begin) fail("{}: data_offsets [{}, {}] end before they begin", where, begin, end);
  unsigned __int128 expect = numel * dtype_size(*dtype);
  if (expect != end - begin)
    fail("{}: shape {} x {} is {} bytes but data_offsets span {} bytes", where, shape_string(shape),
         dtype_name(*dtype), uint64_t(expect), end - begin);
  if (end > data_size)
    fail("{}: data_offsets [{}, {}] lie outside the {}-byte data area (file truncated?)", where, begin, end,
         data_size);
  begin_out = begin;
  end_out = end;
  TensorView v;
  v.name = name;
  v.dtype = *dtype;
  v.shape = std::move(shape);
  v.nbytes = size_t(end - begin);
  return v;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: no such file", path.string());
  if (fs::is_directory(path, ec)) fail("{}: is a directory, expected a .safetensors file", path.string());
  SafetensorsFile f;
  f.file_ = MappedFile::open(path);
  const std::string p = path.string();
  const uint64_t size = f.file_.size();
  if (size < 8) fail("{}: truncated: {} bytes, too short for the 8-byte header length", p, size);
  const uint64_t header_len = read_u64_le(f.file_.data());
  if (header_len > kMaxHeaderBytes)
    fail("{}: header length {} exceeds the {} byte limit", p, header_len, kMaxHeaderBytes);
  if (header_len > size - 8) fail("{}: header length {} exceeds file size {}", p, header_len, size);
  const char* hbegin = reinterpret_cast<const char*>(f.file_.data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hbegin, hbegin + header_len);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    auto pos = what.find("] ");
    fail("{}: header is not valid JSON: {}", p, pos == std::string::npos ? what : what.substr(pos + 2));
  }
  if (!header.is_object()) fail("{}: header is not a JSON object", p);

  const uint64_t data_size = size - 8 - header_len;
  const uint8_t* data = f.file_.data() + 8 + header_len;
  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (entry.is_null()) continue;  // MLX writes null for empty metadata
      if (!entry.is_object()) fail("{}: __metadata__ is not a JSON object", p);
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) fail("{}: __metadata__ value of \"{}\" is not a string", p, k);
        f.metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    uint64_t b = 0, e = 0;
    TensorView v = parse_entry(fmt::format("{}: tensor '{}'", p, name), name, entry, data_size, b, e);
    v.data = data + b;
    spans.push_back({b, e, f.tensors_.size()});
    f.tensors_.push_back(std::move(v));
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  // Sorted by start, a tensor overlaps an earlier one iff it starts before the furthest end seen so far.
  const Span* furthest = nullptr;
  for (const Span& cur : spans) {
    if (cur.end == cur.begin) continue;  // empty tensors occupy no bytes
    if (furthest && cur.begin < furthest->end)
      fail("{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", p, f.tensors_[furthest->index].name,
           furthest->begin, furthest->end, f.tensors_[cur.index].name, cur.begin, cur.end);
    if (!furthest || cur.end > furthest->end) furthest = &cur;
  }
  std::sort(f.tensors_.begin(), f.tensors_.end(), [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
  return f;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

void SafetensorsFile::release(const TensorView& t) const {
  if (t.nbytes == 0 || !t.data) return;
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t b = reinterpret_cast<uintptr_t>(t.data) & ~(page - 1);
  uintptr_t e = (reinterpret_cast<uintptr_t>(t.data) + t.nbytes + page - 1) & ~(page - 1);
  // Read-only file pages: dropping them only costs a re-read from the page cache if touched again.
  madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

}  // namespace mlx::formats
