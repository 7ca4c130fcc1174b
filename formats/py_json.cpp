// Python-compatible JSON serialization (json.dump with indent, ensure_ascii=True, float repr).
#include "formats/py_json.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace mlx::formats {

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's layout: fixed when -4 <= exponent < 16, else d.ddde±XX.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t epos = sci.find('e');
  int exp = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (size_t i = 0; i < epos; ++i)
    if (sci[i] != '.') digits += sci[i];
  // Built with append() only: GCC 12 at -O3 reports a false -Wrestrict on chained operator+.
  std::string out = sign;
  if (exp < -4 || exp >= 16) {
    out.append(digits, 0, 1);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out.append(e);
    return out;
  }
  if (exp < 0) {
    out.append("0.");
    out.append(size_t(-exp - 1), '0');
    out.append(digits);
  } else if (size_t(exp) + 1 >= digits.size()) {
    out.append(digits);
    out.append(size_t(exp) + 1 - digits.size(), '0');
    out.append(".0");
  } else {
    out.append(digits, 0, size_t(exp) + 1);
    out.push_back('.');
    out.append(digits, size_t(exp) + 1, std::string::npos);
  }
  return out;
}

namespace {

void append_u16(std::string& out, unsigned v) {
  char b[8];
  std::snprintf(b, sizeof b, "\\u%04x", v);
  out += b;
}

void dump_string(const std::string& s, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || c == 0x7f) append_u16(out, c);
          else out += char(c);
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence (nlohmann has already validated it).
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    unsigned cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0F : 0x1F);
    for (int k = 1; k < len && i + size_t(k) < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += size_t(len);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      append_u16(out, 0xD800 + (cp >> 10));
      append_u16(out, 0xDC00 + (cp & 0x3FF));
    } else {
      append_u16(out, cp);
    }
  }
  out += '"';
}

void dump(const nlohmann::ordered_json& v, int indent, int depth, std::string& out) {
  using T = nlohmann::ordered_json::value_t;
  switch (v.type()) {
    case T::null: out += "null"; return;
    case T::boolean: out += v.get<bool>() ? "true" : "false"; return;
    case T::number_integer: out += std::to_string(v.get<int64_t>()); return;
    case T::number_unsigned: out += std::to_string(v.get<uint64_t>()); return;
    case T::number_float: out += python_float_repr(v.get<double>()); return;
    case T::string: dump_string(v.get_ref<const std::string&>(), out); return;
    case T::array:
    case T::object: {
      const bool obj = v.is_object();
      if (v.empty()) {
        out += obj ? "{}" : "[]";
        return;
      }
      out += obj ? '{' : '[';
      std::string inner(size_t(indent * (depth + 1)) + 1, ' ');
      inner[0] = '\n';
      bool first = true;
      if (obj) {
        for (auto it = v.begin(); it != v.end(); ++it) {
          out += first ? "" : ",";
          first = false;
          out += inner;
          dump_string(it.key(), out);
          out += ": ";
          dump(it.value(), indent, depth + 1, out);
        }
      } else {
        for (const auto& e : v) {
          out += first ? "" : ",";
          first = false;
          out += inner;
          dump(e, indent, depth + 1, out);
        }
      }
      out.push_back('\n');
      out.append(size_t(indent * depth), ' ');
      out += obj ? '}' : ']';
      return;
    }
    default: out += "null"; return;  // binary / discarded never occur in parsed JSON
  }
}

}  // namespace

std::string python_json_dump(const nlohmann::ordered_json& value, int indent) {
  std::string out;
  dump(value, indent, 0, out);
  return out;
}

}  // namespace mlx::formats
