// Python methods reachable from templates (str, dict, list), the `in` operator and `%` string formatting.
// Mutating methods are refused, as jinja2's ImmutableSandboxedEnvironment (what transformers uses) does.
#include <cmath>
#include <set>

#include "template/args.h"
#include "template/builtins.h"
#include "template/pystr.h"

namespace mlx::tmpl {

namespace {

Value str_list(const std::vector<std::string>& parts) {
  List items;
  items.reserve(parts.size());
  for (const auto& p : parts) items.emplace_back(p);
  return Value::list(std::move(items));
}

// "{} {0} {name} {{ }}" with an optional !r/!s conversion and a basic format spec.
std::string str_format(Evaluator& ev, const std::string& f, const List& args, const Kwargs& kwargs) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      else fail("{}", "Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = f.find('}', i);
    if (close == std::string::npos) fail("{}", "Single '{' encountered in format string");
    std::string field = f.substr(i + 1, close - i - 1);
    i = close;
    std::string spec, conv;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field.resize(bang);
    }
    Value v;
    if (field.empty()) {
      if (auto_index >= args.size()) fail("Replacement index {} out of range for positional args tuple", auto_index);
      v = args[auto_index++];
    } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
      size_t k = std::stoul(field.substr(0, 9));
      if (k >= args.size()) fail("Replacement index {} out of range for positional args tuple", k);
      v = args[k];
    } else {
      bool found = false;
      for (const auto& [name, x] : kwargs)
        if (name == field) {
          v = x;
          found = true;
        }
      if (!found) fail("KeyError: '{}'", field);
    }
    std::string s = conv == "r" ? py_repr(v) : py_str(v);
    if (!spec.empty()) {
      // [[fill]align][width][.precision][type]
      char fill = ' ', align = 0;
      size_t p = 0;
      if (spec.size() >= 2 && (spec[1] == '<' || spec[1] == '>' || spec[1] == '^')) {
        fill = spec[0];
        align = spec[1];
        p = 2;
      } else if (!spec.empty() && (spec[0] == '<' || spec[0] == '>' || spec[0] == '^')) {
        align = spec[0];
        p = 1;
      }
      size_t width = 0;
      while (p < spec.size() && std::isdigit(static_cast<unsigned char>(spec[p])) && width < 100000)
        width = width * 10 + size_t(spec[p++] - '0');
      int precision = -1;
      if (p < spec.size() && spec[p] == '.') {
        precision = 0;
        ++p;
        while (p < spec.size() && std::isdigit(static_cast<unsigned char>(spec[p])) && precision < 1000)
          precision = precision * 10 + (spec[p++] - '0');
      }
      char type = p < spec.size() ? spec[p] : 0;
      if ((type == 'f' || (precision >= 0 && v.is_float())) && v.is_number())
        s = fmt::format("{:.{}f}", v.as_double(), precision < 0 ? 6 : precision);
      else if (precision >= 0 && v.is_string())
        s = utf8_encode(utf8_decode(s), 0, size_t(precision));
      if (!align) align = v.is_number() ? '>' : '<';
      size_t len = pystr::length(s);
      if (len < width) {
        size_t pad = width - len;
        std::string f1(align == '>' ? pad : align == '^' ? pad / 2 : 0, fill);
        std::string f2(align == '<' ? pad : align == '^' ? pad - pad / 2 : 0, fill);
        s = f1 + s + f2;
      }
    }
    out += s;
    ev.check_string(out.size());
  }
  return out;
}

Value bound(const std::string& name, Value self, Value (*fn)(Evaluator&, const Value&, List&, Kwargs&)) {
  return Value::callable(name, [self = std::move(self), fn](Evaluator& ev, List& a, Kwargs& k) { return fn(ev, self, a, k); });
}

Value unsafe(const std::string& name, const std::string& type) {
  return Value::callable(name, [name, type](Evaluator&, List&, Kwargs&) -> Value {
    fail("SecurityError: access to attribute '{}' of '{}' object is unsafe.", name, type);
  });
}

