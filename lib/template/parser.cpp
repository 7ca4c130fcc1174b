// Recursive-descent parser following jinja2's grammar: condexpr > or > and > not > compare > + - > ~ > * / // % >
// ** > unary - + > primary with postfix (. [] ()) then filters `|` and tests `is`.
#include "template/parser.h"

#include <charconv>
#include <cmath>
#include <algorithm>
#include <set>

#include "core/error.h"
#include "template/lexer.h"

namespace mlx::tmpl {
namespace {

using T = Token::Type;
constexpr int kMaxNesting = 200;    // bounds parser recursion on hostile input
constexpr int kMaxExprDepth = 300;  // bounds evaluator recursion

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string origin) : toks_(std::move(tokens)), origin_(std::move(origin)) {}

  Body parse_all() {
    Body body = parse_body({});
    return body;
  }

 private:
  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  void next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().type == T::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == T::Name && cur().text == n; }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case T::Eof: return "end of template";
      case T::VarEnd: return "end of print statement";
      case T::BlockEnd: return "end of statement block";
      case T::Text: return "template data";
      case T::String: return "string";
      default: return "'" + t.text + "'";
    }
  }

  [[noreturn]] void error_at(const Token& t, const std::string& what) const {
    fail("{}:{}:{}: syntax error: {}", origin_, t.line, t.col, what);
  }
  [[noreturn]] void unexpected() const { error_at(cur(), "unexpected " + describe(cur())); }

  void expect_op(const char* op) {
    if (!is_op(op)) error_at(cur(), fmt::format("expected '{}', got {}", op, describe(cur())));
    next();
  }
  std::string expect_name() {
    if (cur().type != T::Name) error_at(cur(), "expected a name, got " + describe(cur()));
    std::string n = cur().text;
    next();
    return n;
  }
  void expect_block_end() {
    if (cur().type != T::BlockEnd) error_at(cur(), "expected end of statement block, got " + describe(cur()));
    next();
  }

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting) p.error_at(p.cur(), "template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  ExprP node(Expr::K k, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->k = k;
    e->line = at.line;
    e->col = at.col;
    return e;
  }
  // Records the subtree height and refuses trees deep enough to exhaust the stack when evaluated or destroyed.
  ExprP finish(ExprP e) {
    int d = 0;
    for (const ExprP* c : {&e->a, &e->b, &e->c})
      if (*c) d = std::max(d, (*c)->depth);
    for (const auto& x : e->args) d = std::max(d, x->depth);
    for (const auto& [k, x] : e->kwargs) d = std::max(d, x->depth);
    e->depth = d + 1;
    if (e->depth > kMaxExprDepth) error_at(cur(), "expression nested too deeply");
    return e;
  }

  StmtP stmt(Stmt::K k, const Token& at) {
    auto s = std::make_unique<Stmt>();
    s->k = k;
    s->line = at.line;
    s->col = at.col;
    return s;
  }

  // ------------------------------------------------------------ statements
  // Parses until a `{% name %}` with name in `ends` (left unconsumed at the name) or the end of input.
  Body parse_body(const std::set<std::string>& ends) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == T::Eof) {
        if (!ends.empty()) {
          std::string list;
          for (const auto& e : ends) list += (list.empty() ? "'" : " or '") + e + "'";
          error_at(t, "unexpected end of template, expected " + list);
        }
        return body;
      }
      if (t.type == T::Text) {
        auto s = stmt(Stmt::K::Text, t);
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.type == T::VarBegin) {
        auto s = stmt(Stmt::K::Output, t);
        next();
        s->expr = parse_tuple(false);
        if (cur().type != T::VarEnd) error_at(cur(), "expected end of print statement, got " + describe(cur()));
        next();
        body.push_back(std::move(s));
      } else if (t.type == T::BlockBegin) {
        const Token& n = peek();
        if (n.type != T::Name) error_at(n, "expected statement name, got " + describe(n));
        if (ends.count(n.text)) {
          next();
          return body;
        }
        next();
        body.push_back(parse_statement());
      } else {
        unexpected();
      }
    }
  }

  StmtP parse_statement() {
    const Token t = cur();
    const std::string& n = t.text;
    next();
    if (n == "if") return parse_if(t);
    if (n == "for") return parse_for(t);
    if (n == "set") return parse_set(t);
    if (n == "macro") return parse_macro(t);
    if (n == "call") return parse_call_block(t);
    if (n == "filter") return parse_filter_block(t);
    if (n == "with") return parse_with(t);
    if (n == "break" || n == "continue") {
      if (loop_depth_ == 0) error_at(t, "'" + n + "' outside of a loop");
      expect_block_end();
      return stmt(n == "break" ? Stmt::K::Break : Stmt::K::Continue, t);
    }
    if (n == "generation") {  // transformers' AssistantTracker: renders its body unchanged
      expect_block_end();
      auto s = stmt(Stmt::K::Scope, t);
      s->body = parse_body({"endgeneration"});
      next();
      expect_block_end();
      return s;
    }
    error_at(t, "unknown or unsupported tag '" + n + "'");
  }

  StmtP parse_if(const Token& t) {
    auto s = stmt(Stmt::K::If, t);
    ExprP cond = parse_tuple(false);
    expect_block_end();
    while (true) {
      Body body = parse_body({"elif", "else", "endif"});
      std::string which = cur().text;
      next();
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (which == "elif") {
        cond = parse_tuple(false);
        expect_block_end();
      } else if (which == "else") {
        expect_block_end();
        Body eb = parse_body({"endif"});
        next();
        expect_block_end();
        s->branches.emplace_back(nullptr, std::move(eb));
        return s;
      } else {
        expect_block_end();
        return s;
      }
    }
  }

  ExprP parse_assign_target(bool allow_attr) {
    const Token t = cur();
    ExprP first;
    auto one = [&]() -> ExprP {
      if (is_op("(")) {
        next();
        ExprP inner = parse_assign_target(false);
        expect_op(")");
        return inner;
      }
      const Token nt = cur();
      auto e = node(Expr::K::Name, nt);
      e->name = expect_name();
      if (allow_attr && is_op(".")) {
        next();
        auto g = node(Expr::K::GetAttr, nt);
        g->a = std::move(e);
        g->name = expect_name();
        return g;
      }
      return e;
    };
    first = one();
    if (!is_op(",")) return first;
    auto tup = node(Expr::K::Tuple, t);
    tup->args.push_back(std::move(first));
    while (is_op(",")) {
      next();
      if (cur().type != T::Name && !is_op("(")) break;
      tup->args.push_back(one());
    }
    return tup;
  }

  StmtP parse_for(const Token& t) {
    auto s = stmt(Stmt::K::For, t);
    s->target = parse_assign_target(false);
    if (!is_name("in")) error_at(cur(), "expected 'in', got " + describe(cur()));
    next();
    s->expr = parse_tuple(true);
    if (is_name("if")) {
      next();
      s->cond = parse_expression(true);
    }
    if (is_name("recursive")) error_at(cur(), "recursive loops are not supported");
    expect_block_end();
    ++loop_depth_;
    s->body = parse_body({"endfor", "else"});
    --loop_depth_;
    if (cur().text == "else") {
      next();
      expect_block_end();
      int saved = loop_depth_;
      loop_depth_ = 0;
      s->else_body = parse_body({"endfor"});
      loop_depth_ = saved;
    }
    next();
    expect_block_end();
    return s;
  }

  StmtP parse_set(const Token& t) {
    ExprP target = parse_assign_target(true);
    if (is_op("=")) {
      next();
      auto s = stmt(Stmt::K::Set, t);
      s->target = std::move(target);
      s->expr = parse_tuple(false);
      expect_block_end();
      return s;
    }
    auto s = stmt(Stmt::K::SetBlock, t);
    s->target = std::move(target);
    if (is_op("|")) s->expr = parse_filter_chain(nullptr);
    expect_block_end();
    s->body = parse_body({"endset"});
    next();
    expect_block_end();
    return s;
  }

  void parse_signature(std::vector<std::pair<std::string, ExprP>>& params) {
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      std::string name = expect_name();
      ExprP def;
      if (is_op("=")) {
        next();
        def = parse_expression(true);
      }
      params.emplace_back(std::move(name), std::move(def));
    }
    next();
  }

  StmtP parse_macro(const Token& t) {
    auto s = stmt(Stmt::K::Macro, t);
    s->name = expect_name();
    parse_signature(s->params);
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_body({"endmacro"});
    loop_depth_ = saved;
    next();
    if (cur().type == T::Name) next();  // {% endmacro name %}
    expect_block_end();
    return s;
  }

  StmtP parse_call_block(const Token& t) {
    auto s = stmt(Stmt::K::CallBlock, t);
    if (is_op("(")) parse_signature(s->params);
    s->expr = parse_expression(true);
    if (s->expr->k != Expr::K::Call) error_at(t, "expected call");
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_body({"endcall"});
    loop_depth_ = saved;
    next();
    expect_block_end();
    return s;
  }

  StmtP parse_filter_block(const Token& t) {
    auto s = stmt(Stmt::K::FilterBlock, t);
    s->expr = parse_filter_chain(nullptr, /*leading_pipe=*/false);
    expect_block_end();
    s->body = parse_body({"endfilter"});
    next();
    expect_block_end();
    return s;
  }

  StmtP parse_with(const Token& t) {
    auto s = stmt(Stmt::K::With, t);
    while (cur().type != T::BlockEnd) {
      if (!s->assigns.empty()) expect_op(",");
      ExprP target = parse_assign_target(false);
      expect_op("=");
      s->assigns.emplace_back(std::move(target), parse_expression(true));
    }
    expect_block_end();
    s->body = parse_body({"endwith"});
    next();
    expect_block_end();
    return s;
  }

  // ------------------------------------------------------------ expressions
  ExprP parse_tuple(bool simplified) {
    const Token t = cur();
    ExprP first = simplified ? parse_or() : parse_expression(true);
    if (!is_op(",")) return first;
    auto tup = node(Expr::K::Tuple, t);
    tup->args.push_back(std::move(first));
    while (is_op(",")) {
      next();
      if (cur().type == T::VarEnd || cur().type == T::BlockEnd || is_op(")") || is_name("if")) break;
      tup->args.push_back(simplified ? parse_or() : parse_expression(true));
    }
    return finish(std::move(tup));
  }

  ExprP parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    if (!with_condexpr) return parse_or();
    const Token t = cur();
    ExprP expr = parse_or();
    while (is_name("if")) {
      next();
      auto c = node(Expr::K::Cond, t);
      c->a = parse_or();  // condition
      c->b = std::move(expr);
      if (is_name("else")) {
        next();
        c->c = parse_expression(true);
      }
      expr = finish(std::move(c));
    }
    return expr;
  }

  ExprP parse_or() {
    ExprP left = parse_and();
    while (is_name("or")) {
      const Token t = cur();
      next();
      auto e = node(Expr::K::Or, t);
      e->a = std::move(left);
      e->b = parse_and();
      left = finish(std::move(e));
    }
    return left;
  }

  ExprP parse_and() {
    ExprP left = parse_not();
    while (is_name("and")) {
      const Token t = cur();
      next();
      auto e = node(Expr::K::And, t);
      e->a = std::move(left);
      e->b = parse_not();
      left = finish(std::move(e));
    }
    return left;
  }

  ExprP parse_not() {
    DepthGuard guard(*this);
    if (is_name("not")) {
      const Token t = cur();
      next();
      auto e = node(Expr::K::Not, t);
      e->a = parse_not();
      return finish(std::move(e));
    }
    return parse_compare();
  }

  ExprP parse_compare() {
    const Token t = cur();
    ExprP left = parse_math1();
    ExprP cmp;
    while (true) {
      std::string op;
      if (cur().type == T::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                  cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().type == T::Name && peek().text == "in") {
        op = "notin";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = node(Expr::K::Compare, t);
        cmp->a = std::move(left);
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? finish(std::move(cmp)) : std::move(left);
  }

  ExprP binary(const Token& t, const std::string& op, ExprP a, ExprP b) {
    auto e = node(Expr::K::Binary, t);
    e->name = op;
    e->a = std::move(a);
    e->b = std::move(b);
    return finish(std::move(e));
  }

  ExprP parse_math1() {
    ExprP left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token t = cur();
      next();
      left = binary(t, t.text, std::move(left), parse_concat());
    }
    return left;
  }

  ExprP parse_concat() {
    ExprP left = parse_math2();
    while (is_op("~")) {
      const Token t = cur();
      next();
      left = binary(t, "~", std::move(left), parse_math2());
    }
    return left;
  }

  ExprP parse_math2() {
    ExprP left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token t = cur();
      next();
      left = binary(t, t.text, std::move(left), parse_pow());
    }
    return left;
  }

  ExprP parse_pow() {
    ExprP left = parse_unary(true);
    while (is_op("**")) {
      const Token t = cur();
      next();
      left = binary(t, "**", std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprP parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    const Token t = cur();
    ExprP e;
    if (is_op("-") || is_op("+")) {
      next();
      e = node(t.text == "-" ? Expr::K::Neg : Expr::K::Pos, t);
      e->a = parse_unary(false);
      e = finish(std::move(e));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprP parse_primary() {
    const Token t = cur();
    switch (t.type) {
      case T::Name: {
        next();
        if (t.text == "true" || t.text == "True") return constant(t, Value(true));
        if (t.text == "false" || t.text == "False") return constant(t, Value(false));
        if (t.text == "none" || t.text == "None") return constant(t, Value::none());
        auto e = node(Expr::K::Name, t);
        e->name = t.text;
        return e;
      }
      case T::String: {
        std::string s;
        while (cur().type == T::String) {  // adjacent literals concatenate
          s += cur().text;
          next();
        }
        return constant(t, Value(std::move(s)));
      }
      case T::Int: {
        next();
        int64_t v = 0;
        auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
        if (r.ec != std::errc()) return constant(t, Value(std::strtod(t.text.c_str(), nullptr)));
        return constant(t, Value(v));
      }
      case T::Float: {
        next();
        return constant(t, Value(std::strtod(t.text.c_str(), nullptr)));
      }
      case T::Op: {
        if (t.text == "(") {
          next();
          if (is_op(")")) {
            next();
            return node(Expr::K::Tuple, t);
          }
          ExprP inner = parse_expression(true);
          if (is_op(",")) {
            auto tup = node(Expr::K::Tuple, t);
            tup->args.push_back(std::move(inner));
            while (is_op(",")) {
              next();
              if (is_op(")")) break;
              tup->args.push_back(parse_expression(true));
            }
            inner = finish(std::move(tup));
          }
          expect_op(")");
          return inner;
        }
        if (t.text == "[") {
          next();
          auto e = node(Expr::K::List, t);
          while (!is_op("]")) {
            if (!e->args.empty()) expect_op(",");
            if (is_op("]")) break;
            e->args.push_back(parse_expression(true));
          }
          next();
          return finish(std::move(e));
        }
        if (t.text == "{") {
          next();
          auto e = node(Expr::K::Dict, t);
          while (!is_op("}")) {
            if (!e->args.empty()) expect_op(",");
            if (is_op("}")) break;
            e->args.push_back(parse_expression(true));
            expect_op(":");
            e->args.push_back(parse_expression(true));
          }
          next();
          return finish(std::move(e));
        }
        break;
      }
      default: break;
    }
    unexpected();
  }

  ExprP constant(const Token& t, Value v) {
    auto e = node(Expr::K::Const, t);
    e->value = std::move(v);
    return e;
  }

  ExprP parse_postfix(ExprP e) {
    while (true) {
      const Token t = cur();
      if (is_op(".")) {
        next();
        if (cur().type == T::Name) {
          auto g = node(Expr::K::GetAttr, t);
          g->a = std::move(e);
          g->name = cur().text;
          next();
          e = finish(std::move(g));
        } else if (cur().type == T::Int) {
          auto g = node(Expr::K::GetItem, t);
          g->a = std::move(e);
          g->b = constant(cur(), Value(int64_t(std::strtoll(cur().text.c_str(), nullptr, 10))));
          next();
          e = finish(std::move(g));
        } else {
          error_at(cur(), "expected name or number after '.'");
        }
      } else if (is_op("[")) {
        next();
        auto g = node(Expr::K::GetItem, t);
        g->a = std::move(e);
        g->b = parse_subscript();
        expect_op("]");
        e = finish(std::move(g));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprP parse_subscript() {
    const Token t = cur();
    ExprP first;
    if (!is_op(":")) {
      first = parse_expression(true);
      if (!is_op(":")) return first;
    }
    auto s = node(Expr::K::Slice, t);
    s->a = std::move(first);
    next();  // ':'
    if (!is_op("]") && !is_op(":")) s->b = parse_expression(true);
    if (is_op(":")) {
      next();
      if (!is_op("]")) s->c = parse_expression(true);
    }
    return finish(std::move(s));
  }

  void parse_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (!e.args.empty() || !e.kwargs.empty()) expect_op(",");
      if (is_op(")")) break;
      if (cur().type == T::Name && peek().type == T::Op && peek().text == "=") {
        std::string key = cur().text;
        next();
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) error_at(cur(), "positional argument follows keyword argument");
        e.args.push_back(parse_expression(true));
      }
    }
    next();
  }

  ExprP parse_call(ExprP callee) {
    auto c = node(Expr::K::Call, cur());
    c->a = std::move(callee);
    parse_args(*c);
    return finish(std::move(c));
  }

  // `|name(args)` repeated; `leading_pipe` false for `{% filter name %}`.
  ExprP parse_filter_chain(ExprP input, bool leading_pipe = true) {
    bool first = true;
    while ((first && !leading_pipe) || is_op("|")) {
      if (!(first && !leading_pipe)) next();
      first = false;
      const Token t = cur();
      auto f = node(Expr::K::Filter, t);
      f->name = expect_name();
      while (is_op(".")) {
        next();
        f->name += "." + expect_name();
      }
      f->a = std::move(input);
      if (is_op("(")) parse_args(*f);
      input = finish(std::move(f));
    }
    return input;
  }

  ExprP parse_filter_expr(ExprP e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter_chain(std::move(e));
      } else if (is_name("is")) {
        const Token t = cur();
        next();
        auto test = node(Expr::K::Test, t);
        if (is_name("not")) {
          next();
          test->negated = true;
        }
        test->name = expect_name();
        test->a = std::move(e);
        if (is_op("(")) {
          parse_args(*test);
        } else if ((cur().type == T::Name || cur().type == T::String || cur().type == T::Int ||
                    cur().type == T::Float || is_op("[") || is_op("{")) &&
                   !(is_name("else") || is_name("or") || is_name("and") || is_name("if") || is_name("in") ||
                     is_name("not") || is_name("is"))) {
          test->args.push_back(parse_postfix(parse_primary()));
        }
        e = finish(std::move(test));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  std::vector<Token> toks_;
  std::string origin_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

std::shared_ptr<Program> parse_template(std::string_view source, const std::string& origin) {
  auto program = std::make_shared<Program>();
  program->origin = origin;
  program->body = Parser(tokenize(source, origin), origin).parse_all();
  return program;
}

}  // namespace mlx::tmpl
