#include "runtime/chat_session.h"

#include <algorithm>

#include "core/error.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "runtime/prompt.h"
#include "tokenizer/tokenizer.h"

namespace mlx::runtime {

ChatSession::ChatSession(Model& model, const Tokenizer& tokenizer, const ChatTemplate* tmpl, Json template_kwargs,
                         int64_t context_limit)
    : model_(model),
      tokenizer_(tokenizer),
      tmpl_(tmpl),
      kwargs_(std::move(template_kwargs)),
      context_limit_(context_limit),
      cache_(model.make_cache(0)) {}

ChatSession::~ChatSession() = default;

void ChatSession::set_system_prompt(std::optional<std::string> text) {
  if (!messages_.empty() && messages_[0].value("role", std::string()) == "system") messages_.erase(0);
  if (text) messages_.insert(messages_.begin(), Json{{"role", "system"}, {"content", *text}});
}

void ChatSession::reset() {
  Json kept = Json::array();
  if (!messages_.empty() && messages_[0].value("role", std::string()) == "system") kept.push_back(messages_[0]);
  messages_ = kept;
}

void ChatSession::set_messages(Json messages) {
  if (!messages.is_array()) fail("a conversation must be a JSON list of messages");
  for (const auto& m : messages)
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content"))
      fail("every message needs a string \"role\" and a \"content\"");
  messages_ = std::move(messages);
}

std::vector<int32_t> ChatSession::render_ids() const {
  ChatPrompt chat;
  chat.messages = messages_;
  chat.template_kwargs = kwargs_;
  return encode_chat(tmpl_, tokenizer_, chat);
}

namespace {
bool is_system(const Json& m) { return m.value("role", std::string()) == "system"; }
}  // namespace

ChatTurn ChatSession::turn(const std::string& user_text, const GenerationParams& params, const TextSink& on_text,
                           const std::function<void(const std::string&)>& notice) {
  ChatTurn t;
  messages_.push_back({{"role", "user"}, {"content", user_text}});
  std::vector<int32_t> ids;
  try {
    ids = render_ids();
    // Drop the oldest whole turns (a user message and the replies up to the next user message), never the system
    // prompt, until the prompt plus the reply budget fits. Dropping changes the prefix, so the whole conversation is
    // prefilled again: once we must drop, drop down to three quarters of the context, so that the next several turns
    // reuse the cache again instead of re-prefilling everything on every turn.
    const int64_t budget = int64_t(std::max(params.max_tokens, 0));
    const bool must_drop = context_limit_ > 0 && int64_t(ids.size()) + budget > context_limit_;
    const int64_t target = context_limit_ - context_limit_ / 4;
    while (must_drop && int64_t(ids.size()) + budget > target) {
      size_t first = (!messages_.empty() && is_system(messages_[0])) ? 1 : 0;
      if (first + 1 >= messages_.size()) break;  // only the new user message is left
      size_t end = first + 1;
      while (end < messages_.size() - 1 && messages_[end].value("role", std::string()) != "user") ++end;
      t.dropped_messages += int(end - first);
      messages_.erase(messages_.begin() + std::ptrdiff_t(first), messages_.begin() + std::ptrdiff_t(end));
      ids = render_ids();
    }
    if (t.dropped_messages > 0 && notice)
      notice(fmt::format("[context full: dropped the {} oldest message(s) to fit {} tokens]", t.dropped_messages,
                         context_limit_));
    if (context_limit_ > 0 && int64_t(ids.size()) >= context_limit_)
      fail("the message has {} tokens with the template; the context holds {}", ids.size(), context_limit_);
  } catch (...) {
    messages_.erase(messages_.size() - 1);
    throw;
  }
  t.prompt_tokens = int64_t(ids.size());

  // Longest common prefix with the cache; at least one token is always fed so the model yields fresh logits.
  size_t common = 0;
  while (common < cached_.size() && common < ids.size() && cached_[common] == ids[common]) ++common;
  common = std::min(common, ids.size() - 1);
  int64_t drop = cache_->offset() - int64_t(common);
  if (drop > 0) {
    if (cache_->can_trim(drop)) {
      cache_->trim(drop);
    } else {
      cache_->clear();
      common = 0;
    }
  }
  cached_.resize(common);
  t.reused_tokens = int64_t(common);

  std::span<const int32_t> suffix(ids.data() + common, ids.size() - common);
  t.gen = generate(model_, *cache_, &tokenizer_, suffix, params, on_text);
  // What the cache now holds: the prompt (or the part prefilled before a Ctrl-C), then the fed reply tokens.
  std::vector<int32_t> seen(ids.begin(), ids.end());
  seen.insert(seen.end(), t.gen.ids.begin(), t.gen.ids.end());
  cached_.assign(seen.begin(), seen.begin() + std::ptrdiff_t(common + size_t(t.gen.cached_tokens)));
  if (int64_t(cached_.size()) != cache_->offset()) {
    // Should not happen; stay correct by starting from an empty cache next turn.
    cache_->clear();
    cached_.clear();
  }
  messages_.push_back({{"role", "assistant"}, {"content", t.gen.text}});
  return t;
}

}  // namespace mlx::runtime
