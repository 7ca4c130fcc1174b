// Normalizers of tokenizer.json (NFC/NFD/NFKC/NFKD, Lowercase, Replace, Prepend, Strip, StripAccents, Sequence):
// text -> text, applied to each segment between added tokens before pre-tokenization.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace mlx::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

// nullptr for a JSON null. Unknown types are an mlx::Error naming the type and `origin`.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::ordered_json& spec, const std::string& origin);

}  // namespace mlx::tok
