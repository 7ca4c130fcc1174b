// jinja2's built-in filters and tests, transformers' tojson/raise_exception/strftime_now, and the globals
// range(), namespace(), dict().
#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <unordered_map>

#include "template/args.h"
#include "template/builtins.h"
#include "template/pystr.h"

namespace mlx::tmpl {

namespace {

using FilterFn = Value (*)(Evaluator&, const Value&, List&, Kwargs&);

// jinja's make_attrgetter: "a.b.0" walks items/attributes.
Value get_path(Evaluator& ev, const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (cur.is_undefined()) return cur;
    cur = digits ? ev.getitem(cur, Value(int64_t(std::stoll(part.substr(0, 18))))) : ev.getitem(cur, Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Value lower_if_str(const Value& v, bool case_sensitive) {
  return (!case_sensitive && v.is_string()) ? Value(pystr::lower(v.str())) : v;
}

std::vector<Value> sorted(Evaluator& ev, std::vector<Value> items, bool reverse, bool case_sensitive,
                          const std::optional<std::string>& attribute) {
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& v : items) keyed.emplace_back(lower_if_str(attribute ? get_path(ev, v, *attribute) : v, case_sensitive), std::move(v));
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? py_compare(b.first, a.first) < 0 : py_compare(a.first, b.first) < 0;
  });
  std::vector<Value> out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return out;
}

std::optional<int64_t> parse_py_int(std::string s, int base) {
  s = pystr::strip(s, std::nullopt, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  size_t p = s[0] == '+' || s[0] == '-' ? 1 : 0;
  // Python accepts the 0x/0o/0b prefix matching the base, and base 0 picks it from the prefix.
  if (s.size() >= p + 2 && s[p] == '0') {
    char x = char(std::tolower(static_cast<unsigned char>(s[p + 1])));
    int prefixed = x == 'x' ? 16 : x == 'o' ? 8 : x == 'b' ? 2 : 0;
    if (prefixed && (base == 0 || base == prefixed)) {
      base = prefixed;
      s.erase(p, 2);
    }
  }
  if (base == 0) base = 10;
  int64_t v = 0;
  auto r = std::from_chars(s.data() + p, s.data() + s.size(), v, base);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || p == s.size()) return std::nullopt;
  return s[0] == '-' ? -v : v;
}

std::optional<double> parse_py_float(std::string s) {
  s = pystr::lower(pystr::strip(s, std::nullopt, true, true));
  if (s.empty()) return std::nullopt;
  const char* b = s.data();
  bool neg = false;
  if (*b == '+' || *b == '-') neg = *b++ == '-';
  std::string_view rest(b, size_t(s.data() + s.size() - b));
  if (rest == "inf" || rest == "infinity") return neg ? -INFINITY : INFINITY;
  if (rest == "nan") return NAN;
  double v = 0;
  auto r = std::from_chars(rest.data(), rest.data() + rest.size(), v);
  if (r.ec != std::errc() || r.ptr != rest.data() + rest.size()) return std::nullopt;
  return neg ? -v : v;
}

Value select_common(Evaluator& ev, const Value& input, List& args, Kwargs& kwargs, bool by_attr, bool keep) {
  size_t i = 0;
  std::optional<std::string> attr;
  if (by_attr) {
    const Value* a = arg(args, kwargs, 0, "attribute");
    if (!a || !a->is_string()) fail("selectattr/rejectattr need an attribute name");
    attr = a->str();
    i = 1;
  }
  std::string test_name;
  List test_args;
  if (i < args.size()) {
    if (!args[i].is_string()) fail("test name must be a string");
    test_name = args[i].str();
    test_args.assign(args.begin() + long(i) + 1, args.end());
  }
  List out;
  for (const Value& item : ev.iterate(input)) {
    Value v = attr ? get_path(ev, item, *attr) : item;
    Kwargs none;
    bool r = test_name.empty() ? v.truthy() : ev.test(test_name, v, test_args, none);
    if (r == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value do_round(double v, int64_t precision, const std::string& method) {
  if (method == "common") {
    if (std::isnan(v) || std::isinf(v)) return Value(v);
    if (precision >= 0 && precision < 300) {
      std::string s = fmt::format("{:.{}f}", v, int(precision));  // correctly rounded, ties to even: Python's round()
      return Value(std::strtod(s.c_str(), nullptr));
    }
    double m = std::pow(10.0, double(precision));
    return Value(std::nearbyint(v * m) / m);
  }
  double m = std::pow(10.0, double(precision));
  if (method == "ceil") return Value(std::ceil(v * m) / m);
  if (method == "floor") return Value(std::floor(v * m) / m);
  fail("method must be common, ceil or floor");
}

const std::unordered_map<std::string, FilterFn>& filters() {
  static const std::unordered_map<std::string, FilterFn> table = {
      {"abs", [](Evaluator&, const Value& v, List&, Kwargs&) -> Value {
         if (v.is_float()) return Value(std::fabs(v.as_double()));
         if (v.is_int() || v.is_bool()) {
           if (v.as_int() == INT64_MIN) fail("integer overflow");
           return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
         }
         fail("bad operand type for abs(): '{}'", v.type_name());
       }},
      {"attr", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         auto name = str_arg(a, k, 0, "name");
         return name ? ev.getattr(v, *name) : Value();
       }},
      {"batch", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         int64_t n = int_arg(a, k, 0, "linecount", 1);
         if (n <= 0) fail("batch size must be positive");
         const Value* fill = arg(a, k, 1, "fill_with");
         List out, cur;
         for (const Value& x : ev.iterate(v)) {
           cur.push_back(x);
           if (int64_t(cur.size()) == n) out.push_back(Value::list(std::exchange(cur, {})));
         }
         if (!cur.empty()) {
           if (fill && !fill->is_none())
             while (int64_t(cur.size()) < n) cur.push_back(*fill);
           out.push_back(Value::list(std::move(cur)));
         }
         return Value::list(std::move(out));
       }},
      {"capitalize", [](Evaluator&, const Value& v, List&, Kwargs&) { return Value(pystr::capitalize(py_str(v))); }},
      {"center", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         std::string s = py_str(v);
         int64_t width = int_arg(a, k, 0, "width", 80);
         int64_t len = int64_t(pystr::length(s));
         if (width <= len) return Value(s);
         ev.check_string(size_t(width - len) + s.size());
         int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
         return Value(std::string(size_t(left), ' ') + s + std::string(size_t(pad - left), ' '));
       }},
      {"default", [](Evaluator&, const Value& v, List& a, Kwargs& k) -> Value {
         const Value* d = arg(a, k, 0, "default_value");
         bool boolean = bool_arg(a, k, 1, "boolean", false);
         if (v.is_undefined() || (boolean && !v.truthy())) return d ? *d : Value("");
         return v;
       }},
      {"dictsort", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         if (!v.is_dict()) fail("dictsort expects a mapping, got {}", v.type_name());
         bool cs = bool_arg(a, k, 0, "case_sensitive", false);
         auto by = str_arg(a, k, 1, "by").value_or("key");
         bool reverse = bool_arg(a, k, 2, "reverse", false);
         List pairs;
         for (const auto& [key, x] : v.mapping().items) pairs.push_back(Value::list({key, x}, true));
         return Value::list(sorted(ev, pairs, reverse, cs, by == "value" ? std::optional<std::string>("1") : std::optional<std::string>("0")));
       }},
      {"escape", [](Evaluator&, const Value& v, List&, Kwargs&) -> Value {
         std::string out;
         for (char c : py_str(v)) {
           switch (c) {
             case '&': out += "&amp;"; break;
             case '<': out += "&lt;"; break;
             case '>': out += "&gt;"; break;
             case '"': out += "&#34;"; break;
             case '\'': out += "&#39;"; break;
             default: out += c;
           }
         }
         return Value(std::move(out));
       }},
      {"first", [](Evaluator& ev, const Value& v, List&, Kwargs&) -> Value {
         if (v.is_list()) return v.items().empty() ? Value::undefined("No first item, sequence was empty.") : v.items()[0];
         std::vector<Value> items = ev.iterate(v);
         return items.empty() ? Value::undefined("No first item, sequence was empty.") : items[0];
       }},
      {"float", [](Evaluator&, const Value& v, List& a, Kwargs& k) -> Value {
         const Value* d = arg(a, k, 0, "default");
         Value def = d ? *d : Value(0.0);
         if (v.is_number()) return Value(v.as_double());
         if (v.is_string()) {
           auto f = parse_py_float(v.str());
           return f ? Value(*f) : def;
         }
         return def;
       }},
      {"format", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         if (!k.empty()) {
           Dict d;
           for (auto& [name, x] : k) d.set(Value(name), x);
           return Value(printf_format(ev, py_str(v), Value::dict(std::move(d))));
         }
         return Value(printf_format(ev, py_str(v), Value::list(a, true)));
       }},
      {"int", [](Evaluator&, const Value& v, List& a, Kwargs& k) -> Value {
         int64_t def = int_arg(a, k, 0, "default", 0);
         int64_t base = int_arg(a, k, 1, "base", 10);
         if (v.is_int() || v.is_bool()) return Value(v.as_int());
         if (v.is_float()) {
           double d = v.as_double();
           if (std::isnan(d) || std::isinf(d) || std::fabs(d) >= 9.2e18) return Value(def);
           return Value(int64_t(std::trunc(d)));
         }
         if (v.is_string()) {
           if (base == 0 || (base >= 2 && base <= 36))
             if (auto i = parse_py_int(v.str(), int(base))) return Value(*i);
           if (auto f = parse_py_float(v.str()); f && std::isfinite(*f) && std::fabs(*f) < 9.2e18) return Value(int64_t(std::trunc(*f)));
         }
         return Value(def);
       }},
      {"items", [](Evaluator&, const Value& v, List&, Kwargs&) -> Value {
         if (v.is_undefined()) return Value::list({});
         if (!v.is_mapping()) fail("Can only get item pairs from a mapping.");
         List items;
         for (const auto& [k, x] : v.mapping().items) items.push_back(Value::list({k, x}, true));
         return Value::list(std::move(items));
       }},
      {"indent", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         const Value* w = arg(a, k, 0, "width");
         std::string ind = w && w->is_string() ? w->str() : std::string(size_t(std::clamp<int64_t>(w ? w->as_int() : 4, 0, 10000)), ' ');
         bool first = bool_arg(a, k, 1, "first", false), blank = bool_arg(a, k, 2, "blank", false);
         std::vector<std::string> lines = pystr::splitlines(py_str(v) + "\n");
         std::string rv;
         for (size_t i = 0; i < lines.size(); ++i) {
           if (i > 0) rv += "\n";
           if (i > 0 && (blank || !lines[i].empty())) rv += ind;
           rv += lines[i];
           ev.check_string(rv.size());
         }
         if (first) rv = ind + rv;
         return Value(std::move(rv));
       }},
      {"join", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         std::string sep = str_arg(a, k, 0, "d").value_or("");
         auto attr = str_arg(a, k, 1, "attribute");
         std::string out;
         bool first = true;
         for (const Value& x : ev.iterate(v)) {
           if (!first) out += sep;
           first = false;
           out += py_str(attr ? get_path(ev, x, *attr) : x);
           ev.check_string(out.size());
         }
         return Value(std::move(out));
       }},
      {"last", [](Evaluator& ev, const Value& v, List&, Kwargs&) -> Value {
         std::vector<Value> items = v.is_list() ? v.items() : ev.iterate(v);
         return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
       }},
      {"length", [](Evaluator&, const Value& v, List&, Kwargs&) -> Value {
         if (v.is_string()) return Value(int64_t(pystr::length(v.str())));
         if (v.is_list()) return Value(int64_t(v.items().size()));
         if (v.is_mapping()) return Value(int64_t(v.mapping().items.size()));
         if (v.is_undefined()) return Value(int64_t(0));
         fail("object of type '{}' has no len()", v.type_name());
       }},
      {"list", [](Evaluator& ev, const Value& v, List&, Kwargs&) -> Value { return Value::list(ev.iterate(v)); }},
      {"lower", [](Evaluator&, const Value& v, List&, Kwargs&) { return Value(pystr::lower(py_str(v))); }},
      {"map", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         List out;
         const Value* attr = nullptr;
         const Value* def = nullptr;
         for (const auto& [name, x] : k) {
           if (name == "attribute") attr = &x;
           if (name == "default") def = &x;
         }
         if (attr) {
           for (const Value& x : ev.iterate(v)) {
             Value r = get_path(ev, x, py_str(*attr));
             out.push_back(r.is_undefined() && def ? *def : r);
           }
           return Value::list(std::move(out));
         }
         if (a.empty() || !a[0].is_string()) fail("map requires a filter name or attribute=");
         std::string fname = a[0].str();
         List rest(a.begin() + 1, a.end());
         for (const Value& x : ev.iterate(v)) {
           List args = rest;
           Kwargs kw;
           out.push_back(ev.filter(fname, x, args, kw));
         }
         return Value::list(std::move(out));
       }},
      {"max", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         std::vector<Value> items = sorted(ev, ev.iterate(v), true, bool_arg(a, k, 0, "case_sensitive", false), str_arg(a, k, 1, "attribute"));
         return items.empty() ? Value::undefined("No aggregated item, sequence was empty.") : items.front();
       }},
      {"min", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         std::vector<Value> items = sorted(ev, ev.iterate(v), false, bool_arg(a, k, 0, "case_sensitive", false), str_arg(a, k, 1, "attribute"));
         return items.empty() ? Value::undefined("No aggregated item, sequence was empty.") : items.front();
       }},
      {"reject", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) { return select_common(ev, v, a, k, false, false); }},
      {"rejectattr", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) { return select_common(ev, v, a, k, true, false); }},
      {"replace", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         auto old = str_arg(a, k, 0, "old"), with = str_arg(a, k, 1, "new");
         if (!old || !with) fail("replace needs 'old' and 'new'");
         return Value(pystr::replace(py_str(v), *old, *with, int_arg(a, k, 2, "count", -1), ev.limits().max_output));
       }},
      {"reverse", [](Evaluator& ev, const Value& v, List&, Kwargs&) -> Value {
         if (v.is_string()) {
           std::vector<uint32_t> cps = utf8_decode(v.str());
           std::reverse(cps.begin(), cps.end());
           return Value(utf8_encode(cps));
         }
         std::vector<Value> items = ev.iterate(v);
         std::reverse(items.begin(), items.end());
         return Value::list(std::move(items));
       }},
      {"round", [](Evaluator&, const Value& v, List& a, Kwargs& k) -> Value {
         int64_t precision = int_arg(a, k, 0, "precision", 0);
         std::string method = str_arg(a, k, 1, "method").value_or("common");
         if (method == "common" && (v.is_int() || v.is_bool())) return Value(v.as_int());
         if (!v.is_number()) fail("type {} doesn't define __round__ method", v.type_name());
         return do_round(v.as_double(), precision, method);
       }},
      {"safe", [](Evaluator&, const Value& v, List&, Kwargs&) { return v; }},
      {"select", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) { return select_common(ev, v, a, k, false, true); }},
      {"selectattr", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) { return select_common(ev, v, a, k, true, true); }},
      {"sort", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         return Value::list(sorted(ev, ev.iterate(v), bool_arg(a, k, 0, "reverse", false), bool_arg(a, k, 1, "case_sensitive", false),
                                   str_arg(a, k, 2, "attribute")));
       }},
      {"string", [](Evaluator&, const Value& v, List&, Kwargs&) { return Value(py_str(v)); }},
      {"sum", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         auto attr = str_arg(a, k, 0, "attribute");
         const Value* start = arg(a, k, 1, "start");
         Value total = start ? *start : Value(int64_t(0));
         List dummy;
         for (const Value& x : ev.iterate(v)) {
           Value item = attr ? get_path(ev, x, *attr) : x;
           Expr add;
           (void)add;
           if (total.is_number() && item.is_number()) {
             if (total.is_float() || item.is_float()) total = Value(total.as_double() + item.as_double());
             else {
               int64_t r;
               if (__builtin_add_overflow(total.as_int(), item.as_int(), &r)) fail("integer overflow");
               total = Value(r);
             }
           } else {
             fail("unsupported operand type(s) for +: '{}' and '{}'", total.type_name(), item.type_name());
           }
         }
         return total;
       }},
      {"title", [](Evaluator&, const Value& v, List&, Kwargs&) { return Value(pystr::jinja_title(py_str(v))); }},
      {"tojson", [](Evaluator&, const Value& v, List& a, Kwargs& k) -> Value {
         const Value* ind = arg(a, k, 0, "indent");
         bool sort_keys = false;
         for (const auto& [name, x] : k)
           if (name == "sort_keys") sort_keys = x.truthy();
         int indent = -1;
         if (ind && !ind->is_none()) {
           if (!ind->is_int()) fail("tojson indent must be an integer");
           indent = int(std::clamp<int64_t>(ind->as_int(), 0, 1000));
         }
         return Value(py_json(v, indent, sort_keys));
       }},
      {"trim", [](Evaluator&, const Value& v, List& a, Kwargs& k) { return Value(pystr::strip(py_str(v), str_arg(a, k, 0, "chars"), true, true)); }},
      {"unique", [](Evaluator& ev, const Value& v, List& a, Kwargs& k) -> Value {
         bool cs = bool_arg(a, k, 0, "case_sensitive", false);
         auto attr = str_arg(a, k, 1, "attribute");
         List out, seen;
         for (const Value& x : ev.iterate(v)) {
           Value key = lower_if_str(attr ? get_path(ev, x, *attr) : x, cs);
           bool dup = false;
           for (const Value& s : seen) dup = dup || py_equal(s, key);
           if (!dup) {
             seen.push_back(key);
             out.push_back(x);
           }
         }
         return Value::list(std::move(out));
       }},
      {"upper", [](Evaluator&, const Value& v, List&, Kwargs&) { return Value(pystr::upper(py_str(v))); }},
      {"wordcount", [](Evaluator&, const Value& v, List&, Kwargs&) -> Value {
         int64_t n = 0;
         bool in_word = false;
         for (uint32_t c : utf8_decode(py_str(v))) {
           bool w = c == '_' || pystr::is_alnum_cp(c);
           if (w && !in_word) ++n;
           in_word = w;
         }
         return Value(n);
       }},
  };
  return table;
}

}  // namespace

Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, List& args, Kwargs& kwargs) {
  static const std::unordered_map<std::string, std::string> aliases = {
      {"d", "default"}, {"e", "escape"}, {"count", "length"}};
  auto alias = aliases.find(name);
  const std::string& key = alias == aliases.end() ? name : alias->second;
  const auto& table = filters();
  auto it = table.find(key);
  if (it == table.end()) fail("No filter named '{}'.", name);
  return it->second(ev, input, args, kwargs);
}

