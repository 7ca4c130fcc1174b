// Executes statements and evaluates expressions with jinja2's semantics: per-iteration loop scopes, macros that
// see the template's top-level variables, namespace objects as the only mutable state, Python operators.
#include "template/evaluator.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "template/builtins.h"
#include "template/parser.h"

namespace mlx::tmpl {

constexpr int kMaxEvalDepth = 1000;

[[noreturn]] void undefined_error(const Value& u) {
  fail("{}", u.str().empty() ? std::string("value is undefined") : u.str());
}

Evaluator::Evaluator(const Program& program, const Limits& limits) : program_(program), limits_(limits) {}

// Namespaces are the only objects that can reference themselves; clearing them breaks such cycles.
Evaluator::~Evaluator() {
  for (auto& w : namespaces_)
    if (auto d = w.lock()) d->items.clear();
}

Value Evaluator::make_namespace(Dict d) {
  Value v = Value::ns(std::move(d));
  namespaces_.push_back(v.dict_ptr());
  return v;
}

void Evaluator::error(const std::string& what) const {
  int line = at_expr_ ? at_expr_->line : at_stmt_ ? at_stmt_->line : 0;
  int col = at_expr_ ? at_expr_->col : at_stmt_ ? at_stmt_->col : 0;
  fail("{}:{}:{}: {}", program_.origin, line, col, what);
}

void Evaluator::check_string(size_t size) const {
  if (size > limits_.max_output) fail("string too long ({} bytes, limit {})", size, limits_.max_output);
}
void Evaluator::check_items(size_t count) const {
  if (count > limits_.max_items) fail("too many items ({}, limit {})", count, limits_.max_items);
}
void Evaluator::step() {
  if (++steps_ > limits_.max_steps) fail("template ran too long (more than {} steps)", limits_.max_steps);
}

// Work proportional to data size (string scans, copies) counts too, one step per 64 bytes or per item, so that a
// loop over a huge value cannot run for long within the step budget.
void Evaluator::charge(const Value& v) {
  size_t units = v.is_string() ? v.str().size() / 64 : v.is_list() ? v.items().size() : v.is_mapping() ? v.mapping().items.size() : 0;
  steps_ += units;
  if (steps_ > limits_.max_steps) fail("template ran too long (more than {} steps)", limits_.max_steps);
}

void Evaluator::write(std::string& out, std::string_view s) {
  if (out.size() + s.size() > limits_.max_output) fail("output exceeds {} bytes", limits_.max_output);
  out += s;
}

std::string Evaluator::run(const Dict& vars) {
  root_ = std::make_shared<Frame>();
  for (const auto& [k, v] : vars.items)
    if (k.is_string()) root_->vars[k.str()] = v;
  frame_ = root_;
  std::string out;
  try {
    exec(program_.body, out);
  } catch (const TemplateRaise&) {
    throw;
  } catch (const mlx::Error& e) {
    std::string msg = e.what();
    if (msg.rfind(program_.origin + ":", 0) == 0) throw;
    error(msg);
  }
  return out;
}

// ------------------------------------------------------------------ statements
Evaluator::Flow Evaluator::exec(const Body& body, std::string& out) {
  for (const StmtP& s : body) {
    Flow f = exec_stmt(*s, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Value Evaluator::capture(const Body& body) {
  std::string buf;
  exec(body, buf);
  return Value(std::move(buf));
}

// Applies a filter chain whose innermost input is missing (filter blocks, `{% set x | f %}`).
static Value apply_chain(Evaluator& ev, const Expr& f, Value input) {
  if (f.a) input = apply_chain(ev, *f.a, std::move(input));
  List args;
  for (const auto& a : f.args) args.push_back(ev.eval(*a));
  Kwargs kwargs;
  for (const auto& [k, e] : f.kwargs) kwargs.emplace_back(k, ev.eval(*e));
  return ev.filter(f.name, input, args, kwargs);
}

Evaluator::Flow Evaluator::exec_stmt(const Stmt& s, std::string& out) {
  step();
  at_stmt_ = &s;
  at_expr_ = nullptr;
  switch (s.k) {
    case Stmt::K::Text: write(out, s.text); return Flow::Normal;
    case Stmt::K::Output: {
      Value v = eval(*s.expr);
      if (v.is_string()) write(out, v.str());
      else write(out, py_str(v));
      return Flow::Normal;
    }
    case Stmt::K::If:
      for (const auto& [cond, body] : s.branches)
        if (!cond || eval(*cond).truthy()) return exec(body, out);
      return Flow::Normal;
    case Stmt::K::For: return exec_for(s, out);
    case Stmt::K::Set: assign(*s.target, eval(*s.expr)); return Flow::Normal;
    case Stmt::K::SetBlock: {
      Value v = capture(s.body);
      if (s.expr) v = apply_chain(*this, *s.expr, std::move(v));
      assign(*s.target, v);
      return Flow::Normal;
    }
    case Stmt::K::Macro: frame_->vars[s.name] = make_macro(s, frame_, s.name); return Flow::Normal;
    case Stmt::K::CallBlock: {
      const Expr& c = *s.expr;
      Value callee = eval(*c.a);
      List args;
      for (const auto& a : c.args) args.push_back(eval(*a));
      Kwargs kwargs;
      for (const auto& [k, e] : c.kwargs) kwargs.emplace_back(k, eval(*e));
      kwargs.emplace_back("caller", make_macro(s, frame_, "caller"));
      Value v = call(callee, args, kwargs);
      write(out, py_str(v));
      return Flow::Normal;
    }
    case Stmt::K::FilterBlock: {
      Value v = apply_chain(*this, *s.expr, capture(s.body));
      write(out, py_str(v));
      return Flow::Normal;
    }
    case Stmt::K::With: {
      auto inner = std::make_shared<Frame>();
      inner->parent = frame_;
      std::vector<Value> values;
      for (const auto& [t, e] : s.assigns) values.push_back(eval(*e));
      auto saved = frame_;
      frame_ = inner;
      try {
        for (size_t i = 0; i < values.size(); ++i) assign(*s.assigns[i].first, values[i]);
        Flow f = exec(s.body, out);
        frame_ = saved;
        return f;
      } catch (...) {
        frame_ = saved;
        throw;
      }
    }
    case Stmt::K::Scope: return exec(s.body, out);
    case Stmt::K::Break: return Flow::Break;
    case Stmt::K::Continue: return Flow::Continue;
  }
  return Flow::Normal;
}

Evaluator::Flow Evaluator::exec_for(const Stmt& s, std::string& out) {
  Value iterable = eval(*s.expr);
  std::vector<Value> items = iterate(iterable);
  auto saved = frame_;
  struct Restore {
    Evaluator* ev;
    std::shared_ptr<Frame> f;
    ~Restore() { ev->frame_ = f; }
  } restore{this, saved};
  if (s.cond) {
    std::vector<Value> kept;
    for (const Value& item : items) {
      step();
      frame_ = std::make_shared<Frame>();
      frame_->parent = saved;
      assign(*s.target, item);
      if (eval(*s.cond).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
    frame_ = saved;
  }
  if (items.empty()) return exec(s.else_body, out) == Flow::Break ? Flow::Normal : Flow::Normal;
  const int64_t n = int64_t(items.size());
  for (int64_t i = 0; i < n; ++i) {
    step();
    frame_ = std::make_shared<Frame>();
    frame_->parent = saved;
    Dict loop;
    loop.items.reserve(12);
    loop.set(Value("index0"), Value(i));
    loop.set(Value("index"), Value(i + 1));
    loop.set(Value("revindex"), Value(n - i));
    loop.set(Value("revindex0"), Value(n - i - 1));
    loop.set(Value("first"), Value(i == 0));
    loop.set(Value("last"), Value(i == n - 1));
    loop.set(Value("length"), Value(n));
    loop.set(Value("depth"), Value(1));
    loop.set(Value("depth0"), Value(0));
    loop.set(Value("previtem"), i > 0 ? items[size_t(i - 1)] : Value::undefined("there is no previous item"));
    loop.set(Value("nextitem"), i + 1 < n ? items[size_t(i + 1)] : Value::undefined("there is no next item"));
    loop.set(Value("cycle"), Value::callable("cycle", [i](Evaluator&, List& args, Kwargs&) -> Value {
               if (args.empty()) fail("no items for cycling given");
               return args[size_t(i) % args.size()];
             }));
    frame_->vars["loop"] = Value::dict(std::move(loop));
    assign(*s.target, items[size_t(i)]);
    Flow f = exec(s.body, out);
    if (f == Flow::Break) break;
  }
  return Flow::Normal;
}

void Evaluator::assign(const Expr& target, const Value& v) {
  if (target.k == Expr::K::Name) {
    frame_->vars[target.name] = v;
  } else if (target.k == Expr::K::Tuple) {
    std::vector<Value> parts = iterate(v);
    if (parts.size() != target.args.size())
      fail("cannot unpack {} values into {} names", parts.size(), target.args.size());
    for (size_t i = 0; i < parts.size(); ++i) assign(*target.args[i], parts[i]);
  } else if (target.k == Expr::K::GetAttr) {
    Value obj = lookup(target.a->name);
    if (!obj.is_namespace()) fail("cannot assign attribute on non-namespace object");
    obj.mutable_mapping().set(Value(target.name), v);
  } else {
    fail("cannot assign to this expression");
  }
}

Value Evaluator::lookup(const std::string& name) const {
  for (const Frame* f = frame_.get(); f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return it->second;
  }
  if (const Value* g = builtin_global(name)) return *g;
  return Value::undefined("'" + name + "' is undefined");
}

Value Evaluator::make_macro(const Stmt& s, std::shared_ptr<Frame> scope, const std::string& name) {
  const Stmt* def = &s;
  std::weak_ptr<Frame> weak = scope;
  return Value::callable(name, [def, weak](Evaluator& ev, List& args, Kwargs& kwargs) -> Value {
    if (ev.call_depth_ >= ev.limits_.max_call_depth) fail("maximum macro call depth {} exceeded", ev.limits_.max_call_depth);
    auto parent = weak.lock();
    if (!parent) parent = ev.root_;
    auto frame = std::make_shared<Frame>();
    frame->parent = parent;
    auto saved = ev.frame_;
    const Expr* saved_expr = ev.at_expr_;
    const Stmt* saved_stmt = ev.at_stmt_;
    ++ev.call_depth_;
    struct Restore {
      Evaluator& ev;
      std::shared_ptr<Frame> f;
      const Expr* e;
      const Stmt* s;
      ~Restore() {
        ev.frame_ = f;
        ev.at_expr_ = e;
        ev.at_stmt_ = s;
        --ev.call_depth_;
      }
    } restore{ev, saved, saved_expr, saved_stmt};
    ev.frame_ = frame;
    List varargs;
    for (size_t i = 0; i < args.size(); ++i) {
      if (i < def->params.size()) frame->vars[def->params[i].first] = args[i];
      else varargs.push_back(args[i]);
    }
    Dict extra;
    for (auto& [k, v] : kwargs) {
      bool known = k == "caller";
      for (const auto& p : def->params) known = known || p.first == k;
      if (known) frame->vars[k] = v;
      else extra.set(Value(k), v);
    }
    for (size_t i = args.size(); i < def->params.size(); ++i) {
      const auto& [pname, pdef] = def->params[i];
      if (frame->vars.count(pname)) continue;
      frame->vars[pname] = pdef ? ev.eval(*pdef) : Value::undefined("'" + pname + "' is undefined");
    }
    frame->vars["varargs"] = Value::list(std::move(varargs), true);
    frame->vars["kwargs"] = Value::dict(std::move(extra));
    std::string buf;
    ev.exec(def->body, buf);
    return Value(std::move(buf));
  });
}

// ------------------------------------------------------------------ expressions
Value Evaluator::eval(const Expr& e) {
  // Nested expressions inside nested macro calls multiply; bound the total native recursion.
  struct DepthGuard {
    int& d;
    explicit DepthGuard(int& depth) : d(depth) {
      if (++d > kMaxEvalDepth) fail("expression evaluation nested too deeply");
    }
    ~DepthGuard() { --d; }
  } guard(eval_depth_);
  at_expr_ = &e;
  switch (e.k) {
    case Expr::K::Const: return e.value;
    case Expr::K::Name: return lookup(e.name);
    case Expr::K::List:
    case Expr::K::Tuple: {
      List items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a));
      return Value::list(std::move(items), e.k == Expr::K::Tuple);
    }
    case Expr::K::Dict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i]);
        if (k.is_list() && !k.is_tuple()) fail("unhashable type: 'list'");
        if (k.is_mapping()) fail("unhashable type: 'dict'");
        d.set(k, eval(*e.args[i + 1]));
      }
      return Value::dict(std::move(d));
    }
    case Expr::K::GetAttr: {
      Value obj = eval(*e.a);
      at_expr_ = &e;
      return getattr(obj, e.name);
    }
    case Expr::K::GetItem: {
      Value obj = eval(*e.a);
      if (e.b->k == Expr::K::Slice) return slice(obj, *e.b);
      Value key = eval(*e.b);
      at_expr_ = &e;
      return getitem(obj, key);
    }
    case Expr::K::Slice: fail("slice outside of a subscript");
    case Expr::K::Call: {
      Value callee = eval(*e.a);
      List args;
      for (const auto& a : e.args) args.push_back(eval(*a));
      Kwargs kwargs;
      for (const auto& [k, x] : e.kwargs) kwargs.emplace_back(k, eval(*x));
      at_expr_ = &e;
      return call(callee, args, kwargs);
    }
    case Expr::K::Filter: {
      Value input = e.a ? eval(*e.a) : Value();
      List args;
      for (const auto& a : e.args) args.push_back(eval(*a));
      Kwargs kwargs;
      for (const auto& [k, x] : e.kwargs) kwargs.emplace_back(k, eval(*x));
      at_expr_ = &e;
      return filter(e.name, input, args, kwargs);
    }
    case Expr::K::Test: {
      Value input = eval(*e.a);
      List args;
      for (const auto& a : e.args) args.push_back(eval(*a));
      Kwargs kwargs;
      for (const auto& [k, x] : e.kwargs) kwargs.emplace_back(k, eval(*x));
      at_expr_ = &e;
      bool r = test(e.name, input, args, kwargs);
      return Value(e.negated ? !r : r);
    }
    case Expr::K::Neg:
    case Expr::K::Pos: {
      Value v = eval(*e.a);
      if (v.is_undefined()) undefined_error(v);
      if (!v.is_number()) fail("bad operand type for unary {}: '{}'", e.k == Expr::K::Neg ? '-' : '+', v.type_name());
      if (e.k == Expr::K::Pos) return v.is_bool() ? Value(v.as_int()) : v;
      if (v.is_float()) return Value(-v.as_double());
      if (v.as_int() == INT64_MIN) fail("integer overflow");
      return Value(-v.as_int());
    }
    case Expr::K::Not: return Value(!eval(*e.a).truthy());
    case Expr::K::And: {
      Value a = eval(*e.a);
      return a.truthy() ? eval(*e.b) : a;
    }
    case Expr::K::Or: {
      Value a = eval(*e.a);
      return a.truthy() ? a : eval(*e.b);
    }
    case Expr::K::Cond: {
      if (eval(*e.a).truthy()) return eval(*e.b);
      return e.c ? eval(*e.c) : Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
    case Expr::K::Binary: {
      Value a = eval(*e.a);
      Value b = eval(*e.b);
      at_expr_ = &e;
      return binary(e.name, a, b);
    }
    case Expr::K::Compare: {
      Value left = eval(*e.a);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i]);
        at_expr_ = &e;
        const std::string& op = e.ops[i];
        bool r;
        if (op == "==") r = py_equal(left, right);
        else if (op == "!=") r = !py_equal(left, right);
        else if (op == "in") r = contains(*this, right, left);
        else if (op == "notin") r = !contains(*this, right, left);
        else {
          if (left.is_undefined()) undefined_error(left);
          if (right.is_undefined()) undefined_error(right);
          int c = py_compare(left, right);
          r = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
        }
        if (!r) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
  }
  return Value();
}

