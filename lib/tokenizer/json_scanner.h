// A small validating JSON reader with a cursor, for tokenizer.json: the loader walks the document itself so that
// the two big members (model.vocab, model.merges: ~99 % of the bytes) are read straight into flat arrays, with
// strings seen as views into the file text unless they hold escapes. Everything else becomes nlohmann JSON.
// Accepts exactly RFC 8259 JSON (strict UTF-8, no lone surrogate escapes, no trailing commas), like nlohmann and
// serde_json (which Hugging Face tokenizers uses); errors are one line: "<file>: invalid JSON near byte N: ...".
#pragma once
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mlx::tok {

class JsonScanner {
 public:
  JsonScanner(std::string_view text, const std::string& origin);

  // Skips JSON whitespace; peek() is then the next byte, or '\0' at the end of the text.
  void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  char peek() const { return p_ == end_ ? '\0' : *p_; }
  // Skips whitespace, then consumes `c` if it is next.
  bool consume(char c) {
    skip_ws();
    if (p_ != end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  // Skips whitespace, then requires `c` (`context` names what was being read, for the error).
  void expect(char c, const char* context);
  // Requires that only whitespace is left.
  void expect_end();

  // Reads the string at the cursor (skipping whitespace first; a '"' must follow). The view points into the text
  // when the string has no escapes, else into `scratch` (so it is valid until `scratch` is next used).
  std::string_view string(std::string& scratch);

  struct Number {
    enum Kind { Unsigned, Signed, Float } kind;  // as nlohmann: no sign -> unsigned, sign -> signed, else float
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
  };
  // Reads the number at the cursor (whitespace already skipped).
  Number number();

  // Reads any value into a JSON tree (nesting is limited to kMaxDepth levels).
  nlohmann::ordered_json value(int depth = 0);

  // Whether the byte can start some JSON value (to tell a type error from a syntax error).
  static bool starts_value(char c) { return c == '"' || c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n'
                                            || c == '-' || (c >= '0' && c <= '9'); }

  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  [[noreturn]] void error(std::string_view what) const { error_at(offset(), what); }
  [[noreturn]] void error_at(size_t offset, std::string_view what) const;

  static constexpr int kMaxDepth = 512;

 private:
  std::string_view string_slow(const char* start, const char* p, std::string& scratch);
  const char* utf8_sequence(const char* p) const;  // validates the multi-byte sequence at p, returns its end
  void literal(const char* word);

  const char* begin_;
  const char* p_;
  const char* end_;
  const std::string& origin_;
};

}  // namespace mlx::tok
