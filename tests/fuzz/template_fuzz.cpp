// libFuzzer target: parse and render arbitrary template text against a realistic chat context under tight limits.
// Only mlx::Error may escape the library; anything else (crash, sanitizer report, other exception, hang) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "template/template.h"

namespace {

const nlohmann::ordered_json& context() {
  static const nlohmann::ordered_json vars = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "héllo 😀"}]},
      {"role": "assistant", "content": null, "tool_calls": [{"type": "function",
        "function": {"name": "f", "arguments": {"x": 1.5, "y": [true, null]}}}]},
      {"role": "tool", "content": "42"},
      {"role": "user", "content": "<think>\nhm\n</think>\n\nok"}
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {"x": {"type": "number"}}, "required": ["x"]}}}],
    "add_generation_prompt": true, "enable_thinking": false, "bos_token": "<s>", "eos_token": "</s>"
  })");
  return vars;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::string source(reinterpret_cast<const char*>(data), size);
  mlx::tmpl::Limits limits;
  limits.max_output = 1 << 16;
  limits.max_items = 1 << 12;
  limits.max_steps = 20000;
  limits.max_call_depth = 16;
  try {
    auto t = mlx::tmpl::Template::parse(source, "fuzz");
    (void)t.render(context(), limits);
  } catch (const mlx::Error&) {
  }
  return 0;
}