Value Evaluator::call(const Value& callee, List& args, Kwargs& kwargs) {
  if (callee.is_undefined()) undefined_error(callee);
  if (!callee.is_callable()) fail("'{}' object is not callable", callee.type_name());
  step();
  for (const Value& a : args) charge(a);
  return callee.fn().fn(*this, args, kwargs);
}

Value Evaluator::slice(const Value& obj, const Expr& e) {
  auto bound = [&](const ExprP& x) -> std::optional<int64_t> {
    if (!x) return std::nullopt;
    Value v = eval(*x);
    if (v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) fail("slice indices must be integers or None");
    return v.as_int();
  };
  charge(obj);
  std::optional<int64_t> start = bound(e.a), stop = bound(e.b), step_v = bound(e.c);
  int64_t step = step_v.value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  auto pick = [&](int64_t len) {
    // Python's PySlice_AdjustIndices.
    int64_t lo, hi;
    auto adjust = [&](std::optional<int64_t> v, int64_t def) {
      if (!v) return def;
      int64_t x = *v;
      if (x < 0) {
        x += len;
        if (x < 0) x = step < 0 ? -1 : 0;
      } else if (x >= len) {
        x = step < 0 ? len - 1 : len;
      }
      return x;
    };
    lo = adjust(start, step < 0 ? len - 1 : 0);
    hi = adjust(stop, step < 0 ? -1 : len);
    std::vector<int64_t> idx;
    if (step > 0)
      for (int64_t i = lo; i < hi; i += step) idx.push_back(i);
    else
      for (int64_t i = lo; i > hi; i += step) idx.push_back(i);
    return idx;
  };
  if (obj.is_string()) {
    std::vector<uint32_t> cps = utf8_decode(obj.str());
    std::string out;
    for (int64_t i : pick(int64_t(cps.size()))) utf8_append(out, cps[size_t(i)]);
    return Value(std::move(out));
  }
  if (obj.is_list()) {
    List items;
    for (int64_t i : pick(int64_t(obj.items().size()))) items.push_back(obj.items()[size_t(i)]);
    return Value::list(std::move(items), obj.is_tuple());
  }
  if (obj.is_undefined()) undefined_error(obj);
  fail("'{}' object is not subscriptable", obj.type_name());
}

