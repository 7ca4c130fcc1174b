#include "tokenizer/pre_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace mlx::tok {

namespace {

using json = nlohmann::ordered_json;
using Ranges = std::vector<std::pair<size_t, size_t>>;

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const json& spec, const std::string& origin, Behavior dflt) {
  auto it = spec.find("behavior");
  if (it == spec.end() || it->is_null()) return dflt;
  std::string b = it->is_string() ? it->get<std::string>() : it->dump();
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  fail("{}: unsupported split behavior \"{}\"", origin, b);
}

// Hugging Face's NormalizedString::split: the matches and the gaps between them, then the delimiter behavior.
void split_piece(Piece& piece, const Ranges& matches, Behavior behavior, bool invert, std::vector<Piece>& out) {
  struct Seg {
    size_t b, e;
    bool m;
  };
  const size_t n = piece.text.size();
  if (matches.empty() && !invert) {
    // No delimiter: the whole piece survives unchanged (also for Removed).
    out.push_back(std::move(piece));
    return;
  }
  std::vector<Seg> segs;
  segs.reserve(matches.size() * 2 + 1);
  size_t prev = 0;
  for (auto [b, e] : matches) {
    if (prev < b) segs.push_back({prev, b, invert});
    segs.push_back({b, e, !invert});
    prev = e;
  }
  if (prev < n) segs.push_back({prev, n, invert});

  std::vector<std::pair<size_t, size_t>> ranges;
  ranges.reserve(segs.size());
  switch (behavior) {
    case Behavior::Removed:
      for (const Seg& s : segs)
        if (!s.m) ranges.emplace_back(s.b, s.e);
      break;
    case Behavior::Isolated:
      for (const Seg& s : segs) ranges.emplace_back(s.b, s.e);
      break;
    case Behavior::MergedWithPrevious: {
      bool prev_match = false;
      for (const Seg& s : segs) {
        if (s.m && !prev_match && !ranges.empty()) ranges.back().second = s.e;
        else ranges.emplace_back(s.b, s.e);
        prev_match = s.m;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      bool prev_match = false;
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->m && !prev_match && !ranges.empty()) ranges.back().first = it->b;
        else ranges.emplace_back(it->b, it->e);
        prev_match = it->m;
      }
      std::reverse(ranges.begin(), ranges.end());
      break;
    }
    case Behavior::Contiguous: {
      bool prev_match = false;
      for (const Seg& s : segs) {
        if (s.m == prev_match && !ranges.empty()) ranges.back().second = s.e;
        else ranges.emplace_back(s.b, s.e);
        prev_match = s.m;
      }
      break;
    }
  }
  for (auto [b, e] : ranges)
    if (e > b) out.push_back(Piece{piece.text.substr(b, e - b), piece.at_origin && b == 0});
}

// Each character satisfying `pred` is one match.
template <typename Pred>
Ranges char_matches(const std::string& text, Pred pred) {
  Ranges out;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    char32_t cp = next_cp(text, i);
    if (pred(cp)) out.emplace_back(start, i);
  }
  return out;
}

template <typename Splitter>
void split_all(std::vector<Piece>& pieces, Splitter&& splitter) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 4);
  for (Piece& p : pieces) splitter(p, out);
  pieces = std::move(out);
}

