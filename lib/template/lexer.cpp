// Splits a template into text and tag tokens, applying jinja2's whitespace rules exactly:
//   `{%-`/`{{-`/`{#-` strip all whitespace before the tag, `-%}`/`-}}`/`-#}` all whitespace after it;
//   trim_blocks drops one newline after a block or comment tag; lstrip_blocks drops spaces/tabs between the line
//   start and a block or comment tag; `+` on either side disables the automatic rules.
#include "template/lexer.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace mlx::tmpl {

std::string normalize_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  bool ended_with_break = false;
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = 0;  // length of a line break at i
    if (c == '\r') len = (i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
    else if (c == '\n' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e) len = 1;
    else if (c == 0xc2 && i + 1 < n && static_cast<unsigned char>(s[i + 1]) == 0x85) len = 2;
    else if (c == 0xe2 && i + 2 < n && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
             (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9))
      len = 3;
    if (len) {
      out += '\n';
      i += len;
      ended_with_break = true;
    } else {
      out += s[i++];
      ended_with_break = false;
    }
  }
  if (ended_with_break) out.pop_back();
  return out;
}

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

class Lexer {
 public:
  Lexer(std::string src, const std::string& origin) : src_(std::move(src)), origin_(origin) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    while (pos < src_.size()) {
      size_t tag = find_tag(pos);
      if (tag == std::string::npos) {
        emit_text(src_.substr(pos), pos);
        break;
      }
      char kind = src_[tag + 1];  // '{', '%' or '#'
      char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      std::string text = src_.substr(pos, tag - pos);
      apply_left_rules(text, pos, kind, sign);
      size_t inner = tag + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        size_t end = src_.find("#}", inner);
        if (end == std::string::npos) error(tag, "missing end of comment tag");
        emit_text(text, pos);
        char esign = end > inner && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
        pos = after_end(end + 2, esign, true);
        continue;
      }
      if (kind == '%' && is_raw(inner)) {
        emit_text(text, pos);
        pos = lex_raw(tag, inner);
        continue;
      }
      emit_text(text, pos);
      push(kind == '{' ? Token::Type::VarBegin : Token::Type::BlockBegin, "", tag);
      pos = lex_tag(inner, kind);
    }
    push(Token::Type::Eof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error(size_t offset, const std::string& what) {
    auto [line, col] = position(offset);
    fail("{}:{}:{}: syntax error: {}", origin_, line, col, what);
  }

  std::pair<int, int> position(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = size_t(it - line_starts_.begin());
    size_t start = line_starts_[line - 1];
    // Column in code points, 1-based.
    int col = 1;
    for (size_t i = start; i < offset && i < src_.size(); ++i)
      if ((static_cast<unsigned char>(src_[i]) & 0xc0) != 0x80) ++col;
    return {int(line), col};
  }

  void push(Token::Type t, std::string text, size_t offset) {
    auto [line, col] = position(offset);
    tokens_.push_back(Token{t, std::move(text), line, col});
  }

  void emit_text(const std::string& text, size_t offset) {
    if (!text.empty()) push(Token::Type::Text, text, offset);
  }

  size_t find_tag(size_t pos) const {
    while (true) {
      size_t p = src_.find('{', pos);
      if (p == std::string::npos || p + 1 >= src_.size()) return std::string::npos;
      char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') return p;
      pos = p + 1;
    }
  }

  // `{%-` strips everything; otherwise lstrip_blocks for block/comment tags at a line start.
  void apply_left_rules(std::string& text, size_t text_start, char kind, char sign) {
    if (sign == '-') {
      size_t e = text.size();
      while (e > 0 && is_ws(text[e - 1])) --e;
      text.resize(e);
      return;
    }
    if (sign == '+' || kind == '{') return;
    size_t nl = text.rfind('\n');
    size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    bool line_starting = text_start == 0 || src_[text_start - 1] == '\n';
    if (l_pos > 0 || line_starting) {
      bool only_ws = true;
      for (size_t i = l_pos; i < text.size(); ++i)
        if (!is_ws(text[i])) only_ws = false;
      if (only_ws) text.resize(l_pos);
    }
  }

  // Position after a closing `%}`/`#}`/`}}` at `pos`: `-` eats all whitespace, trim_blocks one newline.
  size_t after_end(size_t pos, char sign, bool trim) {
    if (sign == '-') {
      while (pos < src_.size() && is_ws(src_[pos])) ++pos;
    } else if (sign != '+' && trim && pos < src_.size() && src_[pos] == '\n') {
      ++pos;
    }
    return pos;
  }

  static bool name_at(const std::string& s, size_t& p, const char* word) {
    while (p < s.size() && is_ws(s[p])) ++p;
    size_t n = std::strlen(word);
    if (s.compare(p, n, word) != 0) return false;
    size_t q = p + n;
    if (q < s.size() && (std::isalnum(static_cast<unsigned char>(s[q])) || s[q] == '_')) return false;
    p = q;
    while (p < s.size() && is_ws(s[p])) ++p;
    return true;
  }

  // `{% raw %}` (the tag must close right after the word).
  bool is_raw(size_t inner) const {
    size_t p = inner;
    if (!name_at(src_, p, "raw")) return false;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    return src_.compare(p, 2, "%}") == 0;
  }

  size_t lex_raw(size_t tag, size_t inner) {
    size_t p = inner;
    name_at(src_, p, "raw");
    char esign = 0;
    if (src_[p] == '-' || src_[p] == '+') esign = src_[p++];
    size_t pos = after_end(p + 2, esign, false);  // jinja2 does not trim_blocks after `{% raw %}`
    size_t search = pos;
    while (true) {
      size_t t = src_.find("{%", search);
      if (t == std::string::npos) error(tag, "missing end of raw directive");
      size_t q = t + 2;
      char sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      if (!name_at(src_, q, "endraw")) {
        search = t + 2;
        continue;
      }
      char close_sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) close_sign = src_[q++];
      if (src_.compare(q, 2, "%}") != 0) {
        search = t + 2;
        continue;
      }
      std::string text = src_.substr(pos, t - pos);
      apply_left_rules(text, pos, '%', sign);
      emit_text(text, pos);
      return after_end(q + 2, close_sign, true);
    }
  }

  // Tokens inside `{{ }}` / `{% %}` up to and including the closing delimiter.
  size_t lex_tag(size_t p, char kind) {
    const char* close = kind == '{' ? "}}" : "%}";
    int depth = 0;
    while (true) {
      while (p < src_.size() && is_ws(src_[p])) ++p;
      if (p >= src_.size()) error(p, kind == '{' ? "unexpected end of template, expected '}}'"
                                                 : "unexpected end of template, expected '%}'");
      if (depth == 0) {
        char sign = (src_[p] == '-' || src_[p] == '+') ? src_[p] : 0;
        size_t q = p + (sign ? 1 : 0);
        if (src_.compare(q, 2, close) == 0 && !(sign == '+' && kind == '{')) {
          push(kind == '{' ? Token::Type::VarEnd : Token::Type::BlockEnd, "", p);
          return after_end(q + 2, sign, kind == '%');
        }
      }
      char c = src_[p];
      size_t start = p;
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        while (p < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[p])) || src_[p] == '_')) ++p;
        push(Token::Type::Name, src_.substr(start, p - start), start);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        p = lex_number(p);
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        static const char* ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~", "(", ")",
                                    "[",  "]",  "{",  "}",  ",",  ".",  ":", "|", "=", "<", ">", ";"};
        const char* found = nullptr;
        for (const char* op : ops)
          if (src_.compare(p, std::strlen(op), op) == 0) {
            found = op;
            break;
          }
        if (!found) error(p, fmt::format("unexpected char '{}'", c));
        std::string op(found);
        if (op == "(" || op == "[" || op == "{") ++depth;
        if (op == ")" || op == "]" || op == "}") {
          if (depth == 0) error(p, fmt::format("unexpected '{}'", op));
          --depth;
        }
        p += op.size();
        push(Token::Type::Op, op, start);
      }
    }
  }

  size_t lex_number(size_t p) {
    size_t start = p;
    auto digits = [&]() {
      while (p < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[p])) ||
                                 (src_[p] == '_' && p + 1 < src_.size() && std::isdigit(static_cast<unsigned char>(src_[p + 1])))))
        ++p;
    };
    digits();
    bool is_float = false;
    if (p + 1 < src_.size() && src_[p] == '.' && std::isdigit(static_cast<unsigned char>(src_[p + 1]))) {
      is_float = true;
      ++p;
      digits();
    }
    if (p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      size_t q = p + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) {
        is_float = true;
        p = q;
        digits();
      }
    }
    std::string text;
    for (size_t i = start; i < p; ++i)
      if (src_[i] != '_') text += src_[i];
    push(is_float ? Token::Type::Float : Token::Type::Int, text, start);
    return p;
  }

  // A quoted literal decoded the way Python's "unicode-escape" codec does.
  size_t lex_string(size_t p) {
    char q = src_[p];
    size_t start = p++;
    std::string out;
    while (true) {
      if (p >= src_.size()) error(start, "unexpected end of string");
      char c = src_[p];
      if (c == q) {
        ++p;
        break;
      }
      if (c != '\\') {
        out += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) error(start, "unexpected end of string");
      char e = src_[p + 1];
      p += 2;
      auto hex = [&](int n) -> uint32_t {
        uint32_t v = 0;
        for (int k = 0; k < n; ++k) {
          if (p >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[p])))
            error(start, "truncated \\x/\\u escape in string");
          char h = src_[p++];
          v = v * 16 + uint32_t(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
        }
        return v;
      };
      switch (e) {
        case '\n': break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x': utf8_append(out, hex(2)); break;
        case 'u': utf8_append(out, hex(4)); break;
        case 'U': {
          uint32_t v = hex(8);
          if (v > 0x10ffff) error(start, "illegal Unicode character in string");
          utf8_append(out, v);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = uint32_t(e - '0');
            for (int k = 0; k < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++k) v = v * 8 + uint32_t(src_[p++] - '0');
            utf8_append(out, v);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    push(Token::Type::String, out, start);
    return p;
  }

  std::string src_;
  const std::string& origin_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const std::string& origin) {
  return Lexer(normalize_newlines(source), origin).run();
}

}  // namespace mlx::tmpl
