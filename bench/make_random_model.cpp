// Writes a random-weight Hugging Face-style Llama model directory in bfloat16 (config.json, generation_config.json,
// model.safetensors) of any shape, for benchmarks at sizes we cannot ship. Streams tensor by tensor.
//   bench_make_random_model --out DIR [--hidden 2048 --layers 16 --heads 32 --kv-heads 8 --intermediate 8192
//                           --vocab 128256 --tied --seed 1]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/thread_pool.h"
#include "formats/py_json.h"
#include "formats/safetensors.h"

namespace fs = std::filesystem;
using namespace mlx;

namespace {

struct Shape {
  int64_t hidden = 2048, layers = 16, heads = 32, kv_heads = 8, intermediate = 8192, vocab = 128256;
  bool tied = false;
  uint64_t seed = 1;
};

// splitmix64: a fast, seedable stream per chunk, so threads produce the same bytes in any schedule.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform values in [-0.05, 0.05) (norm weights around 1), as bfloat16.
void fill_bf16(uint16_t* dst, int64_t n, uint64_t seed, bool norm) {
  constexpr int64_t kChunk = 1 << 16;
  parallel_for((n + kChunk - 1) / kChunk, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      uint64_t s = mix(seed * 1000003 + uint64_t(c));
      const int64_t end = std::min(n, (c + 1) * kChunk);
      for (int64_t i = c * kChunk; i < end; ++i) {
        s = mix(s);
        float u = float(s >> 40) / float(1 << 24) - 0.5f;  // [-0.5, 0.5)
        dst[i] = f32_to_bf16(norm ? 1.0f + 0.1f * u : 0.1f * u);
      }
    }
  });
}

int64_t arg(int argc, char** argv, const char* name, int64_t def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
  return def;
}

}  // namespace

int main(int argc, char** argv) try {
  fs::path out;
  Shape s;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[i + 1];
    if (std::strcmp(argv[i], "--tied") == 0) s.tied = true;
  }
  if (out.empty()) {
    std::fprintf(stderr, "usage: %s --out DIR [--hidden N --layers N --heads N --kv-heads N --intermediate N "
                 "--vocab N --tied --seed N]\n", argv[0]);
    return 2;
  }
  s.hidden = arg(argc, argv, "--hidden", s.hidden);
  s.layers = arg(argc, argv, "--layers", s.layers);
  s.heads = arg(argc, argv, "--heads", s.heads);
  s.kv_heads = arg(argc, argv, "--kv-heads", s.kv_heads);
  s.intermediate = arg(argc, argv, "--intermediate", s.intermediate);
  s.vocab = arg(argc, argv, "--vocab", s.vocab);
  s.seed = uint64_t(arg(argc, argv, "--seed", 1));
  const int64_t head_dim = s.hidden / s.heads;
  fs::create_directories(out);

  nlohmann::ordered_json cfg;
  cfg["architectures"] = {"LlamaForCausalLM"};
  cfg["bos_token_id"] = 1;
  cfg["eos_token_id"] = 2;
  cfg["head_dim"] = head_dim;
  cfg["hidden_act"] = "silu";
  cfg["hidden_size"] = s.hidden;
  cfg["intermediate_size"] = s.intermediate;
  cfg["max_position_embeddings"] = 131072;
  cfg["model_type"] = "llama";
  cfg["num_attention_heads"] = s.heads;
  cfg["num_hidden_layers"] = s.layers;
  cfg["num_key_value_heads"] = s.kv_heads;
  cfg["rms_norm_eps"] = 1e-05;
  cfg["rope_scaling"] = {{"factor", 32.0}, {"high_freq_factor", 4.0}, {"low_freq_factor", 1.0},
                         {"original_max_position_embeddings", 8192}, {"rope_type", "llama3"}};
  cfg["rope_theta"] = 500000.0;
  cfg["tie_word_embeddings"] = s.tied;
  cfg["torch_dtype"] = "bfloat16";
  cfg["vocab_size"] = s.vocab;
  write_file_atomic(out / "config.json", formats::python_json_dump(cfg, 2));
  write_file_atomic(out / "generation_config.json", R"({"bos_token_id": 1, "eos_token_id": 2})");

  std::vector<formats::TensorSpec> specs;
  auto add = [&](const std::string& n, std::vector<int64_t> shape) { specs.push_back({n, DType::BF16, shape}); };
  add("model.embed_tokens.weight", {s.vocab, s.hidden});
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {s.hidden});
    add(p + "post_attention_layernorm.weight", {s.hidden});
    add(p + "self_attn.q_proj.weight", {s.heads * head_dim, s.hidden});
    add(p + "self_attn.k_proj.weight", {s.kv_heads * head_dim, s.hidden});
    add(p + "self_attn.v_proj.weight", {s.kv_heads * head_dim, s.hidden});
    add(p + "self_attn.o_proj.weight", {s.hidden, s.heads * head_dim});
    add(p + "mlp.gate_proj.weight", {s.intermediate, s.hidden});
    add(p + "mlp.up_proj.weight", {s.intermediate, s.hidden});
    add(p + "mlp.down_proj.weight", {s.hidden, s.intermediate});
  }
  add("model.norm.weight", {s.hidden});
  if (!s.tied) add("lm_head.weight", {s.vocab, s.hidden});

  formats::SafetensorsWriter w(out / "model.safetensors", specs, {{"format", "pt"}});
  uint64_t total = 0;
  std::vector<uint16_t> buf;
  for (size_t i = 0; i < specs.size(); ++i) {
    const int64_t n = formats::shape_numel(specs[i].shape);
    buf.resize(size_t(n));
    fill_bf16(buf.data(), n, s.seed * 7919 + i, specs[i].shape.size() == 1);
    w.write(i, buf.data());
    total += specs[i].nbytes();
  }
  w.finish();
  std::printf("wrote %s: %zu tensors, %.3f GB of bf16 weights\n", out.string().c_str(), specs.size(), double(total) / 1e9);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
