// Python str semantics over UTF-8, with utf8proc for Unicode case mapping and character categories.
#include "template/pystr.h"

#include <utf8proc.h>

#include <algorithm>

#include "core/error.h"
#include "template/value.h"

namespace mlx::tmpl::pystr {

static uint32_t to_upper(uint32_t c) { return c >= 0xdc80 && c <= 0xdcff ? c : uint32_t(utf8proc_toupper(utf8proc_int32_t(c))); }
static uint32_t to_lower(uint32_t c) { return c >= 0xdc80 && c <= 0xdcff ? c : uint32_t(utf8proc_tolower(utf8proc_int32_t(c))); }
static uint32_t to_title(uint32_t c) { return c >= 0xdc80 && c <= 0xdcff ? c : uint32_t(utf8proc_totitle(utf8proc_int32_t(c))); }
static bool cased(uint32_t c) { return to_upper(c) != c || to_lower(c) != c || to_title(c) != c; }

// Python maps ß to "SS" in upper(); utf8proc only has simple mappings, so the common full mappings are added here.
static void append_upper(std::string& out, uint32_t c) {
  if (c == 0xdf) out += "SS";
  else utf8_append(out, to_upper(c));
}

std::string upper(std::string_view s) {
  std::string out;
  for (uint32_t c : utf8_decode(s)) append_upper(out, c);
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  for (uint32_t c : utf8_decode(s)) {
    if (c == 0x130) out += "i\xcc\x87";
    else utf8_append(out, to_lower(c));
  }
  return out;
}

std::string title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  for (uint32_t c : utf8_decode(s)) {
    if (prev_cased) utf8_append(out, to_lower(c));
    else utf8_append(out, to_title(c));
    prev_cased = cased(c);
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out;
  bool first = true;
  for (uint32_t c : utf8_decode(s)) {
    utf8_append(out, first ? to_title(c) : to_lower(c));
    first = false;
  }
  return out;
}

std::string jinja_title(std::string_view s) {
  // re.split(r"([-\s({\[<]+)") then item[0].upper() + item[1:].lower() for every piece.
  std::string out;
  std::vector<uint32_t> cps = utf8_decode(s);
  auto is_sep = [](uint32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c); };
  size_t i = 0;
  while (i < cps.size()) {
    size_t j = i;
    bool sep = is_sep(cps[i]);
    while (j < cps.size() && is_sep(cps[j]) == sep) ++j;
    for (size_t k = i; k < j; ++k) {
      if (k == i) append_upper(out, cps[k]);
      else utf8_append(out, to_lower(cps[k]));
    }
    i = j;
  }
  return out;
}

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  std::vector<uint32_t> cps = utf8_decode(s);
  std::vector<uint32_t> set;
  if (chars) set = utf8_decode(*chars);
  auto strip_it = [&](uint32_t c) {
    if (!chars) return py_isspace(c);
    for (uint32_t x : set)
      if (x == c) return true;
    return false;
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  return utf8_encode(cps, b, e);
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) fail("empty separator");
    size_t pos = 0;
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
      size_t f = s.find(*sep, pos);
      if (f == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, f - pos));
      pos = f + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  std::vector<uint32_t> cps = utf8_decode(s);
  size_t i = 0, n = cps.size();
  while (i < n) {
    while (i < n && py_isspace(cps[i])) ++i;
    if (i >= n) break;
    if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
      size_t e = n;
      while (e > i && py_isspace(cps[e - 1])) --e;
      out.push_back(utf8_encode(cps, i, e));
      break;
    }
    size_t j = i;
    while (j < n && !py_isspace(cps[j])) ++j;
    out.push_back(utf8_encode(cps, i, j));
    i = j;
  }
  return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  if (maxsplit < 0) return split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) fail("empty separator");
    size_t end = s.size();
    while (int64_t(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      size_t f = s.rfind(*sep, end - sep->size());
      if (f == std::string_view::npos) break;
      out.emplace_back(s.substr(f + sep->size(), end - f - sep->size()));
      end = f;
    }
    out.emplace_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  std::vector<uint32_t> cps = utf8_decode(s);
  int64_t j = int64_t(cps.size());
  while (j > 0) {
    while (j > 0 && py_isspace(cps[size_t(j - 1)])) --j;
    if (j == 0) break;
    if (int64_t(out.size()) >= maxsplit) {
      size_t b = 0;
      while (b < size_t(j) && py_isspace(cps[b])) ++b;
      out.push_back(utf8_encode(cps, b, size_t(j)));
      break;
    }
    int64_t i = j;
    while (i > 0 && !py_isspace(cps[size_t(i - 1)])) --i;
    out.push_back(utf8_encode(cps, size_t(i), size_t(j)));
    j = i;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  std::vector<uint32_t> cps = utf8_decode(s);
  size_t i = 0, start = 0, n = cps.size();
  while (i < n) {
    uint32_t c = cps[i];
    bool brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e ||
               c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) {
      ++i;
      continue;
    }
    size_t eol = i + ((c == '\r' && i + 1 < n && cps[i + 1] == '\n') ? 2 : 1);
    out.push_back(utf8_encode(cps, start, keepends ? eol : i));
    start = i = eol;
  }
  if (start < n) out.push_back(utf8_encode(cps, start, n));
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count, size_t limit) {
  std::string out;
  auto add = [&](std::string_view piece) {
    if (out.size() + piece.size() > limit) fail("string too long (limit {} bytes)", limit);
    out += piece;
  };
  if (old.empty()) {
    // Inserted before every code point and at the end.
    std::vector<uint32_t> cps = utf8_decode(s);
    int64_t done = 0;
    for (uint32_t c : cps) {
      if (count < 0 || done < count) {
        add(with);
        ++done;
      }
      std::string ch;
      utf8_append(ch, c);
      add(ch);
    }
    if (count < 0 || done < count) add(with);
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t f = s.find(old, pos);
    if (f == std::string_view::npos) break;
    add(s.substr(pos, f - pos));
    add(with);
    pos = f + old.size();
    ++done;
  }
  add(s.substr(pos));
  return out;
}

size_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return length(s) + 1;
  size_t n = 0, pos = 0;
  while ((pos = s.find(sub, pos)) != std::string_view::npos) {
    ++n;
    pos += sub.size();
  }
  return n;
}

size_t length(std::string_view s) { return utf8_decode(s).size(); }

static utf8proc_category_t category(uint32_t c) {
  if (c > 0x10ffff || (c >= 0xdc80 && c <= 0xdcff)) return UTF8PROC_CATEGORY_CN;
  return utf8proc_category(utf8proc_int32_t(c));
}
bool is_alpha_cp(uint32_t c) {
  auto k = category(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
         k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO;
}
bool is_digit_cp(uint32_t c) { return category(c) == UTF8PROC_CATEGORY_ND; }
bool is_alnum_cp(uint32_t c) {
  auto k = category(c);
  return is_alpha_cp(c) || k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}
bool is_upper_cp(uint32_t c) { return category(c) == UTF8PROC_CATEGORY_LU; }
bool is_lower_cp(uint32_t c) { return category(c) == UTF8PROC_CATEGORY_LL; }
bool all_of(std::string_view s, bool (*pred)(uint32_t)) {
  std::vector<uint32_t> cps = utf8_decode(s);
  if (cps.empty()) return false;
  for (uint32_t c : cps)
    if (!pred(c)) return false;
  return true;
}

}  // namespace mlx::tmpl::pystr
