// Built-in globals, filters, tests and Python methods of str/dict/list (internal to lib/template).
#pragma once
#include <string>

#include "template/evaluator.h"

namespace mlx::tmpl {

const Value* builtin_global(const std::string& name);  // range, namespace, dict, raise_exception, strftime_now
Value method(Evaluator& ev, const Value& obj, const std::string& name);  // bound method or Undefined
Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, List& args, Kwargs& kwargs);
bool apply_test(Evaluator& ev, const std::string& name, const Value& input, List& args, Kwargs& kwargs);
bool contains(Evaluator& ev, const Value& container, const Value& item);
std::string printf_format(Evaluator& ev, const std::string& fmt, const Value& args);  // Python's `str % args`

}  // namespace mlx::tmpl
