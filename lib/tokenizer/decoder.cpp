#include "tokenizer/decoder.h"

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"

namespace mlx::tok {

namespace {

using json = nlohmann::ordered_json;

// Bytes back from the GPT-2 alphabet; a token with any character outside the alphabet (an added token such as
// "<｜begin▁of▁sentence｜>") contributes its own UTF-8 bytes. The whole byte string is then repaired lossily.
class ByteLevel : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    const ByteAlphabet& a = ByteAlphabet::get();
    std::string bytes;
    for (const std::string& t : tokens) {
      size_t start = bytes.size();
      bool ok = true;
      size_t i = 0;
      while (i < t.size()) {
        char32_t cp = next_cp(t, i);
        if (cp < a.cp_to_byte.size() && a.cp_to_byte[cp] >= 0) {
          bytes += static_cast<char>(a.cp_to_byte[cp]);
        } else {
          ok = false;
          break;
        }
      }
      if (!ok) {
        bytes.resize(start);
        bytes += t;
      }
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class Metaspace : public Decoder {
 public:
  Metaspace(const json& spec) {
    replacement_ = spec.value("replacement", std::string("\xE2\x96\x81"));
    std::string scheme = spec.contains("prepend_scheme") && spec["prepend_scheme"].is_string()
                             ? spec["prepend_scheme"].get<std::string>()
                             : (spec.value("add_prefix_space", true) ? "always" : "never");
    strip_first_ = scheme != "never";
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      for (size_t pos = 0; pos < t.size();) {
        if (!replacement_.empty() && t.compare(pos, replacement_.size(), replacement_) == 0) {
          if (!(i == 0 && strip_first_)) out += ' ';
          pos += replacement_.size();
        } else {
          out += t[pos++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_ = true;
};

// Runs of "<0xXX>" tokens become bytes; a run that is not valid UTF-8 becomes one U+FFFD per byte.
class ByteFallback : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    size_t pending_count = 0;
    auto flush = [&] {
      if (pending_count == 0) return;
      if (first_invalid_utf8(pending)) {
        std::string repl;
        for (size_t k = 0; k < pending_count; ++k) repl += "\xEF\xBF\xBD";
        out.push_back(std::move(repl));
      } else {
        out.push_back(pending);
      }
      pending.clear();
      pending_count = 0;
    };
    for (std::string& t : tokens) {
      int byte = parse_byte(t);
      if (byte >= 0) {
        pending += static_cast<char>(byte);
        ++pending_count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
  static int parse_byte(const std::string& t) {
    if (t.size() != 6 || t[0] != '<' || t[1] != '0' || t[2] != 'x' || t[5] != '>') return -1;
    int h = hex(t[3]), l = hex(t[4]);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
  }
};

class Fuse : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from every token.
class Strip : public Decoder {
 public:
  Strip(const json& spec, const std::string& origin)
      : content_(spec.value("content", std::string(" "))), start_(spec.value("start", 0)), stop_(spec.value("stop", 0)) {
    if (content_.empty() || utf8_len(static_cast<unsigned char>(content_[0])) != content_.size())
      fail("{}: Strip decoder content must be one character", origin);
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && b < e && t.compare(b, content_.size(), content_) == 0; ++k) b += content_.size();
      for (size_t k = 0; k < stop_ && e >= b + content_.size() &&
                         t.compare(e - content_.size(), content_.size(), content_) == 0;
           ++k)
        e -= content_.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class Replace : public Decoder {
 public:
  Replace(const json& spec, const std::string& origin)
      : pattern_(Pattern::from_json(spec.at("pattern"), origin)), content_(spec.value("content", "")) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) t = pattern_.replace_all(t, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// BPEDecoder: the end-of-word suffix becomes a space (nothing after the last token).
class BpeSuffix : public Decoder {
 public:
  explicit BpeSuffix(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    Pattern p = Pattern::from_json(json{{"String", suffix_}}, "BPEDecoder");
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = p.replace_all(tokens[i], i + 1 == tokens.size() ? "" : " ");
  }

 private:
  std::string suffix_;
};

class Sequence : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& spec, const std::string& origin) {
  if (spec.is_null()) return nullptr;
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    fail("{}: decoder without a \"type\"", origin);
  const std::string type = spec["type"].get<std::string>();
  if (type == "ByteLevel") return std::make_unique<ByteLevel>();
  if (type == "Metaspace") return std::make_unique<Metaspace>(spec);
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip") return std::make_unique<Strip>(spec, origin);
  if (type == "Replace") return std::make_unique<Replace>(spec, origin);
  if (type == "BPEDecoder") return std::make_unique<BpeSuffix>(spec.value("suffix", std::string("</w>")));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> parts;
    for (const auto& p : spec.value("decoders", json::array()))
      if (auto d = make_decoder(p, origin)) parts.push_back(std::move(d));
    return std::make_unique<Sequence>(std::move(parts));
  }
  fail("{}: unsupported decoder type \"{}\"", origin, type);
}

}  // namespace mlx::tok
