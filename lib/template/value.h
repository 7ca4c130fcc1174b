// The value type of the Jinja interpreter: Python-like semantics (None/True/False, int, float, str, list, tuple,
// dict in insertion order, jinja's Undefined, namespace objects and callables).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlx::tmpl {

class Value;
class Evaluator;
using List = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;

// Insertion-ordered mapping (chat-template dicts are small: linear lookup is fine).
struct Dict {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  Value* find(const Value& key);
  void set(const Value& key, Value value);
};

struct Callable {
  std::string name;
  std::function<Value(Evaluator&, List& args, Kwargs& kwargs)> fn;
};

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

  Value() = default;  // Undefined
  static Value undefined(std::string hint = {}) { Value v; v.s_ = std::move(hint); return v; }
  static Value none() { Value v; v.kind_ = Kind::None; return v; }
  Value(bool b) : kind_(Kind::Bool), i_(b) {}
  Value(int v) : kind_(Kind::Int), i_(v) {}
  Value(int64_t v) : kind_(Kind::Int), i_(v) {}
  Value(double v) : kind_(Kind::Float), f_(v) {}
  Value(std::string s) : kind_(Kind::String), s_(std::move(s)) {}
  Value(const char* s) : kind_(Kind::String), s_(s) {}
  Value(std::string_view s) : kind_(Kind::String), s_(s) {}
  static Value list(List items, bool tuple = false);
  static Value dict(Dict d = {});
  static Value ns(Dict d = {});
  static Value callable(std::string name, std::function<Value(Evaluator&, List&, Kwargs&)> fn);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_tuple() const { return kind_ == Kind::List && tuple_; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_mapping() const { return kind_ == Kind::Dict || kind_ == Kind::Namespace; }
  bool is_callable() const { return kind_ == Kind::Callable; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }  // Int and Bool
  double as_double() const { return kind_ == Kind::Float ? f_ : double(i_); }
  const std::string& str() const { return s_; }  // String; for Undefined: the hint used in error messages
  const List& items() const { return *list_; }
  const Dict& mapping() const { return *dict_; }
  Dict& mutable_mapping() const { return *dict_; }  // namespaces only
  const Callable& fn() const { return *fn_; }
  const std::shared_ptr<Dict>& dict_ptr() const { return dict_; }

  bool truthy() const;
  std::string type_name() const;  // Python's name: 'str', 'int', 'list', 'dict', 'NoneType', ...

 private:
  Kind kind_ = Kind::Undefined;
  bool tuple_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Callable> fn_;
};

// Python semantics.
bool py_equal(const Value& a, const Value& b);
int py_compare(const Value& a, const Value& b);  // <0, 0, >0; throws mlx::Error for unorderable types
std::string py_str(const Value& v);              // str(v); Undefined → ""
std::string py_repr(const Value& v);             // repr(v)
std::string py_float_repr(double d);
std::string py_string_repr(std::string_view s);
// json.dumps(v, ensure_ascii=False, indent=indent (<0: none), sort_keys) as transformers' tojson filter does.
std::string py_json(const Value& v, int indent = -1, bool sort_keys = false);

// UTF-8 helpers: strings index and slice by code point, as Python's str does.
std::vector<uint32_t> utf8_decode(std::string_view s);
std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin = 0, size_t end = SIZE_MAX);
void utf8_append(std::string& out, uint32_t cp);
bool py_isspace(uint32_t cp);

}  // namespace mlx::tmpl