Value Evaluator::getattr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) undefined_error(obj);
  if (!name.empty() && name[0] == '_') return Value::undefined(fmt::format("access to attribute '{}' is unsafe", name));
  if (obj.is_namespace()) {
    if (const Value* v = obj.mapping().find(Value(name))) return *v;
    return Value::undefined(fmt::format("'Namespace' object has no attribute '{}'", name));
  }
  if (obj.is_string()) charge(obj);  // its methods scan it
  if (Value m = method(*this, obj, name); !m.is_undefined()) return m;
  if (obj.is_dict()) {
    if (const Value* v = obj.mapping().find(Value(name))) return *v;
  }
  // jinja2's wording: "'dict object' has no attribute 'x'", "'None' has no attribute 'x'".
  std::string type = obj.is_none() ? "None" : obj.type_name() + " object";
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", type, name));
}

Value Evaluator::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) undefined_error(obj);
  if (obj.is_string()) charge(obj);
  if (obj.is_dict() || obj.is_namespace()) {
    if (const Value* v = obj.mapping().find(key)) return *v;
  } else if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      int64_t n = int64_t(obj.items().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.items()[size_t(i)];
    } else {
      std::vector<uint32_t> cps = utf8_decode(obj.str());
      int64_t n = int64_t(cps.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return Value(utf8_encode(cps, size_t(i), size_t(i) + 1));
    }
    return Value::undefined(fmt::format("'{} object' has no element {}", obj.type_name(), key.as_int()));
  }
  if (key.is_string()) return getattr(obj, key.str());
  return Value::undefined(fmt::format("'{} object' has no element {}", obj.type_name(), py_repr(key)));
}

