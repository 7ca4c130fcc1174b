// Tree-walking evaluator of a parsed template (internal to lib/template).
#pragma once
#include <memory>
#include <string>
#include <unordered_map>

#include "template/ast.h"
#include "template/template.h"

namespace mlx::tmpl {

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;
};

class Evaluator {
 public:
  Evaluator(const Program& program, const Limits& limits);
  ~Evaluator();
  std::string run(const Dict& vars);

  Value eval(const Expr& e);
  Value call(const Value& callee, List& args, Kwargs& kwargs);
  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  Value filter(const std::string& name, const Value& input, List& args, Kwargs& kwargs);
  bool test(const std::string& name, const Value& input, List& args, Kwargs& kwargs);
  std::vector<Value> iterate(const Value& v);  // Python iteration: str → chars, dict → keys, undefined → empty

  void check_string(size_t size) const;
  void check_items(size_t count) const;
  void step();
  void charge(const Value& v);  // steps proportional to the size of a value being scanned or copied
  const Limits& limits() const { return limits_; }
  Value make_namespace(Dict d);

  // Errors raised while evaluating `at` carry its position.
  [[noreturn]] void error(const std::string& what) const;

 private:
  enum class Flow { Normal, Break, Continue };
  Flow exec(const Body& body, std::string& out);
  Flow exec_stmt(const Stmt& s, std::string& out);
  Flow exec_for(const Stmt& s, std::string& out);
  void assign(const Expr& target, const Value& v);
  Value lookup(const std::string& name) const;
  Value make_macro(const Stmt& s, std::shared_ptr<Frame> scope, const std::string& name);
  Value binary(const std::string& op, const Value& a, const Value& b);
  Value slice(const Value& obj, const Expr& e);
  Value capture(const Body& body);
  void write(std::string& out, std::string_view s);

  const Program& program_;
  const Limits& limits_;
  std::shared_ptr<Frame> root_;
  std::shared_ptr<Frame> frame_;
  std::vector<std::weak_ptr<Dict>> namespaces_;
  const Expr* at_expr_ = nullptr;
  const Stmt* at_stmt_ = nullptr;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  int eval_depth_ = 0;
};

// Undefined value produced by failed lookups; the hint names what was missing for later errors.
[[noreturn]] void undefined_error(const Value& u);

}  // namespace mlx::tmpl