Value string_method(const Value& obj, const std::string& name) {
  using F = Value (*)(Evaluator&, const Value&, List&, Kwargs&);
  static const std::unordered_map<std::string, F> table = {
      {"startswith", [](Evaluator&, const Value& s, List& a, Kwargs& k) -> Value {
         const Value* p = arg(a, k, 0, "prefix");
         if (!p) fail("startswith() takes at least 1 argument (0 given)");
         List options = p->is_tuple() ? p->items() : List{*p};
         for (const Value& o : options) {
           if (!o.is_string()) fail("startswith first arg must be str or a tuple of str, not {}", o.type_name());
           if (s.str().compare(0, o.str().size(), o.str()) == 0) return Value(true);
         }
         return Value(false);
       }},
      {"endswith", [](Evaluator&, const Value& s, List& a, Kwargs& k) -> Value {
         const Value* p = arg(a, k, 0, "suffix");
         if (!p) fail("endswith() takes at least 1 argument (0 given)");
         List options = p->is_tuple() ? p->items() : List{*p};
         for (const Value& o : options) {
           if (!o.is_string()) fail("endswith first arg must be str or a tuple of str, not {}", o.type_name());
           const std::string& x = s.str();
           if (x.size() >= o.str().size() && x.compare(x.size() - o.str().size(), o.str().size(), o.str()) == 0)
             return Value(true);
         }
         return Value(false);
       }},
      {"strip", [](Evaluator&, const Value& s, List& a, Kwargs& k) { return Value(pystr::strip(s.str(), str_arg(a, k, 0, "chars"), true, true)); }},
      {"lstrip", [](Evaluator&, const Value& s, List& a, Kwargs& k) { return Value(pystr::strip(s.str(), str_arg(a, k, 0, "chars"), true, false)); }},
      {"rstrip", [](Evaluator&, const Value& s, List& a, Kwargs& k) { return Value(pystr::strip(s.str(), str_arg(a, k, 0, "chars"), false, true)); }},
      {"split", [](Evaluator&, const Value& s, List& a, Kwargs& k) {
         return str_list(pystr::split(s.str(), str_arg(a, k, 0, "sep"), int_arg(a, k, 1, "maxsplit", -1)));
       }},
      {"rsplit", [](Evaluator&, const Value& s, List& a, Kwargs& k) {
         return str_list(pystr::rsplit(s.str(), str_arg(a, k, 0, "sep"), int_arg(a, k, 1, "maxsplit", -1)));
       }},
      {"splitlines", [](Evaluator&, const Value& s, List& a, Kwargs& k) {
         return str_list(pystr::splitlines(s.str(), bool_arg(a, k, 0, "keepends", false)));
       }},
      {"replace", [](Evaluator& ev, const Value& s, List& a, Kwargs& k) {
         auto old = str_arg(a, k, 0, "old"), with = str_arg(a, k, 1, "new");
         if (!old || !with) fail("replace() takes at least 2 arguments");
         return Value(pystr::replace(s.str(), *old, *with, int_arg(a, k, 2, "count", -1), ev.limits().max_output));
       }},
      {"upper", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::upper(s.str())); }},
      {"lower", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::lower(s.str())); }},
      {"title", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::title(s.str())); }},
      {"capitalize", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::capitalize(s.str())); }},
      {"format", [](Evaluator& ev, const Value& s, List& a, Kwargs& k) { return Value(str_format(ev, s.str(), a, k)); }},
      {"count", [](Evaluator&, const Value& s, List& a, Kwargs& k) {
         auto sub = str_arg(a, k, 0, "sub");
         if (!sub) fail("count() takes at least 1 argument");
         return Value(int64_t(pystr::count(s.str(), *sub)));
       }},
      {"find", [](Evaluator&, const Value& s, List& a, Kwargs& k) {
         auto sub = str_arg(a, k, 0, "sub");
         if (!sub) fail("find() takes at least 1 argument");
         size_t f = s.str().find(*sub);
         return Value(f == std::string::npos ? int64_t(-1) : int64_t(pystr::length(s.str().substr(0, f))));
       }},
      {"rfind", [](Evaluator&, const Value& s, List& a, Kwargs& k) {
         auto sub = str_arg(a, k, 0, "sub");
         if (!sub) fail("rfind() takes at least 1 argument");
         size_t f = s.str().rfind(*sub);
         return Value(f == std::string::npos ? int64_t(-1) : int64_t(pystr::length(s.str().substr(0, f))));
       }},
      {"join", [](Evaluator& ev, const Value& s, List& a, Kwargs&) {
         if (a.empty()) fail("join() takes exactly one argument (0 given)");
         std::string out;
         bool first = true;
         for (const Value& v : ev.iterate(a[0])) {
           if (!v.is_string()) fail("sequence item: expected str instance, {} found", v.type_name());
           if (!first) out += s.str();
           first = false;
           out += v.str();
           ev.check_string(out.size());
         }
         return Value(std::move(out));
       }},
      {"removeprefix", [](Evaluator&, const Value& s, List& a, Kwargs& k) {
         auto p = str_arg(a, k, 0, "prefix").value_or("");
         return Value(s.str().compare(0, p.size(), p) == 0 ? s.str().substr(p.size()) : s.str());
       }},
      {"removesuffix", [](Evaluator&, const Value& s, List& a, Kwargs& k) {
         auto p = str_arg(a, k, 0, "suffix").value_or("");
         const std::string& x = s.str();
         bool ends = !p.empty() && x.size() >= p.size() && x.compare(x.size() - p.size(), p.size(), p) == 0;
         return Value(ends ? x.substr(0, x.size() - p.size()) : x);
       }},
      {"isdigit", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::all_of(s.str(), pystr::is_digit_cp)); }},
      {"isalpha", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::all_of(s.str(), pystr::is_alpha_cp)); }},
      {"isalnum", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::all_of(s.str(), pystr::is_alnum_cp)); }},
      {"isspace", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::all_of(s.str(), py_isspace)); }},
      {"isupper", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::upper(s.str()) == s.str() && pystr::lower(s.str()) != s.str()); }},
      {"islower", [](Evaluator&, const Value& s, List&, Kwargs&) { return Value(pystr::lower(s.str()) == s.str() && pystr::upper(s.str()) != s.str()); }},
  };
  auto it = table.find(name);
  if (it == table.end()) return Value::undefined(fmt::format("'str object' has no attribute '{}'", name));
  return bound(name, obj, it->second);
}

