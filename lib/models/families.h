// The family singletons (one per lib/models/<family>.cpp), listed in family.cpp's registry.
#pragma once

#include "models/family.h"

namespace mlx::models {

const Family& llama_family();  // also mistral
const Family& qwen2_family();
const Family& qwen3_family();
const Family& gemma3_text_family();
const Family& phi3_family();
const Family& mixtral_family();
const Family& qwen3_moe_family();

// Sliding-window layers as transformers sets them: layer_types when given, else `all_sliding` layers use
// sliding_window (mistral, mixtral, phi3 attend within it when it is not null).
void apply_sliding_window(const class ConfigReader& r, ModelConfig& c, bool all_sliding);

}  // namespace mlx::models
