// Added tokens (special or not) found in raw text before the model runs, as Hugging Face's AddedVocabulary does:
// leftmost-longest matching, lstrip/rstrip swallow neighbouring whitespace, single_word needs word boundaries.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mlx::tok {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// One matched span or one unmatched gap of the input.
struct Segment {
  size_t begin, end;
  int32_t id;  // the added token's id, or -1 for a gap
};

class AddedTokenMatcher {
 public:
  // `patterns[i]` is the text to find for `tokens[i]` (the content, normalized for normalized tokens).
  void build(std::vector<AddedToken> tokens, std::vector<std::string> patterns);
  bool empty() const { return tokens_.empty(); }
  // Splits `text` into matched tokens and gaps (gaps may be empty only when text is empty: then none is returned).
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  // Length of the longest pattern starting at text[pos] and its token index, or {0, -1}.
  std::pair<size_t, int32_t> longest_at(std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  struct Node {
    int32_t token = -1;
  };
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child
  std::array<bool, 256> first_byte_{};
};

}  // namespace mlx::tok
