// The generation loop (mlx_lm generate_step + stream_generate semantics, synchronous on the CPU).
#include "runtime/generator.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "core/error.h"
#include "core/interrupt.h"
#include "runtime/memory_stats.h"
#include "runtime/model.h"
#include "runtime/kv_cache.h"
#include "runtime/stop_strings.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace mlx::runtime {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TokenLogprobs top_logprobs(std::span<const float> logprobs, int32_t chosen, int n) {
  TokenLogprobs out;
  out.id = chosen;
  out.logprob = logprobs[chosen];
  size_t k = std::min<size_t>(size_t(n), logprobs.size());
  std::vector<int32_t> order(logprobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
    return logprobs[a] > logprobs[b] || (logprobs[a] == logprobs[b] && a < b);
  });
  for (size_t i = 0; i < k; ++i) out.top.emplace_back(order[i], logprobs[order[i]]);
  return out;
}
}  // namespace

GenerationResult generate(Model& model, KVCache& cache, const Tokenizer* tokenizer, std::span<const int32_t> prompt,
                          const GenerationParams& params, const TextSink& on_text) {
  if (prompt.empty()) fail("the prompt is empty: nothing to generate from");
  const int64_t context = model.info().max_position_embeddings;
  const int64_t already = int64_t(cache.offset());
  if (params.max_kv_size <= 0 && context > 0 && already + int64_t(prompt.size()) > context)
    fail("the prompt has {} tokens but the model's context is {} (max_position_embeddings); shorten it or pass "
         "--max-kv-size to use a rotating cache",
         already + int64_t(prompt.size()), context);
  const int64_t vocab = model.info().vocab_size;
  std::vector<float> logits(static_cast<size_t>(vocab));
  Sampler sampler(params.sampler, params.seed);
  std::optional<StreamDecoder> decoder;
  if (tokenizer) decoder.emplace(*tokenizer, false);
  StopStringFilter stops(params.stop_strings);
  GenerationResult r;
  r.prompt_tokens = int64_t(prompt.size());
  auto emit = [&](const std::string& s) {
    if (s.empty()) return;
    r.text += s;
    if (on_text) on_text(s);
  };

  const auto start = Clock::now();
  // Prefill in chunks of prefill_step_size; the last chunk ends on the prompt's last token, whose logits start
  // decoding.
  const size_t step = size_t(std::max(1, params.prefill_step_size));
  for (size_t done = 0; done < prompt.size();) {
    size_t n = std::min(step, prompt.size() - done);
    model.forward(prompt.subspan(done, n), cache, logits.data(), false);
    done += n;
    if (interrupted()) {
      r.interrupted = true;
      r.finish_reason = "stop";
      r.cached_tokens = int64_t(done);
      r.peak_memory_gb = peak_memory_gb();
      return r;
    }
  }
  r.cached_tokens = int64_t(prompt.size());

  // mlx_lm's processors see only the last prompt token and the generated tokens (prefill chunks are skipped).
  std::vector<int32_t> history;
  if (params.processors.active()) history.push_back(prompt.back());
  auto is_eos = [&](int32_t id) {
    return !params.ignore_eos && std::find(params.eos_ids.begin(), params.eos_ids.end(), id) != params.eos_ids.end();
  };

  Clock::time_point gen_start;
  bool stop_string_hit = false;
  r.finish_reason = "length";
  for (int n = 0; n < params.max_tokens; ++n) {
    if (params.processors.active()) apply_logits_processors(params.processors, history, logits);
    normalize_logprobs(logits);
    int32_t token = sampler.sample(logits);
    if (params.logprobs > 0) r.logprobs.push_back(top_logprobs(logits, token, params.logprobs));
    if (n == 0) {
      double t = seconds_since(start);
      r.prompt_tps = t > 0 ? double(prompt.size()) / t : 0.0;
      gen_start = Clock::now();
    }
    r.ids.push_back(token);
    r.generation_tokens = n + 1;
    r.generation_tps = double(n + 1) / std::max(seconds_since(gen_start), 1e-9);
    if (is_eos(token)) {
      r.finish_reason = "stop";
      break;
    }
    if (decoder) {
      auto res = stops.push(decoder->push(token));
      emit(res.text);
      if (res.stopped) {
        stop_string_hit = true;
        r.finish_reason = "stop";
        break;
      }
    }
    if (n + 1 == params.max_tokens) break;
    if (params.max_kv_size <= 0 && context > 0 && already + r.cached_tokens >= context) break;  // context full
    if (interrupted()) {
      r.interrupted = true;
      r.finish_reason = "stop";
      break;
    }
    if (params.processors.active()) history.push_back(token);
    int32_t one[1] = {token};
    model.forward(std::span<const int32_t>(one, 1), cache, logits.data(), false);
    r.cached_tokens += 1;
  }
  // Text held back (an incomplete character, a possible stop-string start) is real output unless a stop string
  // ended the reply.
  if (decoder && !stop_string_hit) {
    auto res = stops.push(decoder->flush());
    emit(res.text);
    if (!res.stopped) emit(stops.flush());
  }
  if (r.generation_tokens > 0) r.generation_tps = double(r.generation_tokens) / std::max(seconds_since(gen_start), 1e-9);
  r.peak_memory_gb = peak_memory_gb();
  return r;
}

}  // namespace mlx::runtime
