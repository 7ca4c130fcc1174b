// Hugging Face tokenizer.json, exactly: added tokens -> normalizer -> pre-tokenizer -> BPE -> post-processor for
// encoding, and decoders for decoding. Loaded from a model directory (tokenizer.json[.zst], tokenizer_config.json).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mlx {

namespace fs = std::filesystem;

class Tokenizer {
 public:
  // `model_dir` holds tokenizer.json (or tokenizer.json.zst) and optionally tokenizer_config.json; a path to a
  // tokenizer.json file is accepted too. Throws mlx::Error naming the file and the unsupported component.
  static Tokenizer load(const fs::path& model_dir);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Text (must be valid UTF-8, else mlx::Error naming the byte offset) -> ids, as tokenizers' encode(text,
  // add_special_tokens).ids.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Ids -> text, as tokenizers' decode(ids, skip_special_tokens). Unknown ids are skipped.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  int32_t vocab_size() const;  // largest id + 1, added tokens included
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;  // "" for an unknown id
  bool is_special(int32_t id) const;
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  // tokenizer_config.json (an empty object if the directory has none).
  const nlohmann::ordered_json& config() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlx
