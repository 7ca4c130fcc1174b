// Incremental detokenization for generation loops: feed ids one at a time, get text only once it is complete
// UTF-8. The concatenation of every push() and the final flush() equals Tokenizer::decode(all ids).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mlx {

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false);
  // New complete text made available by `id` (often empty while a character's bytes are still arriving).
  std::string push(int32_t id);
  // Whatever is still held back (an incomplete character decodes to U+FFFD, as decode() would).
  std::string flush();

 private:
  static constexpr size_t kMaxWindow = 64;
  const Tokenizer* tokenizer_;
  bool skip_special_;
  // Hugging Face's DecodeStream: `ids_` is a short window; `prefix_` is the decoded text of its first
  // `prefix_index_` ids, which has already been emitted. Decoding the window with context keeps decoder rules that
  // depend on the neighbours (leading-space stripping, byte runs) identical to a full decode.
  std::vector<int32_t> ids_;
  std::string prefix_;
  size_t prefix_index_ = 0;
  size_t read_index_ = 0;
};

}  // namespace mlx
