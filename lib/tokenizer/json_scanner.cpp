#include "tokenizer/json_scanner.h"

#include <array>
#include <charconv>
#include <cstring>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace mlx::tok {

namespace {

// Byte classes inside a string: 0 plain ASCII, 1 '"', 2 '\\', 3 control character (invalid), 4 UTF-8 lead or
// stray byte (validated separately).
constexpr auto kStringClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 3;
  t['"'] = 1;
  t['\\'] = 2;
  for (int c = 0x80; c < 0x100; ++c) t[c] = 4;
  return t;
}();

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

JsonScanner::JsonScanner(std::string_view text, const std::string& origin)
    : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), origin_(origin) {
  // A UTF-8 byte order mark is skipped, as nlohmann does (serde_json would reject it; accepting is harmless).
  if (text.size() >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) p_ += 3;
}

void JsonScanner::error_at(size_t offset, std::string_view what) const {
  fail("{}: invalid JSON near byte {}: {}", origin_, offset, what);
}

void JsonScanner::expect(char c, const char* context) {
  skip_ws();
  if (p_ == end_) error(fmt::format("unexpected end of input, expected '{}' {}", c, context));
  if (*p_ != c) error(fmt::format("expected '{}' {}", c, context));
  ++p_;
}

void JsonScanner::expect_end() {
  skip_ws();
  if (p_ != end_) error("unexpected data after the top-level value");
}

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF), as RFC 3629 and nlohmann's lexer.
const char* JsonScanner::utf8_sequence(const char* p) const {
  auto byte = [&](const char* q) { return q < end_ ? static_cast<unsigned char>(*q) : 0u; };
  unsigned c = byte(p);
  unsigned lo = 0x80, hi = 0xBF;
  int n;
  if (c >= 0xC2 && c <= 0xDF) n = 1;
  else if (c >= 0xE0 && c <= 0xEF) n = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) n = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else error_at(static_cast<size_t>(p - begin_), "invalid UTF-8 byte in string");
  unsigned c1 = byte(p + 1);
  if (c1 < lo || c1 > hi) error_at(static_cast<size_t>(p - begin_), "invalid UTF-8 sequence in string");
  for (int k = 2; k <= n; ++k) {
    unsigned ck = byte(p + k);
    if (ck < 0x80 || ck > 0xBF) error_at(static_cast<size_t>(p - begin_), "invalid UTF-8 sequence in string");
  }
  return p + n + 1;
}

std::string_view JsonScanner::string(std::string& scratch) {
  skip_ws();
  if (p_ == end_) error("unexpected end of input, expected a string");
  if (*p_ != '"') error("expected a string");
  const char* start = p_ + 1;
  const char* p = start;
  for (;;) {
    while (p != end_ && kStringClass[static_cast<unsigned char>(*p)] == 0) ++p;
    if (p == end_) error_at(static_cast<size_t>(start - 1 - begin_), "unterminated string");
    switch (kStringClass[static_cast<unsigned char>(*p)]) {
      case 1:
        p_ = p + 1;
        return std::string_view(start, static_cast<size_t>(p - start));
      case 2:
        return string_slow(start, p, scratch);
      case 3:
        error_at(static_cast<size_t>(p - begin_), "control character in string (must be escaped)");
      default:
        p = utf8_sequence(p);
    }
  }
}

// The string has an escape at `p`: unescape it into `scratch`.
std::string_view JsonScanner::string_slow(const char* start, const char* p, std::string& scratch) {
  scratch.assign(start, p);
  auto hex4 = [&](const char* q) -> uint32_t {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      int d = q + k < end_ ? hex_digit(q[k]) : -1;
      if (d < 0) error_at(static_cast<size_t>(q - 2 - begin_), "\\u must be followed by 4 hex digits");
      v = v << 4 | static_cast<uint32_t>(d);
    }
    return v;
  };
  for (;;) {
    if (p == end_) error_at(static_cast<size_t>(start - 1 - begin_), "unterminated string");
    const char* run = p;
    while (p != end_ && kStringClass[static_cast<unsigned char>(*p)] == 0) ++p;
    scratch.append(run, p);
    if (p == end_) continue;
    switch (kStringClass[static_cast<unsigned char>(*p)]) {
      case 1:
        p_ = p + 1;
        return scratch;
      case 3:
        error_at(static_cast<size_t>(p - begin_), "control character in string (must be escaped)");
      case 4: {
        const char* q = utf8_sequence(p);
        scratch.append(p, q);
        p = q;
        continue;
      }
      default:
        break;
    }
    // An escape.
    const char* esc = p;
    if (p + 1 == end_) error_at(static_cast<size_t>(start - 1 - begin_), "unterminated string");
    char e = p[1];
    p += 2;
    switch (e) {
      case '"': scratch += '"'; break;
      case '\\': scratch += '\\'; break;
      case '/': scratch += '/'; break;
      case 'b': scratch += '\b'; break;
      case 'f': scratch += '\f'; break;
      case 'n': scratch += '\n'; break;
      case 'r': scratch += '\r'; break;
      case 't': scratch += '\t'; break;
      case 'u': {
        uint32_t cp = hex4(p);
        p += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          error_at(static_cast<size_t>(esc - begin_), "lone low surrogate escape (U+DC00..U+DFFF must follow U+D800..U+DBFF)");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (end_ - p < 2 || p[0] != '\\' || p[1] != 'u')
            error_at(static_cast<size_t>(esc - begin_), "lone high surrogate escape (U+D800..U+DBFF must be followed by U+DC00..U+DFFF)");
          uint32_t lo = hex4(p + 2);
          if (lo < 0xDC00 || lo > 0xDFFF)
            error_at(static_cast<size_t>(esc - begin_), "lone high surrogate escape (U+D800..U+DBFF must be followed by U+DC00..U+DFFF)");
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        append_cp(scratch, static_cast<char32_t>(cp));
        break;
      }
      default:
        error_at(static_cast<size_t>(esc - begin_), "invalid escape in string");
    }
  }
}

