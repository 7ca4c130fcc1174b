// Decoders of tokenizer.json (ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence):
// token strings -> text, each stage mapping a list of strings to a list of strings as Hugging Face does.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mlx::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// nullptr for a JSON null. Unknown types are an mlx::Error naming the type and `origin`.
std::unique_ptr<Decoder> make_decoder(const nlohmann::ordered_json& spec, const std::string& origin);

}  // namespace mlx::tok
