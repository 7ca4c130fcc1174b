// libFuzzer target for lib/tokenizer: arbitrary bytes are encoded (strict and lossy), the ids decoded and streamed,
// and the bytes reinterpreted as ids are decoded. Only crashes, hangs and sanitizer reports count as findings;
// bad input must surface as mlx::Error.
// Tokenizer: $MLX_FUZZ_TOKENIZER, default tests/data/tokenizers/llama3.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

const mlx::Tokenizer& tokenizer() {
  static const mlx::Tokenizer tok = [] {
    const char* env = std::getenv("MLX_FUZZ_TOKENIZER");
#ifdef MLX_SOURCE_DIR
    std::string dflt = std::string(MLX_SOURCE_DIR) + "/tests/data/tokenizers/llama3";
#else
    std::string dflt = "tests/data/tokenizers/llama3";
#endif
    return mlx::Tokenizer::load(env && *env ? env : dflt);
  }();
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const mlx::Tokenizer& tok = tokenizer();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    (void)tok.encode(input, true);  // throws mlx::Error on invalid UTF-8
  } catch (const mlx::Error&) {
  }
  std::string text = mlx::tok::utf8_lossy(input);
  std::vector<int32_t> ids = tok.encode(text, (size & 1) != 0);
  std::string decoded = tok.decode(ids);
  (void)tok.decode(ids, true);
  mlx::StreamDecoder stream(tok);
  std::string streamed;
  for (int32_t id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  if (mlx::tok::first_invalid_utf8(decoded) || mlx::tok::first_invalid_utf8(streamed)) __builtin_trap();

  // The raw bytes as (possibly out-of-range) ids.
  std::vector<int32_t> raw(size / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data, raw.size() * 4);
  for (int32_t& id : raw) id = static_cast<int32_t>(static_cast<uint32_t>(id) % (tok.vocab_size() + 8u));
  std::string out = tok.decode(raw);
  if (mlx::tok::first_invalid_utf8(out)) __builtin_trap();
  mlx::StreamDecoder stream2(tok, true);
  for (int32_t id : raw) (void)stream2.push(id);
  (void)stream2.flush();
  return 0;
}
