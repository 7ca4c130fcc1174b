// Pre-tokenizers of tokenizer.json (ByteLevel, Split, Metaspace, Digits, Punctuation, Whitespace,
// WhitespaceSplit, Sequence): cut a normalized segment into the words the model tokenizes one by one.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace mlx::tok {

// One word: a byte range of PreTokenized::text.
struct Piece {
  uint32_t begin, end;
  bool at_origin;  // starts at offset 0 of the original input (Metaspace prepend_scheme "first")
};

// A text and its words. Splitting only rewrites `pieces`; pre-tokenizers that change bytes (ByteLevel,
// Metaspace) rebuild `text`. Buffers are reused between calls, so steady-state encoding does not allocate.
struct PreTokenized {
  std::string text;
  std::vector<Piece> pieces;
  std::string_view piece(const Piece& p) const { return std::string_view(text).substr(p.begin, p.end - p.begin); }
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces the pieces of `pt` by their finer split (empty pieces are dropped); `scratch` is spare storage.
  virtual void apply(PreTokenized& pt, PreTokenized& scratch) const = 0;
};

// nullptr for a JSON null. Unknown types are an mlx::Error naming the type and `origin`.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::ordered_json& spec, const std::string& origin);

}  // namespace mlx::tok
