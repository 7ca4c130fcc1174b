#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace mlx::tok {

const ByteAlphabet& ByteAlphabet::get() {
  static const ByteAlphabet alphabet = [] {
    ByteAlphabet a;
    a.cp_to_byte.fill(-1);
    // Printable Latin-1 bytes keep their code point; the other 68 bytes take 256, 257, ... in byte order.
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(next++);
      append_cp(a.byte_to_utf8[b], cp);
      a.cp_to_byte[cp] = static_cast<int16_t>(b);
    }
    return a;
  }();
  return alphabet;
}

}  // namespace mlx::tok
