// A multi-turn conversation that keeps the real message history, re-renders it through the chat template every
// turn, and reuses the KV cache: the longest common token prefix stays, only the new suffix is prefilled.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/generator.h"
#include "template/chat_template.h"

namespace mlx {
class Model;
class KVCache;
class Tokenizer;
}  // namespace mlx

namespace mlx::runtime {

using Json = nlohmann::ordered_json;

struct ChatTurn {
  GenerationResult gen;
  int64_t prompt_tokens = 0;   // the whole rendered conversation
  int64_t reused_tokens = 0;   // taken from the KV cache (not prefilled)
  int dropped_messages = 0;    // oldest messages dropped to fit the context this turn
};

class ChatSession {
 public:
  // `tmpl` null = the plain `role: content` fallback. `context_limit` bounds rendered prompt + reply (tokens).
  ChatSession(Model& model, const Tokenizer& tokenizer, const ChatTemplate* tmpl, Json template_kwargs,
              int64_t context_limit);
  ~ChatSession();

  void set_system_prompt(std::optional<std::string> text);  // replaces (or removes) the leading system message
  void reset();                                             // forget the conversation, keep the system prompt
  const Json& messages() const { return messages_; }
  void set_messages(Json messages);                         // /load; validated (array of {role, content})

  // One user turn: append it, render, reuse the cache prefix, generate the reply (streamed to `on_text`), append
  // the reply (a partial reply after Ctrl-C too). `notice` receives one-line messages for the user (dropped turns).
  ChatTurn turn(const std::string& user_text, const GenerationParams& params, const TextSink& on_text,
                const std::function<void(const std::string&)>& notice = {});

  // The ids the template gives for the current messages plus a generation prompt (what a single-shot generate
  // would see).
  std::vector<int32_t> render_ids() const;
  int64_t cached_tokens() const { return int64_t(cached_.size()); }

 private:
  Model& model_;
  const Tokenizer& tokenizer_;
  const ChatTemplate* tmpl_;
  Json kwargs_;
  int64_t context_limit_;
  Json messages_ = Json::array();
  std::unique_ptr<KVCache> cache_;
  std::vector<int32_t> cached_;  // the tokens whose K/V the cache holds, in order
};

}  // namespace mlx::runtime