JsonScanner::Number JsonScanner::number() {
  const char* start = p_;
  const char* p = p_;
  bool negative = p != end_ && *p == '-';
  if (negative) ++p;
  auto digit = [&](const char* q) { return q != end_ && *q >= '0' && *q <= '9'; };
  if (!digit(p)) error_at(static_cast<size_t>(start - begin_), "invalid number");
  const char* int_begin = p;
  if (*p == '0') ++p;
  else while (digit(p)) ++p;
  const char* int_end = p;
  bool is_float = false;
  if (p != end_ && *p == '.') {
    ++p;
    if (!digit(p)) error_at(static_cast<size_t>(start - begin_), "invalid number (digits must follow '.')");
    while (digit(p)) ++p;
    is_float = true;
  }
  if (p != end_ && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p != end_ && (*p == '+' || *p == '-')) ++p;
    if (!digit(p)) error_at(static_cast<size_t>(start - begin_), "invalid number (digits must follow the exponent)");
    while (digit(p)) ++p;
    is_float = true;
  }
  p_ = p;
  Number n{};
  if (!is_float) {
    uint64_t u = 0;
    auto [q, ec] = std::from_chars(int_begin, int_end, u);
    if (ec == std::errc() && q == int_end) {
      if (!negative) {
        n.kind = Number::Unsigned;
        n.u = u;
        return n;
      }
      if (u <= static_cast<uint64_t>(INT64_MAX) + 1) {
        n.kind = Number::Signed;
        n.i = static_cast<int64_t>(0 - u);
        return n;
      }
    }
    // Too large for 64 bits: a float, as nlohmann does.
  }
  n.kind = Number::Float;
  auto [q, ec] = std::from_chars(start, p, n.f);
  if (ec == std::errc::result_out_of_range) error_at(static_cast<size_t>(start - begin_), "number out of range");
  return n;
}

void JsonScanner::literal(const char* word) {
  size_t n = std::strlen(word);
  if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) error("invalid literal");
  p_ += n;
}

nlohmann::ordered_json JsonScanner::value(int depth) {
  using json = nlohmann::ordered_json;
  if (depth > kMaxDepth) error(fmt::format("nesting deeper than {} levels", kMaxDepth));
  skip_ws();
  if (p_ == end_) error("unexpected end of input, expected a value");
  std::string scratch;
  switch (*p_) {
    case '{': {
      ++p_;
      json obj = json::object();
      if (consume('}')) return obj;
      do {
        std::string key(string(scratch));
        expect(':', "after an object key");
        obj[std::move(key)] = value(depth + 1);  // a repeated key: the last value wins, at the first position
      } while (consume(','));
      expect('}', "or ',' in an object");
      return obj;
    }
    case '[': {
      ++p_;
      json arr = json::array();
      if (consume(']')) return arr;
      do arr.push_back(value(depth + 1));
      while (consume(','));
      expect(']', "or ',' in an array");
      return arr;
    }
    case '"':
      return json(std::string(string(scratch)));
    case 't':
      literal("true");
      return json(true);
    case 'f':
      literal("false");
      return json(false);
    case 'n':
      literal("null");
      return json(nullptr);
    default: {
      if (*p_ != '-' && (*p_ < '0' || *p_ > '9')) error("unexpected character, expected a value");
      Number n = number();
      if (n.kind == Number::Unsigned) return json(n.u);
      if (n.kind == Number::Signed) return json(n.i);
      return json(n.f);
    }
  }
}

}  // namespace mlx::tok
