#include "tokenizer/pattern.h"

#include "core/error.h"

namespace mlx::tok {

Pattern Pattern::from_json(const nlohmann::ordered_json& spec, const std::string& origin) {
  Pattern p;
  if (spec.is_object() && spec.contains("String") && spec["String"].is_string()) {
    p.literal_ = spec["String"].get<std::string>();
  } else if (spec.is_object() && spec.contains("Regex") && spec["Regex"].is_string()) {
    p.regex_.emplace(spec["Regex"].get<std::string>(), origin);
  } else if (spec.is_string()) {
    p.literal_ = spec.get<std::string>();  // older files store the literal directly
  } else {
    fail("{}: pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}, got {}", origin, spec.dump());
  }
  return p;
}

std::vector<std::pair<size_t, size_t>> Pattern::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> out;
  find_all(text, out);
  return out;
}

void Pattern::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  if (regex_) {
    regex_->find_all(text, out);
    return;
  }
  if (literal_.empty()) return;
  for (size_t pos = text.find(literal_); pos != std::string_view::npos; pos = text.find(literal_, pos)) {
    out.emplace_back(pos, pos + literal_.size());
    pos += literal_.size();
  }
}

std::string Pattern::replace_all(std::string_view text, std::string_view with) const {
  std::string out;
  out.reserve(text.size());
  size_t prev = 0;
  for (auto [b, e] : find_all(text)) {
    out.append(text.substr(prev, b - prev));
    out.append(with);
    prev = e;
  }
  out.append(text.substr(prev));
  return out;
}

}  // namespace mlx::tok