Value dict_method(const Value& obj, const std::string& name) {
  if (name == "get")
    return bound(name, obj, [](Evaluator&, const Value& d, List& a, Kwargs& k) -> Value {
      const Value* key = arg(a, k, 0, "key");
      if (!key) fail("get expected at least 1 argument, got 0");
      if (const Value* v = d.mapping().find(*key)) return *v;
      const Value* def = arg(a, k, 1, "default");
      return def ? *def : Value::none();
    });
  if (name == "items")
    return bound(name, obj, [](Evaluator&, const Value& d, List&, Kwargs&) -> Value {
      List items;
      for (const auto& [k, v] : d.mapping().items) items.push_back(Value::list({k, v}, true));
      return Value::list(std::move(items));
    });
  if (name == "keys")
    return bound(name, obj, [](Evaluator&, const Value& d, List&, Kwargs&) -> Value {
      List items;
      for (const auto& [k, v] : d.mapping().items) items.push_back(k);
      return Value::list(std::move(items));
    });
  if (name == "values")
    return bound(name, obj, [](Evaluator&, const Value& d, List&, Kwargs&) -> Value {
      List items;
      for (const auto& [k, v] : d.mapping().items) items.push_back(v);
      return Value::list(std::move(items));
    });
  if (name == "copy")
    return bound(name, obj, [](Evaluator&, const Value& d, List&, Kwargs&) -> Value { return Value::dict(d.mapping()); });
  static const std::set<std::string> mutators = {"pop", "popitem", "setdefault", "update", "clear"};
  if (mutators.count(name)) return unsafe(name, "dict");
  return Value::undefined();
}

Value list_method(const Value& obj, const std::string& name) {
  if (name == "index")
    return bound(name, obj, [](Evaluator&, const Value& l, List& a, Kwargs&) -> Value {
      if (a.empty()) fail("index expected 1 argument, got 0");
      for (size_t i = 0; i < l.items().size(); ++i)
        if (py_equal(l.items()[i], a[0])) return Value(int64_t(i));
      fail("{} is not in list", py_repr(a[0]));
    });
  if (name == "count")
    return bound(name, obj, [](Evaluator&, const Value& l, List& a, Kwargs&) -> Value {
      if (a.empty()) fail("count expected 1 argument, got 0");
      int64_t n = 0;
      for (const Value& v : l.items()) n += py_equal(v, a[0]);
      return Value(n);
    });
  static const std::set<std::string> mutators = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"};
  if (!obj.is_tuple() && mutators.count(name)) return unsafe(name, "list");
  return Value::undefined();
}

}  // namespace

