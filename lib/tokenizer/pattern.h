// A tokenizer.json pattern: {"String": literal} or {"Regex": pcre}, used by Split, Replace (normalizer/decoder).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/regex.h"

namespace mlx::tok {

class Pattern {
 public:
  static Pattern from_json(const nlohmann::ordered_json& spec, const std::string& origin);
  // Non-overlapping matches, left to right, as [begin, end) byte ranges; empty matches are skipped.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;  // appends
  std::string replace_all(std::string_view text, std::string_view with) const;

 private:
  std::string literal_;
  std::optional<Regex> regex_;
};

}  // namespace mlx::tok
