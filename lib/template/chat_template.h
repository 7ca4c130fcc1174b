// Chat templates: load a model's Jinja chat template the way transformers finds it, and render conversations
// byte-exactly as transformers' apply_chat_template(tokenize=False) does.
#pragma once
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace mlx::tmpl {
class Template;
}

namespace mlx {

namespace fs = std::filesystem;

class ChatTemplate {
 public:
  // Looks in transformers' order: chat_template.jinja, chat_template.json ("chat_template"), then
  // tokenizer_config.json "chat_template" (a string, or a list of {name, template}). Returns nullopt if the model
  // has no template (or none called `name`). Throws mlx::Error on an unreadable file or a template syntax error
  // (message names the file, line and column).
  static std::optional<ChatTemplate> load(const fs::path& model_dir, std::string_view name = "default");

  // A template from source text; `special_tokens` is an object of plain strings (bos_token, eos_token, ...).
  static ChatTemplate from_source(const std::string& source, const nlohmann::ordered_json& special_tokens = {},
                                  const std::string& origin = "chat_template");

  // messages: array of {role, content (string | list of parts | null), ...}; tools: array or null; kwargs: object of
  // extra template variables (e.g. {"enable_thinking": false}). Throws mlx::Error with the template's
  // raise_exception message (or the evaluation problem).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt, bool continue_final_message,
                     const nlohmann::ordered_json& kwargs = nlohmann::ordered_json::object()) const;

  const std::string& source() const;
  const nlohmann::ordered_json& special_tokens() const { return special_tokens_; }

 private:
  std::shared_ptr<const tmpl::Template> template_;
  nlohmann::ordered_json special_tokens_ = nlohmann::ordered_json::object();
};

}  // namespace mlx
