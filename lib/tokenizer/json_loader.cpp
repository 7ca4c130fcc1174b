#include "tokenizer/json_loader.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/json_scanner.h"

namespace mlx::tok {

namespace {

using json = nlohmann::ordered_json;

constexpr int64_t kMaxVocabId = INT32_MAX / 2;  // ids index dense tables; anything larger is a broken file

// Offsets are 32-bit: parse_tokenizer_json refuses texts of 4 GiB or more, and unescaped strings are never longer
// than their JSON spelling.
void append_piece(HugeString& bytes, std::string_view s) { bytes.append(s); }

void read_vocab(JsonScanner& s, VocabList& vocab, const std::string& origin) {
  s.expect('{', "");
  if (s.consume('}')) return;
  std::string scratch;
  do {
    std::string_view token = s.string(scratch);
    s.expect(':', "after an object key");
    s.skip_ws();
    char c = s.peek();
    if (c != '-' && (c < '0' || c > '9')) {
      if (JsonScanner::starts_value(c)) fail("{}: model.vocab entry \"{}\" is not an integer id", origin, token);
      s.error(c ? "unexpected character, expected a value" : "unexpected end of input, expected a value");
    }
    JsonScanner::Number n = s.number();
    if (n.kind == JsonScanner::Number::Float) fail("{}: model.vocab entry \"{}\" has a non-integer id", origin, token);
    if (n.kind == JsonScanner::Number::Signed ? (n.i < 0 || n.i > kMaxVocabId) : n.u > uint64_t(kMaxVocabId))
      fail("{}: model.vocab id {} of \"{}\" is out of range", origin,
           n.kind == JsonScanner::Number::Signed ? std::to_string(n.i) : std::to_string(n.u), token);
    vocab.add(token, static_cast<int32_t>(n.kind == JsonScanner::Number::Signed ? n.i : static_cast<int64_t>(n.u)));
  } while (s.consume(','));
  s.expect('}', "or ',' in model.vocab");
}

// One merge written as a pair: ["a", "b"].
void read_merge_pair(JsonScanner& s, MergeList& merges, const std::string& origin, std::string& scratch) {
  s.expect('[', "");
  MergeList::Entry e{static_cast<uint32_t>(merges.bytes.size()), 0, 0};
  size_t parts = 0;
  if (!s.consume(']')) {
    do {
      s.skip_ws();
      char c = s.peek();
      if (c != '"') {
        if (c == '[') fail("{}: model.merges entries nest too deeply", origin);
        if (c == '{') fail("{}: model.merges holds an object, expected strings or pairs", origin);
        if (JsonScanner::starts_value(c)) fail("{}: model.merges pair holds a non-string", origin);
        s.error(c ? "unexpected character, expected a value" : "unexpected end of input, expected a value");
      }
      std::string_view part = s.string(scratch);
      if (parts < 2) {
        append_piece(merges.bytes, part);
        (parts == 0 ? e.left_size : e.right_size) = static_cast<uint32_t>(part.size());
      }
      ++parts;
    } while (s.consume(','));
    s.expect(']', "or ',' in a model.merges pair");
  }
  if (parts != 2) fail("{}: model.merges entry has {} parts, expected 2", origin, parts);
  merges.entries.push_back(e);
}

void read_merges(JsonScanner& s, MergeList& merges, const std::string& origin) {
  s.expect('[', "");
  if (s.consume(']')) return;
  std::string scratch;
  do {
    s.skip_ws();
    char c = s.peek();
    if (c == '"') {
      std::string_view m = s.string(scratch);
      size_t sp = m.find(' ');
      if (sp == std::string_view::npos || m.find(' ', sp + 1) != std::string_view::npos)
        fail("{}: model.merges entry \"{}\" is not of the form \"a b\"", origin, m);
      MergeList::Entry e{static_cast<uint32_t>(merges.bytes.size()), static_cast<uint32_t>(sp),
                         static_cast<uint32_t>(m.size() - sp - 1)};
      append_piece(merges.bytes, m.substr(0, sp));
      append_piece(merges.bytes, m.substr(sp + 1));
      merges.entries.push_back(e);
    } else if (c == '[') {
      read_merge_pair(s, merges, origin, scratch);
    } else if (c == '{') {
      fail("{}: model.merges holds an object, expected strings or pairs", origin);
    } else if (JsonScanner::starts_value(c)) {
      fail("{}: model.merges entry is not a string or a pair of strings", origin);
    } else {
      s.error(c ? "unexpected character, expected a value" : "unexpected end of input, expected a value");
    }
  } while (s.consume(','));
  s.expect(']', "or ',' in model.merges");
}

// The top-level "model" object: vocab and merges go to the flat lists, the rest into the tree.
json read_model(JsonScanner& s, TokenizerJson& out, const std::string& origin) {
  s.expect('{', "");
  json model = json::object();
  if (s.consume('}')) return model;
  std::string scratch;
  do {
    std::string key(s.string(scratch));
    s.expect(':', "after an object key");
    s.skip_ws();
    if (key == "vocab" && s.peek() == '{') {
      out.has_vocab = true;
      read_vocab(s, out.vocab, origin);
    } else if (key == "merges" && s.peek() == '[') {
      out.has_merges = true;
      read_merges(s, out.merges, origin);
    } else {
      model[std::move(key)] = s.value(2);
    }
  } while (s.consume(','));
  s.expect('}', "or ',' in an object");
  return model;
}

}  // namespace

void VocabList::add(std::string_view token, int32_t id) {
  entries.push_back(Entry{static_cast<uint32_t>(bytes.size()), static_cast<uint32_t>(token.size()), id});
  append_piece(bytes, token);
}

TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& origin) {
  if (text.size() >= std::numeric_limits<uint32_t>::max())
    fail("{}: {} bytes is too large for a tokenizer.json (limit 4 GiB)", origin, text.size());
  TokenizerJson out;
  // Token bytes never exceed the text and an entry takes >= 6 bytes of JSON ("":0,): reserving that much address
  // space up front avoids grow-and-copy cycles, and pages that are never written are never committed.
  out.vocab.bytes.reserve(text.size());
  out.vocab.entries.reserve(text.size() / 6);
  out.merges.bytes.reserve(text.size());
  out.merges.entries.reserve(text.size() / 6);

  JsonScanner s(text, origin);
  s.skip_ws();
  if (s.peek() != '{') {
    out.doc = s.value();
    s.expect_end();
    return out;
  }
  s.expect('{', "");
  out.doc = json::object();
  if (!s.consume('}')) {
    std::string scratch;
    do {
      std::string key(s.string(scratch));
      s.expect(':', "after an object key");
      s.skip_ws();
      if (key == "model" && s.peek() == '{') out.doc["model"] = read_model(s, out, origin);
      else out.doc[std::move(key)] = s.value(1);
    } while (s.consume(','));
    s.expect('}', "or ',' in an object");
  }
  s.expect_end();
  return out;
}

