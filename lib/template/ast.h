// Tokens and syntax tree of the Jinja interpreter.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace mlx::tmpl {

struct Token {
  enum class Type { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };
  Type type;
  std::string text;  // Text data, name, decoded string literal, number spelling or operator
  int line = 1, col = 1;
};

struct Expr;
using ExprP = std::unique_ptr<Expr>;

struct Expr {
  enum class K {
    Const, Name, List, Tuple, Dict, GetAttr, GetItem, Slice, Call, Filter, Test, Neg, Pos, Not, Binary, Compare,
    And, Or, Cond
  };
  K k;
  int line = 0, col = 0;
  Value value;                                  // Const
  std::string name;                             // Name, attribute, filter/test name, binary operator
  ExprP a, b, c;                                // operands (GetItem: a[b]; Cond: b if a else c; Slice: a:b:c)
  std::vector<ExprP> args;                      // call/filter/test arguments, list/tuple items, dict keys+values
  std::vector<std::pair<std::string, ExprP>> kwargs;
  std::vector<std::string> ops;                 // Compare: operators between a and args
  bool negated = false;                         // Test: `is not`
  int depth = 1;                                // height of this subtree (bounded by the parser)
};

struct Stmt;
using StmtP = std::unique_ptr<Stmt>;
using Body = std::vector<StmtP>;

struct Stmt {
  enum class K { Text, Output, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, With, Break, Continue, Scope };
  K k;
  int line = 0, col = 0;
  std::string text;                      // Text
  ExprP expr;                            // Output / Set value / For iterable / CallBlock call / FilterBlock filter
  ExprP target;                          // Set / SetBlock / For target (Name, Tuple or GetAttr on a namespace)
  ExprP cond;                            // For's `if` filter
  std::vector<std::pair<ExprP, Body>> branches;  // If: (condition, body); else branch has a null condition
  Body body, else_body;
  std::string name;                      // Macro name
  std::vector<std::pair<std::string, ExprP>> params;  // Macro / CallBlock parameters with defaults (may be null)
  std::vector<std::pair<ExprP, ExprP>> assigns;        // With
};

// A parsed template shared by every render.
struct Program {
  Body body;
  std::string origin;
};

}  // namespace mlx::tmpl
