// Jinja parser: tokens → Program (statements and expressions with jinja2's operator precedence).
#pragma once
#include <string>
#include <string_view>

#include "template/ast.h"

namespace mlx::tmpl {

// Throws mlx::Error "<origin>:<line>:<col>: syntax error: <problem>".
std::shared_ptr<Program> parse_template(std::string_view source, const std::string& origin);

}  // namespace mlx::tmpl
