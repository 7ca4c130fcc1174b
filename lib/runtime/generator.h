// The generation loop: prefill a prompt in chunks, then decode one token at a time through the logits processors
// and the sampler, stopping on EOS ids, stop strings, max tokens or Ctrl-C; streams whole UTF-8 text and keeps
// mlx_lm's statistics.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/logits_processors.h"
#include "runtime/sampler.h"

namespace mlx {
class Tokenizer;
class Model;
class KVCache;
}  // namespace mlx

namespace mlx::runtime {

struct GenerationParams {
  SamplerParams sampler;
  std::optional<uint64_t> seed;
  LogitsProcessorParams processors;
  int max_tokens = 100;
  int prefill_step_size = 2048;
  std::vector<int32_t> eos_ids;
  bool ignore_eos = false;  // generate exactly max_tokens (benchmarks, parity checks)
  std::vector<std::string> stop_strings;
  int max_kv_size = 0;  // > 0: the cache rotates, so prompts may exceed the model's context
  int logprobs = 0;  // top-N log-probabilities per generated token (0 = none)
};

struct TokenLogprobs {
  int32_t id = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;
};

struct GenerationResult {
  std::string text;            // what was streamed (stop strings removed)
  std::vector<int32_t> ids;    // every sampled token, including a final EOS
  std::string finish_reason;   // "stop" | "length"
  int64_t prompt_tokens = 0;   // tokens prefilled for this call
  int64_t generation_tokens = 0;
  double prompt_tps = 0.0, generation_tps = 0.0, peak_memory_gb = 0.0;
  std::vector<TokenLogprobs> logprobs;
  bool interrupted = false;    // stopped by Ctrl-C
  // Tokens the cache saw in this call: the prompt plus every sampled token except the last (which was never fed).
  int64_t cached_tokens = 0;
};

// Called with each printable piece of text as it completes.
using TextSink = std::function<void(std::string_view)>;

// Runs one generation. `prompt` is fed into `cache` after whatever it already holds (chat reuse); it must not be
// empty. `tokenizer` may be null (--prompt-ids without tokenizer files): then no text is produced. Throws
// mlx::Error when the prompt does not fit the model's context and the cache cannot rotate.
GenerationResult generate(Model& model, KVCache& cache, const Tokenizer* tokenizer, std::span<const int32_t> prompt,
                          const GenerationParams& params, const TextSink& on_text = {});

}  // namespace mlx::runtime