class Split : public PreTokenizer {
 public:
  Split(const json& spec, const std::string& origin)
      : pattern_(Pattern::from_json(spec.at("pattern"), origin)),
        behavior_(parse_behavior(spec, origin, Behavior::Isolated)),
        invert_(spec.value("invert", false)) {}
  void apply(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](Piece& p, std::vector<Piece>& out) {
      split_piece(p, pattern_.find_all(p.text), behavior_, invert_, out);
    });
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(const json& spec, const std::string& origin)
      : add_prefix_space_(spec.value("add_prefix_space", true)) {
    if (spec.value("use_regex", true))
      regex_.emplace("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", origin);
  }
  void apply(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_ || regex_) {
      split_all(pieces, [&](Piece& p, std::vector<Piece>& out) {
        if (add_prefix_space_ && (p.text.empty() || p.text[0] != ' ')) p.text.insert(0, " ");
        if (regex_) split_piece(p, regex_->find_all(p.text), Behavior::Isolated, false, out);
        else out.push_back(std::move(p));
      });
    }
    const ByteAlphabet& alphabet = ByteAlphabet::get();
    std::string mapped;
    for (Piece& p : pieces) {
      mapped.clear();
      alphabet.encode(p.text, mapped);
      p.text.swap(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::optional<Regex> regex_;
};

class Metaspace : public PreTokenizer {
 public:
  Metaspace(const json& spec, const std::string& origin) {
    replacement_ = spec.value("replacement", std::string("\xE2\x96\x81"));
    if (replacement_.empty() || utf8_len(static_cast<unsigned char>(replacement_[0])) != replacement_.size())
      fail("{}: Metaspace replacement must be one character", origin);
    split_ = spec.value("split", true);
    std::string scheme = spec.contains("prepend_scheme") && spec["prepend_scheme"].is_string()
                             ? spec["prepend_scheme"].get<std::string>()
                             : (spec.value("add_prefix_space", true) ? "always" : "never");
    if (scheme == "always") scheme_ = Scheme::Always;
    else if (scheme == "first") scheme_ = Scheme::First;
    else if (scheme == "never") scheme_ = Scheme::Never;
    else fail("{}: unsupported Metaspace prepend_scheme \"{}\"", origin, scheme);
  }
  void apply(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](Piece& p, std::vector<Piece>& out) {
      std::string replaced;
      replaced.reserve(p.text.size() + replacement_.size());
      for (char c : p.text) {
        if (c == ' ') replaced += replacement_;
        else replaced += c;
      }
      bool starts = replaced.compare(0, replacement_.size(), replacement_) == 0;
      if (!starts && (scheme_ == Scheme::Always || (scheme_ == Scheme::First && p.at_origin)))
        replaced.insert(0, replacement_);
      p.text = std::move(replaced);
      if (!split_) {
        out.push_back(std::move(p));
        return;
      }
      Ranges matches;
      for (size_t pos = p.text.find(replacement_); pos != std::string::npos;
           pos = p.text.find(replacement_, pos + replacement_.size()))
        matches.emplace_back(pos, pos + replacement_.size());
      split_piece(p, matches, Behavior::MergedWithNext, false, out);
    });
  }

 private:
  enum class Scheme { Always, First, Never };
  std::string replacement_;
  bool split_ = true;
  Scheme scheme_ = Scheme::Always;
};

class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}
  void apply(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](Piece& p, std::vector<Piece>& out) {
      auto m = char_matches(p.text, [](char32_t cp) {
        if (cp < 0x80) return cp >= '0' && cp <= '9';
        auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
        return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
      });
      split_piece(p, m, individual_ ? Behavior::Isolated : Behavior::Contiguous, false, out);
    });
  }

 private:
  bool individual_;
};

class Punctuation : public PreTokenizer {
 public:
  Punctuation(const json& spec, const std::string& origin)
      : behavior_(parse_behavior(spec, origin, Behavior::Isolated)) {}
  void apply(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](Piece& p, std::vector<Piece>& out) {
      split_piece(p, char_matches(p.text, is_punct_cp), behavior_, false, out);
    });
  }

 private:
  Behavior behavior_;
};

class Whitespace : public PreTokenizer {
 public:
  explicit Whitespace(const std::string& origin) : regex_("\\w+|[^\\w\\s]+", origin) {}
  void apply(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](Piece& p, std::vector<Piece>& out) {
      split_piece(p, regex_.find_all(p.text), Behavior::Removed, true, out);
    });
  }

 private:
  Regex regex_;
};

class WhitespaceSplit : public PreTokenizer {
 public:
  void apply(std::vector<Piece>& pieces) const override {
    split_all(pieces, [&](Piece& p, std::vector<Piece>& out) {
      split_piece(p, char_matches(p.text, is_whitespace_cp), Behavior::Removed, false, out);
    });
  }
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void apply(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->apply(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec, const std::string& origin) {
  if (spec.is_null()) return nullptr;
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    fail("{}: pre_tokenizer without a \"type\"", origin);
  const std::string type = spec["type"].get<std::string>();
  if (type == "Split") return std::make_unique<Split>(spec, origin);
  if (type == "ByteLevel") return std::make_unique<ByteLevel>(spec, origin);
  if (type == "Metaspace") return std::make_unique<Metaspace>(spec, origin);
  if (type == "Digits") return std::make_unique<Digits>(spec.value("individual_digits", false));
  if (type == "Punctuation") return std::make_unique<Punctuation>(spec, origin);
  if (type == "Whitespace") return std::make_unique<Whitespace>(origin);
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplit>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (const auto& p : spec.value("pretokenizers", json::array()))
      if (auto t = make_pre_tokenizer(p, origin)) parts.push_back(std::move(t));
    return std::make_unique<Sequence>(std::move(parts));
  }
  fail("{}: unsupported pre_tokenizer type \"{}\"", origin, type);
}

}  // namespace mlx::tok