Value method(Evaluator&, const Value& obj, const std::string& name) {
  if (obj.is_string()) return string_method(obj, name);
  if (obj.is_dict()) return dict_method(obj, name);
  if (obj.is_list()) return list_method(obj, name);
  return Value::undefined();
}

bool contains(Evaluator& ev, const Value& container, const Value& item) {
  if (container.is_string()) {
    if (item.is_undefined()) undefined_error(item);
    if (!item.is_string()) fail("'in <string>' requires string as left operand, not {}", item.type_name());
    return container.str().find(item.str()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.items())
      if (py_equal(v, item)) return true;
    return false;
  }
  if (container.is_dict()) return container.mapping().find(item) != nullptr;
  if (container.is_undefined()) return false;
  (void)ev;
  fail("argument of type '{}' is not iterable", container.type_name());
}

std::string printf_format(Evaluator& ev, const std::string& f, const Value& args) {
  List values = args.is_tuple() ? args.items() : List{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    if (++i >= f.size()) fail("incomplete format");
    Value v;
    bool have = false;
    if (f[i] == '(') {
      size_t close = f.find(')', i);
      if (close == std::string::npos) fail("incomplete format key");
      if (!args.is_dict()) fail("format requires a mapping");
      const Value* x = args.mapping().find(Value(f.substr(i + 1, close - i - 1)));
      if (!x) fail("KeyError: '{}'", f.substr(i + 1, close - i - 1));
      v = *x;
      have = true;
      i = close + 1;
    }
    std::string flags;
    while (i < f.size() && std::string_view("-+ #0").find(f[i]) != std::string_view::npos) flags += f[i++];
    int width = 0, precision = -1;
    while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i])) && width < 100000) width = width * 10 + (f[i++] - '0');
    if (i < f.size() && f[i] == '.') {
      precision = 0;
      ++i;
      while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i])) && precision < 1000) precision = precision * 10 + (f[i++] - '0');
    }
    if (i >= f.size()) fail("incomplete format");
    char conv = f[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!have) {
      if (next >= values.size()) fail("not enough arguments for format string");
      v = values[next++];
    }
    std::string spec = "{:" + std::string(flags.find('-') != std::string::npos ? "<" : ">");
    if (flags.find('+') != std::string::npos) spec += '+';
    else if (flags.find(' ') != std::string::npos) spec += ' ';
    bool zero = flags.find('0') != std::string::npos && flags.find('-') == std::string::npos;
    std::string piece;
    switch (conv) {
      case 's': piece = py_str(v); break;
      case 'r':
      case 'a': piece = py_repr(v); break;
      case 'd':
      case 'i':
      case 'u': {
        if (!v.is_number()) fail("%{} format: a real number is required, not {}", conv, v.type_name());
        int64_t n = v.is_float() ? int64_t(std::trunc(v.as_double())) : v.as_int();
        piece = fmt::format(fmt::runtime(spec + (zero ? "0" : "") + std::to_string(width) + "d}"), n);
        width = 0;
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (!v.is_number()) fail("must be real number, not {}", v.type_name());
        piece = fmt::format(fmt::runtime(spec + (zero ? "0" : "") + std::to_string(width) + "." +
                                         std::to_string(precision < 0 ? 6 : precision) + conv + "}"),
                            v.as_double());
        width = 0;
        break;
      }
      case 'x':
      case 'X':
      case 'o': {
        if (!v.is_int() && !v.is_bool()) fail("%{} format: an integer is required, not {}", conv, v.type_name());
        piece = fmt::format(fmt::runtime(spec + (zero ? "0" : "") + std::to_string(width) + conv + "}"), v.as_int());
        width = 0;
        break;
      }
      case 'c': piece = v.is_string() ? v.str() : std::string(1, char(v.as_int())); break;
      default: fail("unsupported format character '{}'", conv);
    }
    if ((conv == 's' || conv == 'r' || conv == 'a') && precision >= 0) piece = utf8_encode(utf8_decode(piece), 0, size_t(precision));
    size_t len = pystr::length(piece);
    if (size_t(width) > len) {
      std::string pad(size_t(width) - len, ' ');
      piece = flags.find('-') != std::string::npos ? piece + pad : pad + piece;
    }
    out += piece;
    ev.check_string(out.size());
  }
  if (next < values.size() && !args.is_dict()) fail("not all arguments converted during string formatting");
  return out;
}

}  // namespace mlx::tmpl
