#include "tokenizer/added_vocab.h"

#include "tokenizer/utf8.h"

namespace mlx::tok {

namespace {

bool is_word_char(char32_t cp) { return cp == '_' || is_alnum_cp(cp); }

char32_t last_cp(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return next_cp(s, i);
}

}  // namespace

void AddedTokenMatcher::build(std::vector<AddedToken> tokens, std::vector<std::string> patterns) {
  tokens_ = std::move(tokens);
  nodes_.assign(1, Node{});
  edges_.clear();
  first_byte_.fill(false);
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& p = patterns[t];
    if (p.empty()) continue;
    first_byte_[static_cast<unsigned char>(p[0])] = true;
    int32_t node = 0;
    for (unsigned char c : p) {
      uint64_t key = (static_cast<uint64_t>(node) << 8) | c;
      auto it = edges_.find(key);
      if (it == edges_.end()) {
        nodes_.push_back(Node{});
        it = edges_.emplace(key, static_cast<int32_t>(nodes_.size() - 1)).first;
      }
      node = it->second;
    }
    if (nodes_[node].token < 0) nodes_[node].token = static_cast<int32_t>(t);  // first definition wins
  }
}

std::pair<size_t, int32_t> AddedTokenMatcher::longest_at(std::string_view text, size_t pos) const {
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[i]));
    if (it == edges_.end()) break;
    node = it->second;
    if (nodes_[node].token >= 0) best = {i + 1 - pos, nodes_[node].token};
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    auto [len, t] = longest_at(text, pos);
    if (t < 0) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + len;
    const AddedToken& tok = tokens_[t];
    if (tok.single_word) {
      bool start_ok = start == 0 || !is_word_char(last_cp(text.substr(0, start)));
      size_t j = stop;
      bool stop_ok = stop == text.size() || !is_word_char(next_cp(text, j));
      if (!start_ok || !stop_ok) {
        pos = stop;  // the rejected match is still consumed, as in aho-corasick find_iter
        continue;
      }
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t b = s - 1;
        while (b > 0 && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
        size_t j = b;
        if (!is_whitespace_cp(next_cp(text, j))) break;
        s = b;
      }
      start = std::max(s, start_offset);
    }
    if (tok.rstrip) {
      while (stop < text.size()) {
        size_t j = stop;
        if (!is_whitespace_cp(next_cp(text, j))) break;
        stop = j;
      }
    }
    pos = stop;
    if (start > start_offset) out.push_back(Segment{start_offset, start, -1});
    out.push_back(Segment{start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) out.push_back(Segment{start_offset, text.size(), -1});
}

}  // namespace mlx::tok
