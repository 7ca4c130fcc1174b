#include "tokenizer/json_loader.h"

#include "core/error.h"

namespace mlx::tok {

namespace {

using json = nlohmann::ordered_json;

class Sax {
 public:
  Sax(TokenizerJson& out, const std::string& origin) : out_(out), origin_(origin) {}

  bool null() { return value(json(nullptr)); }
  bool boolean(bool v) { return value(json(v)); }
  bool number_integer(json::number_integer_t v) {
    if (mode_ == Mode::Vocab) return vocab_entry(v);
    return value(json(v));
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (mode_ == Mode::Vocab) return vocab_entry(static_cast<int64_t>(v));
    return value(json(v));
  }
  bool number_float(json::number_float_t v, const std::string&) {
    if (mode_ == Mode::Vocab) fail("{}: model.vocab entry \"{}\" has a non-integer id", origin_, key_);
    return value(json(v));
  }
  bool string(std::string& s) {
    if (mode_ == Mode::Merges) {
      if (merge_depth_ == 0) {
        size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          fail("{}: model.merges entry \"{}\" is not of the form \"a b\"", origin_, s);
        out_.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else {
        pair_.push_back(std::move(s));
      }
      return true;
    }
    if (mode_ == Mode::Vocab) fail("{}: model.vocab entry \"{}\" is not an integer id", origin_, key_);
    return value(json(std::move(s)));
  }
  bool binary(json::binary_t&) { return value(json()); }

  bool start_object(std::size_t) {
    if (mode_ == Mode::Merges) fail("{}: model.merges holds an object, expected strings or pairs", origin_);
    if (mode_ == Mode::Vocab) fail("{}: model.vocab entry \"{}\" is not an integer id", origin_, key_);
    if (at_model_member("vocab")) {
      mode_ = Mode::Vocab;
      out_.has_vocab = true;
      return true;
    }
    open(json::object());
    return true;
  }
  bool end_object() {
    if (mode_ == Mode::Vocab) {
      mode_ = Mode::Dom;
      return true;
    }
    close();
    return true;
  }
  bool start_array(std::size_t) {
    if (mode_ == Mode::Vocab) fail("{}: model.vocab entry \"{}\" is not an integer id", origin_, key_);
    if (mode_ == Mode::Merges) {
      if (merge_depth_ != 0) fail("{}: model.merges entries nest too deeply", origin_);
      merge_depth_ = 1;
      pair_.clear();
      return true;
    }
    if (at_model_member("merges")) {
      mode_ = Mode::Merges;
      merge_depth_ = 0;
      out_.has_merges = true;
      return true;
    }
    open(json::array());
    return true;
  }
  bool end_array() {
    if (mode_ == Mode::Merges) {
      if (merge_depth_ == 1) {
        if (pair_.size() != 2) fail("{}: model.merges entry has {} parts, expected 2", origin_, pair_.size());
        out_.merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
        merge_depth_ = 0;
      } else {
        mode_ = Mode::Dom;
      }
      return true;
    }
    close();
    return true;
  }
  bool key(std::string& k) {
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
    std::string what = ex.what();
    // nlohmann messages start with "[json.exception.parse_error.101] parse error at ...": keep the useful tail.
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    fail("{}: invalid JSON near byte {}: {}", origin_, position, what);
  }

 private:
  enum class Mode { Dom, Vocab, Merges };

  bool at_model_member(const char* name) const {
    return mode_ == Mode::Dom && stack_.size() == 2 && keys_.size() == 2 && keys_[1] == "model" && key_ == name &&
           stack_[1]->is_object();
  }
  bool vocab_entry(int64_t id) {
    out_.vocab.emplace_back(std::move(key_), id);
    return true;
  }
  json* place(json&& v) {
    if (stack_.empty()) {
      out_.doc = std::move(v);
      return &out_.doc;
    }
    json* top = stack_.back();
    if (top->is_object()) {
      json& slot = (*top)[key_];
      slot = std::move(v);
      return &slot;
    }
    top->push_back(std::move(v));
    return &top->back();
  }
  bool value(json&& v) {
    place(std::move(v));
    return true;
  }
  void open(json&& container) {
    std::string k = (!stack_.empty() && stack_.back()->is_object()) ? key_ : std::string();
    stack_.push_back(place(std::move(container)));
    keys_.push_back(std::move(k));
  }
  void close() {
    stack_.pop_back();
    keys_.pop_back();
  }

  TokenizerJson& out_;
  const std::string& origin_;
  std::vector<json*> stack_;
  std::vector<std::string> keys_;
  std::string key_;
  Mode mode_ = Mode::Dom;
  int merge_depth_ = 0;
  std::vector<std::string> pair_;
};

}  // namespace

TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& origin) {
  TokenizerJson out;
  // Vocab entries and merges take ~8+ bytes of JSON each, so this is a generous estimate of both counts. Reserving avoids
  // the grow-and-move cycles (and their page faults) that dominated loading; untouched capacity is never paged in.
  out.vocab.reserve(text.size() / 8);
  out.merges.reserve(text.size() / 8);
  Sax sax(out, origin);
  nlohmann::ordered_json::sax_parse(text.begin(), text.end(), &sax);
  return out;
}

}  // namespace mlx::tok