bool apply_test(Evaluator& ev, const std::string& name, const Value& v, List& a, Kwargs& k) {
  auto other = [&]() -> const Value& {
    const Value* o = arg(a, k, 0, "other");
    if (!o) fail("test '{}' needs an argument", name);
    return *o;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "callable") return v.is_callable();
  if (name == "lower") return v.is_string() && pystr::lower(v.str()) == v.str();
  if (name == "upper") return v.is_string() && pystr::upper(v.str()) == v.str();
  if (name == "escaped") return false;
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (v.is_undefined()) undefined_error(v);
    if (!v.is_number()) fail("unsupported operand type(s) for %: '{}' and 'int'", v.type_name());
    if (v.is_float()) {
      double d = v.as_double();
      if (name == "odd") return std::fmod(d, 2.0) == 1.0 || std::fmod(d, 2.0) == -1.0;
      if (name == "even") return std::fmod(d, 2.0) == 0.0;
    } else {
      if (name == "odd") return v.as_int() % 2 != 0;
      if (name == "even") return v.as_int() % 2 == 0;
    }
    const Value& n = other();
    if (!n.is_number()) fail("divisibleby needs a number");
    if (n.as_double() == 0) fail("integer division or modulo by zero");
    if (v.is_float() || n.is_float()) return std::fmod(v.as_double(), n.as_double()) == 0;
    if (n.as_int() == -1) return true;
    return v.as_int() % n.as_int() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return py_equal(v, other());
  if (name == "ne" || name == "!=") return !py_equal(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return py_compare(v, other()) < 0;
  if (name == "le" || name == "<=") return py_compare(v, other()) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return py_compare(v, other()) > 0;
  if (name == "ge" || name == ">=") return py_compare(v, other()) >= 0;
  if (name == "in") return contains(ev, other(), v);
  if (name == "sameas") {
    const Value& o = other();
    if (v.is_mapping() || v.is_list()) return v.kind() == o.kind() && py_equal(v, o) && (!v.is_mapping() || v.dict_ptr() == o.dict_ptr());
    return v.kind() == o.kind() && py_equal(v, o);
  }
  fail("No test named '{}'.", name);
}

const Value* builtin_global(const std::string& name) {
  static const std::unordered_map<std::string, Value> globals = {
      {"range", Value::callable("range", [](Evaluator& ev, List& a, Kwargs&) -> Value {
         for (const Value& x : a)
           if (!x.is_int() && !x.is_bool()) fail("'{}' object cannot be interpreted as an integer", x.type_name());
         if (a.empty() || a.size() > 3) fail("range expected 1 to 3 arguments, got {}", a.size());
         int64_t start = a.size() >= 2 ? a[0].as_int() : 0;
         int64_t stop = a.size() >= 2 ? a[1].as_int() : a[0].as_int();
         int64_t step = a.size() == 3 ? a[2].as_int() : 1;
         if (step == 0) fail("range() arg 3 must not be zero");
         long double count = step > 0 ? std::ceil((long double)(stop - (long double)start) / step)
                                      : std::ceil(((long double)start - stop) / (long double)(-step));
         if (count > 0) ev.check_items(size_t(std::min<long double>(count, 1e18)));
         List out;
         for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
           out.push_back(Value(i));
           if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
         }
         return Value::list(std::move(out));
       })},
      {"namespace", Value::callable("namespace", [](Evaluator& ev, List& a, Kwargs& k) -> Value {
         Dict d;
         for (const Value& x : a) {
           if (!x.is_dict()) fail("namespace() positional argument must be a mapping");
           for (const auto& [key, val] : x.mapping().items) d.set(key, val);
         }
         for (auto& [key, val] : k) d.set(Value(key), val);
         return ev.make_namespace(std::move(d));
       })},
      {"dict", Value::callable("dict", [](Evaluator&, List& a, Kwargs& k) -> Value {
         Dict d;
         for (const Value& x : a) {
           if (!x.is_dict()) fail("dict() positional argument must be a mapping");
           for (const auto& [key, val] : x.mapping().items) d.set(key, val);
         }
         for (auto& [key, val] : k) d.set(Value(key), val);
         return Value::dict(std::move(d));
       })},
      {"raise_exception", Value::callable("raise_exception", [](Evaluator&, List& a, Kwargs&) -> Value {
         throw TemplateRaise("TemplateError: " + (a.empty() ? std::string() : py_str(a[0])));
       })},
      {"strftime_now", Value::callable("strftime_now", [](Evaluator&, List& a, Kwargs&) -> Value {
         if (a.empty() || !a[0].is_string()) fail("strftime_now needs a format string");
         std::time_t t = std::time(nullptr);
         std::tm tm{};
         localtime_r(&t, &tm);
         char buf[512];
         size_t n = a[0].str().size() < 200 ? std::strftime(buf, sizeof buf, a[0].str().c_str(), &tm) : 0;
         return Value(std::string(buf, n));
       })},
  };
  auto it = globals.find(name);
  return it == globals.end() ? nullptr : &it->second;
}

}  // namespace mlx::tmpl
