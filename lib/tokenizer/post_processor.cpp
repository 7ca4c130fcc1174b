#include "tokenizer/post_processor.h"

#include "core/error.h"

namespace mlx::tok {

namespace {

using json = nlohmann::ordered_json;

class Template : public PostProcessor {
 public:
  Template(const json& spec, const std::string& origin) {
    const json& specials = spec.contains("special_tokens") ? spec["special_tokens"] : json::object();
    for (const json& item : spec.value("single", json::array())) {
      if (item.contains("Sequence")) {
        items_.push_back({true, {}});
      } else if (item.contains("SpecialToken")) {
        std::string id = item["SpecialToken"].value("id", "");
        if (!specials.contains(id)) fail("{}: TemplateProcessing uses undefined special token \"{}\"", origin, id);
        std::vector<int32_t> ids;
        for (const json& v : specials[id].value("ids", json::array())) ids.push_back(v.get<int32_t>());
        items_.push_back({false, std::move(ids)});
      } else {
        fail("{}: TemplateProcessing item {} is neither Sequence nor SpecialToken", origin, item.dump());
      }
    }
  }
  void process(std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 4);
    for (const Item& it : items_) {
      if (it.is_sequence) out.insert(out.end(), ids.begin(), ids.end());
      else out.insert(out.end(), it.ids.begin(), it.ids.end());
    }
    ids = std::move(out);
  }

 private:
  struct Item {
    bool is_sequence;
    std::vector<int32_t> ids;
  };
  std::vector<Item> items_;
};

// RobertaProcessing / BertProcessing: cls A sep, with cls and sep given as [token, id].
class Wrap : public PostProcessor {
 public:
  Wrap(const json& spec, const std::string& origin) {
    auto id_of = [&](const char* key) {
      if (!spec.contains(key) || !spec[key].is_array() || spec[key].size() != 2)
        fail("{}: {} needs \"{}\": [token, id]", origin, spec.value("type", ""), key);
      return spec[key][1].get<int32_t>();
    };
    cls_ = id_of("cls");
    sep_ = id_of("sep");
  }
  void process(std::vector<int32_t>& ids) const override {
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
  }

 private:
  int32_t cls_, sep_;
};

class Nothing : public PostProcessor {
 public:
  void process(std::vector<int32_t>&) const override {}
};

class Sequence : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  void process(std::vector<int32_t>& ids) const override {
    for (const auto& p : parts_) p->process(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& spec, const std::string& origin) {
  if (spec.is_null()) return nullptr;
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    fail("{}: post_processor without a \"type\"", origin);
  const std::string type = spec["type"].get<std::string>();
  if (type == "TemplateProcessing") return std::make_unique<Template>(spec, origin);
  if (type == "ByteLevel") return std::make_unique<Nothing>();  // only adjusts offsets
  if (type == "RobertaProcessing" || type == "BertProcessing") return std::make_unique<Wrap>(spec, origin);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> parts;
    for (const auto& p : spec.value("processors", json::array()))
      if (auto pp = make_post_processor(p, origin)) parts.push_back(std::move(pp));
    return std::make_unique<Sequence>(std::move(parts));
  }
  fail("{}: unsupported post_processor type \"{}\"", origin, type);
}

}  // namespace mlx::tok
