// Pre-tokenizers of tokenizer.json (ByteLevel, Split, Metaspace, Digits, Punctuation, Whitespace,
// WhitespaceSplit, Sequence): cut a normalized segment into the words the model tokenizes one by one.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mlx::tok {

struct Piece {
  std::string text;
  bool at_origin = false;  // starts at offset 0 of the original input (Metaspace prepend_scheme "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their finer split; empty pieces are dropped.
  virtual void apply(std::vector<Piece>& pieces) const = 0;
};

// nullptr for a JSON null. Unknown types are an mlx::Error naming the type and `origin`.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::ordered_json& spec, const std::string& origin);

}  // namespace mlx::tok
