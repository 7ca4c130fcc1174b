// Python's binary operators on template values: int/float arithmetic with Python's floor division and modulo,
// str/list concatenation and repetition, `~`, and `%` string formatting.
#include <algorithm>
#include <cmath>

#include "template/builtins.h"
#include "template/evaluator.h"

namespace mlx::tmpl {

// Python ints are unbounded; ours are 64-bit and overflow is an error rather than a wrong answer.
static int64_t add_i(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) fail("integer overflow");
  return r;
}
static int64_t sub_i(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) fail("integer overflow");
  return r;
}
static int64_t mul_i(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail("integer overflow");
  return r;
}

Value Evaluator::binary(const std::string& op, const Value& a, const Value& b) {
  charge(a);
  charge(b);
  if (op == "~") {
    std::string s = py_str(a);
    std::string t = py_str(b);
    check_string(s.size() + t.size());
    return Value(s + t);
  }
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  auto type_error = [&]() -> Value {
    fail("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
  };
  if (a.is_number() && b.is_number()) {
    bool fl = a.is_float() || b.is_float();
    int64_t x = a.as_int(), y = b.as_int();
    double fx = a.as_double(), fy = b.as_double();
    if (op == "+") return fl ? Value(fx + fy) : Value(add_i(x, y));
    if (op == "-") return fl ? Value(fx - fy) : Value(sub_i(x, y));
    if (op == "*") return fl ? Value(fx * fy) : Value(mul_i(x, y));
    if (op == "/") {
      if (fy == 0) fail("division by zero");
      return Value(fx / fy);
    }
    if (op == "//" || op == "%") {
      if (fl) {
        if (fy == 0) fail("float {} by zero", op == "//" ? "floor division" : "modulo");
        // Python's float_divmod.
        double m = std::fmod(fx, fy);
        double div = (fx - m) / fy;
        if (m != 0) {
          if ((fy < 0) != (m < 0)) {
            m += fy;
            div -= 1.0;
          }
        } else {
          m = std::copysign(0.0, fy);
        }
        if (op == "%") return Value(m);
        double fd;
        if (div != 0) {
          fd = std::floor(div);
          if (div - fd > 0.5) fd += 1.0;
        } else {
          fd = std::copysign(0.0, fx / fy);
        }
        return Value(fd);
      }
      if (y == 0) fail("integer {} by zero", op == "//" ? "division or modulo" : "modulo");
      if (x == INT64_MIN && y == -1) fail("integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        m += y;
        --q;
      }
      return op == "%" ? Value(m) : Value(q);
    }
    if (op == "**") {
      if (!fl && y >= 0) {
        int64_t result = 1, base = x;
        for (int64_t e = y; e > 0; e >>= 1) {
          if (e & 1) result = mul_i(result, base);
          if (e > 1) base = mul_i(base, base);
        }
        return Value(result);
      }
      if (fx == 0 && fy < 0) fail("0.0 cannot be raised to a negative power");
      return Value(std::pow(fx, fy));
    }
    return type_error();
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      check_string(a.str().size() + b.str().size());
      return Value(a.str() + b.str());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      check_items(a.items().size() + b.items().size());
      List items = a.items();
      items.insert(items.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(items), a.is_tuple());
    }
    if (a.is_string()) fail("can only concatenate str (not \"{}\") to str", b.type_name());
    if (a.is_list() && !a.is_tuple()) fail("can only concatenate list (not \"{}\") to list", b.type_name());
    return type_error();
  }
  if (op == "*") {
    const Value* seq = a.is_string() || a.is_list() ? &a : b.is_string() || b.is_list() ? &b : nullptr;
    const Value* count = seq == &a ? &b : &a;
    if (seq && (count->is_int() || count->is_bool())) {
      int64_t n = std::max<int64_t>(0, count->as_int());
      if (seq->is_string()) {
        if (n > 0 && seq->str().size() > 0) check_string(seq->str().size() * size_t(std::min<int64_t>(n, INT64_MAX / int64_t(seq->str().size()) )));
        std::string out;
        for (int64_t i = 0; i < n && !seq->str().empty(); ++i) out += seq->str();
        return Value(std::move(out));
      }
      if (n > 0 && !seq->items().empty()) check_items(seq->items().size() * size_t(std::min<int64_t>(n, int64_t(limits_.max_items) + 1)));
      List items;
      for (int64_t i = 0; i < n && !seq->items().empty(); ++i) items.insert(items.end(), seq->items().begin(), seq->items().end());
      return Value::list(std::move(items), seq->is_tuple());
    }
    return type_error();
  }
  if (op == "%" && a.is_string()) return Value(printf_format(*this, a.str(), b));
  return type_error();
}

}  // namespace mlx::tmpl