namespace {

// The whole file into huge-page memory, or nullopt-like false if it cannot be opened (the caller then defers to
// read_file for the error message).
bool read_raw_huge(const std::filesystem::path& path, HugeString& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0 || ::lseek(fd, 0, SEEK_SET) != 0) return false;
  out.resize(static_cast<size_t>(size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("{}: read failed: {}", path.string(), n < 0 ? std::strerror(errno) : "file shrank");
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

TokenizerJson read_tokenizer_json(const std::filesystem::path& file, const std::string& origin) {
  std::error_code ec;
  std::filesystem::path path = file;
  bool zst = path.extension() == ".zst";
  if (!zst && !std::filesystem::exists(path, ec) && std::filesystem::exists(path.string() + ".zst", ec)) {
    path += ".zst";
    zst = true;
  }
  HugeString raw;
  if (std::filesystem::is_directory(path, ec) || !read_raw_huge(path, raw))
    return parse_tokenizer_json(read_file(file), origin);  // read_file names the problem
  if (!zst) return parse_tokenizer_json(std::string_view(raw.data(), raw.size()), origin);
  // One-shot decompression straight into the output needs the size up front (written by zstd -19 by default); a
  // frame without it, or several frames, go through read_file's streaming decoder.
  unsigned long long size = ZSTD_getFrameContentSize(raw.data(), raw.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 32) ||
      ZSTD_findFrameCompressedSize(raw.data(), raw.size()) != raw.size())
    return parse_tokenizer_json(read_file(path), origin);
  HugeString text;
  text.resize(static_cast<size_t>(size));
  size_t got = ZSTD_decompress(text.data(), text.size(), raw.data(), raw.size());
  if (ZSTD_isError(got)) fail("{}: corrupt zstd data: {}", path.string(), ZSTD_getErrorName(got));
  if (got != text.size()) fail("{}: corrupt zstd data: size differs from the frame header", path.string());
  raw = HugeString();
  return parse_tokenizer_json(std::string_view(text.data(), text.size()), origin);
}

}  // namespace mlx::tok
