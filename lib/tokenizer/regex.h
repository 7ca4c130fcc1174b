// PCRE2 regular expressions (JIT, UTF + Unicode properties) for split patterns and Replace rules.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlx::tok {

class Regex {
 public:
  // Compiles `pattern`; errors are mlx::Error naming `origin`, the pattern and PCRE2's message.
  Regex(const std::string& pattern, const std::string& origin);
  // A regex matching `literal` verbatim.
  static Regex literal(std::string_view literal, const std::string& origin);

  // Every non-overlapping match in `text` (valid UTF-8) as [begin, end) byte ranges, left to right. Empty matches
  // are skipped.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  // The same, appended to `out` (so a caller can reuse one buffer).
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

  // `text` with every match replaced by `with`.
  std::string replace_all(std::string_view text, std::string_view with) const;

 private:
  struct Code;
  std::shared_ptr<Code> code_;
};

}  // namespace mlx::tok
