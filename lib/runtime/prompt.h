// Turning what the user typed into prompt ids the way mlx_lm.generate does: messages through the model's chat
// template (with mlx_lm's enable_thinking injection), or the raw text encoded with special tokens.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "template/chat_template.h"

namespace mlx {
class Tokenizer;
}

namespace mlx::runtime {

using Json = nlohmann::ordered_json;

struct ChatPrompt {
  Json messages = Json::array();          // [{role, content}, ...]
  bool continue_final_message = false;    // the last message is an assistant prefill to continue
  Json template_kwargs = Json::object();  // --chat-template-config
};

// [system?] + user (+ assistant prefill), as mlx_lm.generate builds them.
ChatPrompt make_chat_prompt(const std::string& prompt, const std::optional<std::string>& system_prompt,
                            const std::optional<std::string>& prefill_response, const Json& template_kwargs);

// The template kwargs with enable_thinking injected (= the tokenizer has a "<think>" token) unless given.
Json template_kwargs_for(const Tokenizer& tokenizer, const Json& kwargs);

// Renders through the template (add_generation_prompt unless continuing a prefill) and encodes without special
// tokens. Throws mlx::Error with the template's message on a template error.
std::string render_chat(const ChatTemplate& tmpl, const Tokenizer& tokenizer, const ChatPrompt& chat);

// The ids for a chat prompt: rendered + encoded when `tmpl` is given, else the plain-text fallback `role: content`
// lines (used by chat when the model has no template) encoded with special tokens.
std::vector<int32_t> encode_chat(const ChatTemplate* tmpl, const Tokenizer& tokenizer, const ChatPrompt& chat);

// mlx_lm's --prompt processing: "-" reads stdin; the literal two-character sequences \n and \t are unescaped.
std::string read_prompt_argument(const std::string& prompt);

// Parses --prompt-ids: comma/space separated integers or a JSON list. Throws mlx::UsageError on junk.
std::vector<int32_t> parse_prompt_ids(const std::string& text);

// Every id must be in [0, vocab_size): throws mlx::Error naming the first bad one.
void check_ids_in_vocab(const std::vector<int32_t>& ids, int64_t vocab_size);

}  // namespace mlx::runtime
