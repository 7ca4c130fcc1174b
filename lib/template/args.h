// Python-style argument access for built-in callables (internal to lib/template).
#pragma once
#include <optional>
#include <string>

#include "core/error.h"
#include "template/value.h"

namespace mlx::tmpl {

// Argument `index` (positional) or `name` (keyword), or nullptr when not given.
inline const Value* arg(const List& args, const Kwargs& kwargs, size_t index, const char* name) {
  if (index < args.size()) return &args[index];
  for (const auto& [k, v] : kwargs)
    if (k == name) return &v;
  return nullptr;
}

inline int64_t int_arg(const List& args, const Kwargs& kwargs, size_t index, const char* name, int64_t def) {
  const Value* v = arg(args, kwargs, index, name);
  if (!v || v->is_none()) return def;
  if (!v->is_int() && !v->is_bool()) fail("'{}' must be an integer, not {}", name, v->type_name());
  return v->as_int();
}

inline bool bool_arg(const List& args, const Kwargs& kwargs, size_t index, const char* name, bool def) {
  const Value* v = arg(args, kwargs, index, name);
  return v ? v->truthy() : def;
}

inline std::optional<std::string> str_arg(const List& args, const Kwargs& kwargs, size_t index, const char* name) {
  const Value* v = arg(args, kwargs, index, name);
  if (!v || v->is_none() || v->is_undefined()) return std::nullopt;
  if (!v->is_string()) fail("'{}' must be a string, not {}", name, v->type_name());
  return v->str();
}

}  // namespace mlx::tmpl
