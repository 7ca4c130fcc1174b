#include "runtime/prompt.h"

#include <iostream>
#include <iterator>
#include <sstream>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace mlx::runtime {

ChatPrompt make_chat_prompt(const std::string& prompt, const std::optional<std::string>& system_prompt,
                            const std::optional<std::string>& prefill_response, const Json& template_kwargs) {
  ChatPrompt chat;
  if (system_prompt) chat.messages.push_back({{"role", "system"}, {"content", *system_prompt}});
  chat.messages.push_back({{"role", "user"}, {"content", prompt}});
  if (prefill_response) {
    chat.messages.push_back({{"role", "assistant"}, {"content", *prefill_response}});
    chat.continue_final_message = true;
  }
  chat.template_kwargs = template_kwargs.is_object() ? template_kwargs : Json::object();
  return chat;
}

Json template_kwargs_for(const Tokenizer& tokenizer, const Json& kwargs) {
  Json out = kwargs.is_object() ? kwargs : Json::object();
  if (!out.contains("enable_thinking")) out["enable_thinking"] = tokenizer.token_to_id("<think>").has_value();
  return out;
}

std::string render_chat(const ChatTemplate& tmpl, const Tokenizer& tokenizer, const ChatPrompt& chat) {
  return tmpl.render(chat.messages, Json(nullptr), !chat.continue_final_message, chat.continue_final_message,
                     template_kwargs_for(tokenizer, chat.template_kwargs));
}

std::vector<int32_t> encode_chat(const ChatTemplate* tmpl, const Tokenizer& tokenizer, const ChatPrompt& chat) {
  if (tmpl) return tokenizer.encode(render_chat(*tmpl, tokenizer, chat), false);
  std::string text;
  for (const auto& m : chat.messages) {
    std::string content = m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
    text += m.value("role", std::string("user")) + ": " + content + "\n";
  }
  if (!chat.continue_final_message) text += "assistant:";
  return tokenizer.encode(text, true);
}

std::string read_prompt_argument(const std::string& prompt) {
  std::string text;
  if (prompt == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    text = prompt;
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 'n' || text[i + 1] == 't')) {
      out += text[i + 1] == 'n' ? '\n' : '\t';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<int32_t> parse_prompt_ids(const std::string& text) {
  std::vector<int32_t> ids;
  auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    Json j;
    try {
      j = Json::parse(text);
    } catch (const std::exception&) {
      usage_fail("--prompt-ids: not a valid JSON list of integers");
    }
    for (const auto& v : j) {
      if (!v.is_number_integer()) usage_fail("--prompt-ids: every element must be an integer, got {}", v.dump());
      int64_t x = v.get<int64_t>();
      if (x < INT32_MIN || x > INT32_MAX) usage_fail("--prompt-ids: {} does not fit a token id", x);
      ids.push_back(int32_t(x));
    }
    return ids;
  }
  std::string token;
  std::istringstream in(text);
  auto flush = [&]() {
    if (token.empty()) return;
    size_t used = 0;
    long long x = 0;
    try {
      x = std::stoll(token, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != token.size()) usage_fail("--prompt-ids: '{}' is not an integer", token);
    if (x < INT32_MIN || x > INT32_MAX) usage_fail("--prompt-ids: {} does not fit a token id", x);
    ids.push_back(int32_t(x));
    token.clear();
  };
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') flush();
    else token += c;
  }
  flush();
  return ids;
}

void check_ids_in_vocab(const std::vector<int32_t>& ids, int64_t vocab_size) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size)
      fail("prompt id {} at position {} is out of the vocabulary range [0, {})", ids[i], i, vocab_size);
}

}  // namespace mlx::runtime
