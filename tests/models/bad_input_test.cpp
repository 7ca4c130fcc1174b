// Bad model directories and inputs: one clear mlx::Error each, naming the problem.
#include <gtest/gtest.h>

#include "core/error.h"
#include "golden.h"

namespace mlx::test {
namespace {

using formats::OwnedTensor;
using formats::SafetensorsFile;

fs::path some_fixture() {
  auto dirs = model_fixtures();
  for (const fs::path& d : dirs)
    if (read_json(d / "config.json").value("model_type", "") == "llama") return d;
  return dirs.empty() ? fs::path() : dirs.front();
}

std::string load_error(const fs::path& dir) {
  try {
    Model::load(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Writes `dir`'s tensors to `dst` after `edit` (which may drop or change entries).
template <typename Edit>
void rewrite(const fs::path& src_dir, const fs::path& dst, Edit edit) {
  fs::create_directories(dst);
  SafetensorsFile src = SafetensorsFile::open(src_dir / "model.safetensors");
  std::vector<OwnedTensor> out;
  for (const auto& t : src.tensors())
    out.push_back({{t.name, t.dtype, t.shape}, std::string(reinterpret_cast<const char*>(t.data), t.nbytes)});
  edit(out);
  formats::write_safetensors(dst / "model.safetensors", out);
  fs::copy_file(src_dir / "config.json", dst / "config.json");
}

TEST(ModelBadInput, UnknownModelTypeListsSupported) {
  fs::path dir = some_fixture();
  ASSERT_FALSE(dir.empty());
  TempDir tmp;
  Json cfg = read_json(dir / "config.json");
  cfg["model_type"] = "gpt_unknown";
  clone_model_dir(dir, tmp.path(), cfg);
  std::string err = load_error(tmp.path());
  EXPECT_NE(err.find("unsupported model_type \"gpt_unknown\""), std::string::npos) << err;
  EXPECT_NE(err.find("qwen3_moe"), std::string::npos) << err;
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;
}

TEST(ModelBadInput, MissingTensorIsNamed) {
  fs::path dir = some_fixture();
  TempDir tmp;
  rewrite(dir, tmp.path(), [](std::vector<OwnedTensor>& t) {
    std::erase_if(t, [](const OwnedTensor& x) { return x.spec.name == "model.layers.1.self_attn.o_proj.weight"; });
  });
  std::string err = load_error(tmp.path());
  EXPECT_NE(err.find("missing tensors: model.layers.1.self_attn.o_proj.weight"), std::string::npos) << err;
}

TEST(ModelBadInput, MisShapedTensorIsNamed) {
  fs::path dir = some_fixture();
  TempDir tmp;
  rewrite(dir, tmp.path(), [](std::vector<OwnedTensor>& t) {
    for (OwnedTensor& x : t)
      if (x.spec.name == "model.norm.weight") {
        x.spec.shape[0] += 1;
        x.bytes.append(dtype_size(x.spec.dtype), '\0');
      }
  });
  std::string err = load_error(tmp.path());
  EXPECT_NE(err.find("model.norm.weight has shape"), std::string::npos) << err;
}

TEST(ModelBadInput, WrongTypedConfigKey) {
  fs::path dir = some_fixture();
  for (const char* key : {"hidden_size", "rms_norm_eps", "tie_word_embeddings"}) {
    TempDir tmp;
    Json cfg = read_json(dir / "config.json");
    cfg[key] = "sixty-four";
    clone_model_dir(dir, tmp.path(), cfg);
    std::string err = load_error(tmp.path());
    EXPECT_NE(err.find(std::string("\"") + key + "\""), std::string::npos) << err;
    EXPECT_NE(err.find("got a string"), std::string::npos) << err;
  }
}

TEST(ModelBadInput, TokenOutsideVocabulary) {
  auto m = Model::load(some_fixture());
  auto cache = m->make_cache();
  std::vector<float> logits(size_t(m->info().vocab_size));
  std::vector<int32_t> bad = {1, int32_t(m->info().vocab_size)};
  EXPECT_THROW(m->forward(bad, *cache, logits.data()), Error);
  EXPECT_THROW(m->forward(std::vector<int32_t>{}, *cache, logits.data()), Error);
}

}  // namespace
}  // namespace mlx::test
