// UTF-8 helpers for the tokenizer: validation with byte offsets, lossy repair (Rust from_utf8_lossy rules),
// code point iteration.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mlx::tok {

// Byte offset of the first invalid UTF-8 sequence in `s`, or nullopt if `s` is valid.
std::optional<size_t> first_invalid_utf8(std::string_view s);

// Throws mlx::Error "<what>: invalid UTF-8 at byte offset N" if `s` is not valid UTF-8.
void require_utf8(std::string_view s, std::string_view what);

// `s` with every maximal invalid subsequence replaced by U+FFFD, exactly like Rust's String::from_utf8_lossy
// (which Hugging Face decoders use), so decoded text matches byte for byte.
std::string utf8_lossy(std::string_view s);

// Length of the UTF-8 sequence introduced by lead byte `c` (1 for continuation/invalid bytes).
inline size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 1;
}

// Decodes the code point starting at s[i] (s must be valid UTF-8) and advances i.
inline char32_t next_cp(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = utf8_len(c);
  char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

// Appends the UTF-8 encoding of `cp`.
void append_cp(std::string& out, char32_t cp);

// Whether the code point is Unicode White_Space (Rust char::is_whitespace).
bool is_whitespace_cp(char32_t cp);
// Rust char::is_alphanumeric (Unicode Alphabetic or Numeric; approximated by letter/number categories).
bool is_alnum_cp(char32_t cp);
// Unicode general category P* (Rust char::is_ascii_punctuation || is_punctuation as HF uses it).
bool is_punct_cp(char32_t cp);

}  // namespace mlx::tok
