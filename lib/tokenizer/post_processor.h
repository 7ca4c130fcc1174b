// Post-processors of tokenizer.json (TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence):
// add the special tokens around one encoded sequence when add_special_tokens is true.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mlx::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<int32_t>& ids) const = 0;
};

// nullptr for a JSON null. Unknown types are an mlx::Error naming the type and `origin`.
std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::ordered_json& spec, const std::string& origin);

}  // namespace mlx::tok
