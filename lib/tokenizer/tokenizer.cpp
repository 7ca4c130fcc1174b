#include "tokenizer/tokenizer.h"

#include <unordered_map>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/added_vocab.h"
#include "tokenizer/bpe.h"
#include "tokenizer/decoder.h"
#include "tokenizer/json_loader.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace mlx {

using json = nlohmann::ordered_json;

struct Tokenizer::Impl {
  std::string origin;
  json config = json::object();
  std::unique_ptr<tok::BpeModel> model;
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::PostProcessor> post_processor;
  std::unique_ptr<tok::Decoder> decoder;
  std::vector<tok::AddedToken> added;
  std::unordered_map<int32_t, size_t> added_by_id;
  std::unordered_map<std::string, int32_t> added_by_content;
  tok::AddedTokenMatcher raw_matcher, normalized_matcher;
  std::optional<int32_t> bos, eos;
  bool add_bos = false, add_eos = false;  // from tokenizer_config.json, used only without a post_processor
  int32_t vocab_size = 0;

  void encode_gap(std::string_view text, bool at_origin, std::vector<int32_t>& ids) const;
};

namespace {

std::optional<std::string> special_token_text(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return std::nullopt;
}

bool flag(const json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : dflt;
}

}  // namespace

Tokenizer Tokenizer::load(const fs::path& model_dir) {
  fs::path file = model_dir, dir = model_dir;
  std::error_code ec;
  if (fs::is_directory(model_dir, ec)) {
    file = model_dir / "tokenizer.json";
  } else {
    dir = model_dir.parent_path();
  }
  if (!exists_maybe_zst(file)) fail("{}: no tokenizer.json (or tokenizer.json.zst) found", file.string());

  auto impl = std::make_unique<Impl>();
  impl->origin = file.string();
  const std::string& origin = impl->origin;
  // Huge-page buffer and one-shot zstd: page faults, not parsing, dominated the load (bench/NOTES.md).
  tok::TokenizerJson tj = tok::read_tokenizer_json(file, origin);
  const json& doc = tj.doc;
  if (!doc.is_object()) fail("{}: top level is not a JSON object", origin);

  if (fs::path cfg = dir / "tokenizer_config.json"; exists_maybe_zst(cfg)) impl->config = read_json(cfg);

  // The model.
  auto mit = doc.find("model");
  if (mit == doc.end() || !mit->is_object()) fail("{}: missing \"model\"", origin);
  std::string type = mit->contains("type") && (*mit)["type"].is_string() ? (*mit)["type"].get<std::string>()
                     : tj.has_merges                                    ? "BPE"
                                                                        : "";
  if (type != "BPE") fail("{}: unsupported model type \"{}\" (only BPE)", origin, type.empty() ? "?" : type);
  if (!tj.has_vocab) fail("{}: model.vocab is missing or not a {{token: id}} object", origin);
  impl->model = std::make_unique<tok::BpeModel>(*mit, std::move(tj.vocab), std::move(tj.merges), origin);

  auto component = [&](const char* key) -> const json& {
    static const json null_json;
    auto it = doc.find(key);
    return it == doc.end() ? null_json : *it;
  };
  impl->normalizer = tok::make_normalizer(component("normalizer"), origin);
  impl->pre_tokenizer = tok::make_pre_tokenizer(component("pre_tokenizer"), origin);
  impl->post_processor = tok::make_post_processor(component("post_processor"), origin);
  impl->decoder = tok::make_decoder(component("decoder"), origin);

  // Added tokens: raw ones are matched on the input, normalized ones on each normalized gap.
  std::vector<tok::AddedToken> raw, norm;
  std::vector<std::string> raw_pat, norm_pat;
  impl->vocab_size = impl->model->id_bound();
  for (const json& a : component("added_tokens").is_array() ? component("added_tokens") : json::array()) {
    tok::AddedToken t;
    if (!a.contains("id") || !a.contains("content")) fail("{}: added token without id or content", origin);
    t.id = a["id"].get<int32_t>();
    t.content = a["content"].get<std::string>();
    t.special = flag(a, "special", false);
    t.lstrip = flag(a, "lstrip", false);
    t.rstrip = flag(a, "rstrip", false);
    t.single_word = flag(a, "single_word", false);
    t.normalized = flag(a, "normalized", !t.special);
    impl->added_by_id[t.id] = impl->added.size();
    impl->added_by_content[t.content] = t.id;
    impl->added.push_back(t);
    impl->vocab_size = std::max(impl->vocab_size, t.id + 1);
    if (t.normalized) {
      std::string pat = t.content;
      if (impl->normalizer) impl->normalizer->normalize(pat);
      norm_pat.push_back(std::move(pat));
      norm.push_back(std::move(t));
    } else {
      raw_pat.push_back(t.content);
      raw.push_back(std::move(t));
    }
  }
  impl->raw_matcher.build(std::move(raw), std::move(raw_pat));
  impl->normalized_matcher.build(std::move(norm), std::move(norm_pat));

  Tokenizer tokenizer(std::move(impl));
  Impl& m = *tokenizer.impl_;
  if (auto b = special_token_text(m.config, "bos_token")) m.bos = tokenizer.token_to_id(*b);
  if (auto e = special_token_text(m.config, "eos_token")) m.eos = tokenizer.token_to_id(*e);
  m.add_bos = flag(m.config, "add_bos_token", false);
  m.add_eos = flag(m.config, "add_eos_token", false);
  return tokenizer;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

void Tokenizer::Impl::encode_gap(std::string_view text, bool at_origin, std::vector<int32_t>& ids) const {
  thread_local tok::PreTokenized pt, scratch;
  pt.text.assign(text);
  pt.pieces.assign(1, tok::Piece{0, static_cast<uint32_t>(text.size()), at_origin});
  if (pre_tokenizer) pre_tokenizer->apply(pt, scratch);
  for (const tok::Piece& p : pt.pieces) model->tokenize(pt.piece(p), ids);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  tok::require_utf8(text, "text");
  // Piece offsets are 32-bit; a larger input would need chunking at added-token boundaries.
  if (text.size() >= (1ull << 31)) fail("text: {} bytes is too long to tokenize at once (limit 2 GiB)", text.size());
  const Impl& m = *impl_;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<tok::Segment> segments, inner;
  if (!text.empty()) m.raw_matcher.split(text, segments);
  std::string normalized;
  for (const tok::Segment& seg : segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    normalized.assign(text.substr(seg.begin, seg.end - seg.begin));
    if (m.normalizer) m.normalizer->normalize(normalized);
    if (normalized.empty()) continue;
    inner.clear();
    m.normalized_matcher.split(normalized, inner);
    for (const tok::Segment& s : inner) {
      if (s.id >= 0) ids.push_back(s.id);
      else m.encode_gap(std::string_view(normalized).substr(s.begin, s.end - s.begin), seg.begin == 0 && s.begin == 0,
                        ids);
    }
  }
  if (add_special_tokens) {
    if (m.post_processor) {
      m.post_processor->process(ids);
    } else {
      if (m.add_bos && m.bos) ids.insert(ids.begin(), *m.bos);
      if (m.add_eos && m.eos) ids.push_back(*m.eos);
    }
  }
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const Impl& m = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (auto it = m.added_by_id.find(id); it != m.added_by_id.end()) {
      const tok::AddedToken& t = m.added[it->second];
      if (skip_special_tokens && t.special) continue;
      tokens.push_back(t.content);
    } else if (const std::string_view* s = m.model->id_to_token(id)) {
      tokens.emplace_back(*s);
    }
  }
  if (!m.decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  m.decoder->decode_chain(tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto it = impl_->added_by_content.find(std::string(token)); it != impl_->added_by_content.end())
    return it->second;
  return impl_->model->token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (auto it = impl_->added_by_id.find(id); it != impl_->added_by_id.end()) return impl_->added[it->second].content;
  if (const std::string_view* s = impl_->model->id_to_token(id)) return std::string(*s);
  return {};
}

bool Tokenizer::is_special(int32_t id) const {
  auto it = impl_->added_by_id.find(id);
  return it != impl_->added_by_id.end() && impl_->added[it->second].special;
}

std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }
const json& Tokenizer::config() const { return impl_->config; }

}  // namespace mlx
