// Which token ids end a reply: generation_config.json's eos_token_id over config.json's, the tokenizer's own EOS
// only when neither config names one (mlx_lm's resolution), plus --extra-eos-token.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace mlx::runtime {

// Reads config.json and generation_config.json in `model_dir` (either may be absent). A wrong-typed
// eos_token_id is an mlx::Error naming the file. Returns the ids in file order without duplicates.
std::vector<int32_t> config_eos_ids(const std::filesystem::path& model_dir);

// config ids, else the tokenizer's EOS (if any).
std::vector<int32_t> resolve_eos_ids(const std::filesystem::path& model_dir, std::optional<int32_t> tokenizer_eos);

}  // namespace mlx::runtime
