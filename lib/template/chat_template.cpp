// Finding a model's chat template the way transformers does and rendering apply_chat_template(tokenize=False).
#include "template/chat_template.h"

#include "core/error.h"
#include "core/file_io.h"
#include "template/pystr.h"
#include "template/template.h"

namespace mlx {

namespace {

using json = nlohmann::ordered_json;

// A template field is a string or a list of {"name", "template"}; picks `name`.
std::optional<std::string> pick_template(const json& field, std::string_view name, const fs::path& file) {
  if (field.is_string()) {
    if (name == "default") return field.get<std::string>();
    return std::nullopt;
  }
  if (field.is_array()) {
    for (const auto& entry : field) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
          !entry["template"].is_string())
        fail("{}: chat_template list entries must be objects with string \"name\" and \"template\"", file.string());
      if (entry["name"].get<std::string>() == name) return entry["template"].get<std::string>();
    }
    return std::nullopt;
  }
  if (field.is_null()) return std::nullopt;
  fail("{}: \"chat_template\" must be a string or a list of named templates", file.string());
}

}  // namespace

std::optional<ChatTemplate> ChatTemplate::load(const fs::path& dir, std::string_view name) {
  json special = json::object();
  fs::path config_path = dir / "tokenizer_config.json";
  json config;
  if (fs::exists(config_path)) {
    config = read_json(config_path);
    if (config.is_object()) {
      for (auto it = config.begin(); it != config.end(); ++it) {
        const std::string& key = it.key();
        if (key.size() < 6 || key.compare(key.size() - 6, 6, "_token") != 0) continue;
        const json& v = it.value();
        if (v.is_string()) special[key] = v;
        else if (v.is_object() && v.contains("content") && v["content"].is_string()) special[key] = v["content"];
      }
    }
  }
  std::optional<std::string> source;
  fs::path origin;
  if (name != "default") {
    fs::path extra = dir / "additional_chat_templates" / (std::string(name) + ".jinja");
    if (fs::exists(extra)) {
      source = read_file(extra);
      origin = extra;
    }
  }
  if (!source && name == "default" && fs::exists(dir / "chat_template.jinja")) {
    origin = dir / "chat_template.jinja";
    source = read_file(origin);
  }
  if (!source && fs::exists(dir / "chat_template.json")) {
    origin = dir / "chat_template.json";
    json j = read_json(origin);
    if (!j.is_object() || !j.contains("chat_template")) fail("{}: missing \"chat_template\"", origin.string());
    source = pick_template(j["chat_template"], name, origin);
  }
  if (!source && config.is_object() && config.contains("chat_template")) {
    origin = config_path;
    source = pick_template(config["chat_template"], name, origin);
  }
  if (!source) return std::nullopt;
  return from_source(*source, special, origin.filename().string());
}

ChatTemplate ChatTemplate::from_source(const std::string& source, const nlohmann::ordered_json& special_tokens,
                                       const std::string& origin) {
  ChatTemplate t;
  t.template_ = std::make_shared<const tmpl::Template>(tmpl::Template::parse(source, origin));
  if (special_tokens.is_object()) t.special_tokens_ = special_tokens;
  return t;
}

const std::string& ChatTemplate::source() const { return template_->source(); }

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                 bool add_generation_prompt, bool continue_final_message,
                                 const nlohmann::ordered_json& kwargs) const {
  if (!messages.is_array()) fail("messages must be a list of message objects");
  if (continue_final_message && add_generation_prompt)
    fail("continue_final_message and add_generation_prompt are not compatible: use continue_final_message when the "
         "final message is an assistant message that should be continued, add_generation_prompt otherwise");
  // transformers: render(messages=..., tools=..., documents=..., add_generation_prompt=..., **special_tokens, **kwargs)
  json vars = json::object();
  for (auto it = special_tokens_.begin(); it != special_tokens_.end(); ++it) vars[it.key()] = it.value();
  if (kwargs.is_object())
    for (auto it = kwargs.begin(); it != kwargs.end(); ++it) vars[it.key()] = it.value();
  vars["messages"] = messages;
  vars["tools"] = tools.is_null() ? json(nullptr) : tools;
  if (!vars.contains("documents")) vars["documents"] = nullptr;
  vars["add_generation_prompt"] = add_generation_prompt;
  std::string rendered = template_->render(vars);
  if (!continue_final_message) return rendered;

  if (messages.empty() || !messages.back().is_object()) fail("continue_final_message needs a final message");
  const json& content = messages.back().contains("content") ? messages.back()["content"] : json();
  std::string final_message;
  if (content.is_string()) {
    final_message = content.get<std::string>();
  } else if (content.is_array()) {
    bool found = false;
    for (auto it = content.rbegin(); it != content.rend() && !found; ++it)
      if (it->is_object() && it->contains("text") && (*it)["text"].is_string()) {
        final_message = (*it)["text"].get<std::string>();
        found = true;
      }
    if (!found) fail("continue_final_message is set but we could not find any text to continue in the final message!");
  } else {
    fail("continue_final_message is set but the final message has no text content");
  }
  std::string stripped = tmpl::pystr::strip(final_message, std::nullopt, true, true);
  std::string lstripped = tmpl::pystr::strip(final_message, std::nullopt, true, false);
  size_t loc = rendered.rfind(stripped);
  if (loc == std::string::npos)
    fail("continue_final_message is set but the final message does not appear in the chat after applying the chat "
         "template! This can happen if the chat template deletes portions of the final message.");
  // The template kept the message's spacing (or it had none): cut right after it; else after its stripped text.
  if (rendered.compare(loc, lstripped.size(), final_message) == 0) return rendered.substr(0, loc + lstripped.size());
  return rendered.substr(0, loc + stripped.size());
}

}  // namespace mlx
