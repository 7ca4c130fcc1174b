// Fast tokenizer.json reading: one SAX pass that streams model.vocab and model.merges into flat vectors (the bulk
// of the file) and builds an ordinary JSON tree for everything else.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlx::tok {

struct TokenizerJson {
  nlohmann::ordered_json doc;                                // the file without model.vocab / model.merges
  std::vector<std::pair<std::string, int64_t>> vocab;        // model.vocab when it is a {token: id} object
  bool has_vocab = false;
  std::vector<std::pair<std::string, std::string>> merges;   // model.merges ("a b" or ["a", "b"])
  bool has_merges = false;
};

// Throws mlx::Error naming `origin` on malformed JSON or malformed merges.
TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& origin);

}  // namespace mlx::tok
