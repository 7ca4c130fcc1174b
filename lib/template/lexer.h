// Jinja lexer with transformers' environment settings: trim_blocks, lstrip_blocks, no trailing newline kept.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "template/ast.h"

namespace mlx::tmpl {

// Throws mlx::Error "<origin>:<line>:<col>: <problem>" on a lexical error.
std::vector<Token> tokenize(std::string_view source, const std::string& origin);

// Python's str.splitlines() + "\n".join(): every line break becomes "\n", one trailing break is dropped.
std::string normalize_newlines(std::string_view source);

}  // namespace mlx::tmpl
