#include "runtime/line_reader.h"

#include <editline/readline.h>

#include <clocale>
#include <cstdlib>
#include <iostream>

#include "core/interrupt.h"

namespace mlx::runtime {

LineReader::LineReader(bool interactive) : interactive_(interactive) {
  if (interactive_) {
    // libedit decodes the prompt and the typed bytes through the C library's multibyte functions: without a UTF-8
    // LC_CTYPE it mis-handles non-ASCII input (and crashes on some builds).
    std::setlocale(LC_CTYPE, "");
    using_history();
  }
}

LineReader::~LineReader() = default;

LineReader::Result LineReader::read(const std::string& prompt) {
  Result r;
  if (!interactive_) {
    if (!std::getline(std::cin, r.text)) return r;
    if (!r.text.empty() && r.text.back() == '\r') r.text.pop_back();
    r.status = Status::Line;
    return r;
  }
  clear_interrupt();
  char* line = readline(prompt.c_str());
  if (interrupted()) {
    clear_interrupt();
    std::free(line);
    r.status = Status::Interrupted;
    return r;
  }
  if (!line) return r;
  r.text = line;
  std::free(line);
  r.status = Status::Line;
  return r;
}

void LineReader::remember(const std::string& line) {
  if (interactive_ && !line.empty()) add_history(line.c_str());
}

}  // namespace mlx::runtime