std::vector<Value> Evaluator::iterate(const Value& v) {
  std::vector<Value> out;
  switch (v.kind()) {
    case Value::Kind::Undefined: return out;
    case Value::Kind::String: {
      std::vector<uint32_t> cps = utf8_decode(v.str());
      out.reserve(cps.size());
      for (uint32_t c : cps) {
        std::string s;
        utf8_append(s, c);
        out.emplace_back(std::move(s));
      }
      break;
    }
    case Value::Kind::List: out = v.items(); break;
    case Value::Kind::Dict:
      for (const auto& [k, x] : v.mapping().items) out.push_back(k);
      break;
    default: fail("'{}' object is not iterable", v.type_name());
  }
  steps_ += out.size();
  if (steps_ > limits_.max_steps) fail("template ran too long (more than {} steps)", limits_.max_steps);
  return out;
}

Value Evaluator::filter(const std::string& name, const Value& input, List& args, Kwargs& kwargs) {
  step();
  charge(input);
  return apply_filter(*this, name, input, args, kwargs);
}

bool Evaluator::test(const std::string& name, const Value& input, List& args, Kwargs& kwargs) {
  return apply_test(*this, name, input, args, kwargs);
}

// ------------------------------------------------------------------ Template
Template Template::parse(std::string_view source, const std::string& origin) {
  Template t;
  t.program_ = parse_template(source, origin);
  t.source_ = std::string(source);
  return t;
}

std::string Template::render(const Dict& vars, const Limits& limits) const {
  Evaluator ev(*program_, limits);
  return ev.run(vars);
}

std::string Template::render(const nlohmann::ordered_json& vars, const Limits& limits) const {
  Value v = Value::from_json(vars.is_object() ? vars : nlohmann::ordered_json::object());
  return render(v.mapping(), limits);
}

}  // namespace mlx::tmpl
