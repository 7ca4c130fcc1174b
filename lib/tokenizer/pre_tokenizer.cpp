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

// Hugging Face's NormalizedString::split on one piece: the matches (relative to the piece) and the gaps between
// them, then the delimiter behavior. Appends the resulting non-empty pieces to `out`.
void split_piece(const Piece& piece, const Ranges& matches, Behavior behavior, bool invert, std::vector<Piece>& out) {
  struct Seg {
    uint32_t b, e;
    bool m;
  };
  const uint32_t base = piece.begin, n = piece.end - piece.begin;
  if (matches.empty() && !invert) {
    out.push_back(piece);  // no delimiter: the piece survives whole (also for Removed)
    return;
  }
  thread_local std::vector<Seg> segs;
  thread_local std::vector<std::pair<uint32_t, uint32_t>> ranges;
  segs.clear();
  ranges.clear();
  uint32_t prev = 0;
  for (auto [b, e] : matches) {
    if (prev < b) segs.push_back({prev, static_cast<uint32_t>(b), invert});
    segs.push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e), !invert});
    prev = static_cast<uint32_t>(e);
  }
  if (prev < n) segs.push_back({prev, n, invert});

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
    if (e > b) out.push_back(Piece{base + b, base + e, piece.at_origin && b == 0});
}

// Each character satisfying `pred` is one match.
template <typename Pred>
void char_matches(std::string_view text, Pred pred, Ranges& out) {
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    char32_t cp = next_cp(text, i);
    if (pred(cp)) out.emplace_back(start, i);
  }
}

// Splits every piece with `find(piece_text, matches)`; the text is unchanged.
template <typename Find>
void split_all(PreTokenized& pt, PreTokenized& scratch, Behavior behavior, bool invert, Find&& find) {
  thread_local Ranges matches;
  scratch.pieces.clear();
  for (const Piece& p : pt.pieces) {
    matches.clear();
    find(pt.piece(p), matches);
    split_piece(p, matches, behavior, invert, scratch.pieces);
  }
  pt.pieces.swap(scratch.pieces);
}

class Split : public PreTokenizer {
 public:
  Split(const json& spec, const std::string& origin)
      : pattern_(Pattern::from_json(spec.at("pattern"), origin)),
        behavior_(parse_behavior(spec, origin, Behavior::Isolated)),
        invert_(spec.value("invert", false)) {}
  void apply(PreTokenized& pt, PreTokenized& scratch) const override {
    split_all(pt, scratch, behavior_, invert_, [&](std::string_view t, Ranges& m) { pattern_.find_all(t, m); });
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(const json& spec, const std::string& origin) : add_prefix_space_(spec.value("add_prefix_space", true)) {
    if (spec.value("use_regex", true))
      regex_.emplace("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", origin);
  }
  void apply(PreTokenized& pt, PreTokenized& scratch) const override {
    const ByteAlphabet& alphabet = ByteAlphabet::get();
    if (add_prefix_space_) {
      // Every piece not starting with a space gets one; then the text is rebuilt.
      scratch.text.clear();
      scratch.pieces.clear();
      for (const Piece& p : pt.pieces) {
        auto b = static_cast<uint32_t>(scratch.text.size());
        std::string_view t = pt.piece(p);
        if (t.empty() || t[0] != ' ') scratch.text += ' ';
        scratch.text += t;
        scratch.pieces.push_back(Piece{b, static_cast<uint32_t>(scratch.text.size()), p.at_origin});
      }
      pt.text.swap(scratch.text);
      pt.pieces.swap(scratch.pieces);
    }
    if (regex_)
      split_all(pt, scratch, Behavior::Isolated, false, [&](std::string_view t, Ranges& m) { regex_->find_all(t, m); });
    // Map bytes to the alphabet, piece by piece (bytes between pieces are dropped).
    scratch.text.clear();
    scratch.text.reserve(pt.text.size() * 2);
    scratch.pieces.clear();
    for (const Piece& p : pt.pieces) {
      auto b = static_cast<uint32_t>(scratch.text.size());
      alphabet.encode(pt.piece(p), scratch.text);
      scratch.pieces.push_back(Piece{b, static_cast<uint32_t>(scratch.text.size()), p.at_origin});
    }
    pt.text.swap(scratch.text);
    pt.pieces.swap(scratch.pieces);
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
  void apply(PreTokenized& pt, PreTokenized& scratch) const override {
    scratch.text.clear();
    scratch.pieces.clear();
    for (const Piece& p : pt.pieces) {
      auto b = static_cast<uint32_t>(scratch.text.size());
      std::string_view t = pt.piece(p);
      bool starts = !t.empty() && (t[0] == ' ' || t.substr(0, replacement_.size()) == replacement_);
      if (!starts && (scheme_ == Scheme::Always || (scheme_ == Scheme::First && p.at_origin)))
        scratch.text += replacement_;
      for (char c : t) {
        if (c == ' ') scratch.text += replacement_;
        else scratch.text += c;
      }
      scratch.pieces.push_back(Piece{b, static_cast<uint32_t>(scratch.text.size()), p.at_origin});
    }
    pt.text.swap(scratch.text);
    pt.pieces.swap(scratch.pieces);
    if (!split_) return;
    split_all(pt, scratch, Behavior::MergedWithNext, false, [&](std::string_view t, Ranges& m) {
      for (size_t pos = t.find(replacement_); pos != std::string_view::npos;
           pos = t.find(replacement_, pos + replacement_.size()))
        m.emplace_back(pos, pos + replacement_.size());
    });
  }

 private:
  enum class Scheme { Always, First, Never };
  std::string replacement_;
  bool split_ = true;
  Scheme scheme_ = Scheme::Always;
};

bool is_numeric_cp(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}
  void apply(PreTokenized& pt, PreTokenized& scratch) const override {
    split_all(pt, scratch, individual_ ? Behavior::Isolated : Behavior::Contiguous, false,
              [&](std::string_view t, Ranges& m) { char_matches(t, is_numeric_cp, m); });
  }

 private:
  bool individual_;
};

class Punctuation : public PreTokenizer {
 public:
  Punctuation(const json& spec, const std::string& origin)
      : behavior_(parse_behavior(spec, origin, Behavior::Isolated)) {}
  void apply(PreTokenized& pt, PreTokenized& scratch) const override {
    split_all(pt, scratch, behavior_, false, [&](std::string_view t, Ranges& m) { char_matches(t, is_punct_cp, m); });
  }

 private:
  Behavior behavior_;
};

class Whitespace : public PreTokenizer {
 public:
  explicit Whitespace(const std::string& origin) : regex_("\\w+|[^\\w\\s]+", origin) {}
  void apply(PreTokenized& pt, PreTokenized& scratch) const override {
    split_all(pt, scratch, Behavior::Removed, true, [&](std::string_view t, Ranges& m) { regex_.find_all(t, m); });
  }

 private:
  Regex regex_;
};

class WhitespaceSplit : public PreTokenizer {
 public:
  void apply(PreTokenized& pt, PreTokenized& scratch) const override {
    split_all(pt, scratch, Behavior::Removed, false,
              [&](std::string_view t, Ranges& m) { char_matches(t, is_whitespace_cp, m); });
  }
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void apply(PreTokenized& pt, PreTokenized& scratch) const override {
    for (const auto& p : parts_) p->apply(pt, scratch);
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
