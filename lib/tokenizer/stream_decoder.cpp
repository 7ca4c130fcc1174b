#include "tokenizer/stream_decoder.h"

namespace mlx {

namespace {

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(&tokenizer), skip_special_(skip_special) {}

// Window invariant: prefix_ == decode(ids_[0 .. prefix_index_)) and that text has been emitted already.
// A push decodes the whole window; if the result grew and does not end in U+FFFD (an incomplete character, or a
// byte-fallback run still arriving), the growth is emitted and the window shrinks to its last id, kept as context.
std::string StreamDecoder::push(int32_t id) {
  ids_.push_back(id);
  std::string text = tokenizer_->decode(ids_, skip_special_);
  if (text.size() <= prefix_.size() || ends_with_replacement(text)) return {};
  if (text.compare(0, prefix_.size(), prefix_) != 0) return {};  // context changed earlier text: wait for flush
  std::string out = text.substr(prefix_.size());
  // Keep as context the window from the last id that decodes cleanly on its own: a byte-fallback token kept alone
  // would join the next byte run and turn it into U+FFFDs.
  size_t keep = ids_.size() - 1;
  while (keep > 0 && ids_.size() - keep < kMaxWindow) {
    std::string alone = tokenizer_->decode(std::span<const int32_t>(&ids_[keep], 1), skip_special_);
    if (!alone.empty() && alone.find("\xEF\xBF\xBD") == std::string::npos) break;
    --keep;
  }
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(keep));
  prefix_ = tokenizer_->decode(ids_, skip_special_);
  prefix_index_ = ids_.size();
  read_index_ = 0;
  return out;
}

std::string StreamDecoder::flush() {
  std::string text = tokenizer_->decode(ids_, skip_special_);
  std::string out;
  if (text.size() >= prefix_.size() && text.compare(0, prefix_.size(), prefix_) == 0) out = text.substr(prefix_.size());
  else out = text;
  ids_.clear();
  prefix_.clear();
  prefix_index_ = read_index_ = 0;
  return out;
}

}  // namespace mlx
