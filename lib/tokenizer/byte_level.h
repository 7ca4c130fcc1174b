// The GPT-2 byte alphabet: every byte maps to one printable code point ("Ġ" for space), so byte-level BPE
// vocabularies are plain Unicode strings.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mlx::tok {

struct ByteAlphabet {
  std::array<std::string, 256> byte_to_utf8;  // byte -> UTF-8 of its code point
  std::array<int16_t, 324> cp_to_byte;        // code point (< 324) -> byte, or -1
  static const ByteAlphabet& get();

  // Maps every byte of `text` to its code point, appending UTF-8 to `out`.
  void encode(std::string_view text, std::string& out) const {
    for (unsigned char c : text) out += byte_to_utf8[c];
  }
};

}  // namespace mlx::tok
