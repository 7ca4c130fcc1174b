// A compiled Jinja template, rendered with transformers' chat-template environment (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols, raise_exception, strftime_now, tojson with ensure_ascii=False).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "template/value.h"

namespace mlx::tmpl {

struct Program;

// The template itself called raise_exception(msg): what() is "TemplateError: msg", as transformers reports it.
class TemplateRaise : public mlx::Error {
 public:
  using mlx::Error::Error;
};

// Bounds that keep a hostile template from exhausting memory, stack or time.
struct Limits {
  size_t max_output = size_t(64) << 20;  // bytes of output and of any one string value
  size_t max_items = size_t(1) << 20;    // elements in one list (range(), repeat, ...)
  int max_call_depth = 64;               // nested macro / caller() calls
  uint64_t max_steps = 20'000'000;       // evaluated statements + loop iterations
};

class Template {
 public:
  // Throws mlx::Error "<origin>:<line>:<col>: syntax error: ..." on a bad template.
  static Template parse(std::string_view source, const std::string& origin = "template");

  // `vars` is a JSON object of template variables (kept in insertion order). Throws TemplateRaise for
  // raise_exception(), mlx::Error "<origin>:<line>:<col>: <problem>" for other evaluation errors.
  std::string render(const nlohmann::ordered_json& vars, const Limits& limits = {}) const;
  std::string render(const Dict& vars, const Limits& limits = {}) const;

  const std::string& source() const { return source_; }

 private:
  std::shared_ptr<const Program> program_;
  std::string source_;
};

}  // namespace mlx::tmpl
