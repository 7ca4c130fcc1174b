// `mlx convert` end to end on every fixture model: float, every affine bits x group, the fp modes, mixed recipes,
// --dtype, -d, and the output layout of mlx-reference.md §b. Quantized tensors must equal quant/ applied to the
// source weights (quant/ itself is checked bit for bit against MLX's goldens in tests/quant).
#include <fmt/format.h>

#include <cstring>

#include "convert_helpers.h"
#include "quant/affine.h"
#include "quant/fp_formats.h"

namespace fs = std::filesystem;
using namespace mlx;
using namespace mlx::test;

namespace {

std::string q(const fs::path& p) { return quote(p.string()); }

// Checks one converted directory against its source. `spec_of(module)` gives the expected spec, or nullopt
// when the module must stay float.
void check_output(const fs::path& model, const fs::path& out, std::optional<DType> cast,
                  const std::function<std::optional<quant::QuantSpec>(const std::string&, const formats::Shape&)>& spec_of,
                  quant::Rounding rounding = quant::Rounding::Gpu) {
  for (const char* f : {"config.json", "model.safetensors.index.json", "README.md"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  if (fs::exists(model / "generation_config.json")) {
    EXPECT_EQ(slurp(out / "generation_config.json"), slurp(model / "generation_config.json"));
  }
  formats::WeightSet ws = formats::WeightSet::open(out);
  auto src = expected_float_tensors(model);
  size_t expected_count = 0;
  for (const auto& [name, w] : src) {
    SCOPED_TRACE(name);
    DType dt = (cast && is_float(w.dtype)) ? *cast : w.dtype;
    std::string data = w.bytes;
    const size_t n = size_t(formats::shape_numel(w.shape));
    if (dt != w.dtype) {
      std::vector<float> f(n);
      to_f32(w.bytes.data(), w.dtype, f.data(), n);
      data.assign(n * dtype_size(dt), '\0');
      from_f32(f.data(), dt, data.data(), n);
    }
    const bool is_weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
    std::optional<quant::QuantSpec> spec;
    if (is_weight && w.shape.size() >= 2) spec = spec_of(name.substr(0, name.size() - 7), w.shape);
    if (!spec) {
      const formats::TensorView* t = ws.find(name);
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(t->dtype, dt);
      EXPECT_EQ(t->shape, w.shape);
      EXPECT_TRUE(bytes_of(*t) == data) << "float tensor differs";
      ++expected_count;
      continue;
    }
    const std::string m = name.substr(0, name.size() - 7);
    const int64_t cols = w.shape.back(), rows = int64_t(n) / cols;
    std::vector<uint32_t> packed(size_t(rows * cols * spec->bits / 32));
    const formats::TensorView* tw = ws.find(m + ".weight");
    const formats::TensorView* ts = ws.find(m + ".scales");
    ASSERT_NE(tw, nullptr);
    ASSERT_NE(ts, nullptr);
    EXPECT_EQ(tw->dtype, DType::U32);
    formats::Shape ws_shape = w.shape, ss_shape = w.shape;
    ws_shape.back() = cols * spec->bits / 32;
    ss_shape.back() = cols / spec->group_size;
    EXPECT_EQ(tw->shape, ws_shape);
    EXPECT_EQ(ts->shape, ss_shape);
    ASSERT_EQ(tw->nbytes, packed.size() * 4);
    if (spec->mode == quant::QuantMode::Affine) {
      const formats::TensorView* tb = ws.find(m + ".biases");
      ASSERT_NE(tb, nullptr);
      EXPECT_EQ(ts->dtype, dt);
      EXPECT_EQ(tb->dtype, dt);
      std::string scales(size_t(rows * cols / spec->group_size) * dtype_size(dt), '\0'), biases = scales;
      quant::affine_quantize(data.data(), dt, rows, cols, spec->bits, spec->group_size, rounding, packed.data(),
                             scales.data(), biases.data());
      EXPECT_EQ(std::memcmp(tw->data, packed.data(), tw->nbytes), 0) << "packed words differ";
      EXPECT_TRUE(bytes_of(*ts) == scales) << "scales differ";
      EXPECT_TRUE(bytes_of(*tb) == biases) << "biases differ";
      expected_count += 3;
    } else {
      EXPECT_EQ(ws.find(m + ".biases"), nullptr);
      EXPECT_EQ(ts->dtype, DType::U8);
      std::string scales(size_t(rows * cols / spec->group_size), '\0');
      quant::fp_quantize(data.data(), dt, rows, cols, spec->mode, packed.data(),
                         reinterpret_cast<uint8_t*>(scales.data()));
      EXPECT_EQ(std::memcmp(tw->data, packed.data(), tw->nbytes), 0) << "packed words differ";
      EXPECT_TRUE(bytes_of(*ts) == scales) << "scales differ";
      expected_count += 2;
    }
  }
  EXPECT_EQ(ws.tensors().size(), expected_count);
}

// The spec config.json declares for `module` (per-layer entry, else the global one), as mlx_lm's loader reads it.
std::optional<quant::QuantSpec> declared_spec(const nlohmann::ordered_json& qc, const std::string& module,
                                              const formats::Shape& shape) {
  auto read = [](const nlohmann::ordered_json& e) {
    quant::QuantMode mode = quant::QuantMode::Affine;
    if (e.contains("mode")) mode = *quant::parse_quant_mode(e["mode"].get<std::string>());
    quant::QuantSpec s = quant::default_spec(mode);
    if (e.contains("bits")) s.bits = e["bits"].get<int>();
    if (e.contains("group_size") && !e["group_size"].is_null()) s.group_size = e["group_size"].get<int>();
    return s;
  };
  quant::QuantSpec s = qc.contains(module) ? read(qc[module]) : read(qc);
  if (shape.back() % read(qc).group_size != 0) return std::nullopt;  // left float (global group must divide)
  return s;
}

}  // namespace

TEST(ConvertCli, FloatKeepsEveryTensorAndWritesTheSideFiles) {
  for (const auto& model : fixture_dirs("models")) {
    SCOPED_TRACE(model.string());
    TempDir tmp;
    auto r = mlx_cli("convert --hf-path " + q(model) + " --mlx-path " + q(tmp / "out") + " --quiet");
    ASSERT_EQ(r.code, 0) << r.err;
    check_output(model, tmp / "out", std::nullopt, [](auto&, auto&) { return std::nullopt; });
    auto cfg = read_json(tmp / "out" / "config.json");
    EXPECT_FALSE(cfg.contains("quantization"));
    EXPECT_EQ(slurp(tmp / "out" / "README.md").rfind("---\nlibrary_name: mlx\n", 0), 0u);
    EXPECT_TRUE(no_output_left(tmp / "nothing"));
  }
}

TEST(ConvertCli, AffineEveryBitsAndGroupMatchesQuant) {
  for (const auto& model : fixture_dirs("models")) {
    for (int bits : {2, 3, 4, 5, 6, 8}) {
      for (int group : {32, 64, 128}) {
        SCOPED_TRACE(model.string() + " bits " + std::to_string(bits) + " group " + std::to_string(group));
        TempDir tmp;
        auto r = mlx_cli(fmt::format("convert --hf-path {} --mlx-path {} -q --q-bits {} --q-group-size {} --quiet",
                                     q(model), q(tmp / "out"), bits, group));
        ASSERT_EQ(r.code, 0) << r.err;
        auto cfg = read_json(tmp / "out" / "config.json");
        ASSERT_TRUE(cfg.contains("quantization"));
        const auto& qc = cfg["quantization"];
        EXPECT_EQ(qc["group_size"], group);
        EXPECT_EQ(qc["bits"], bits);
        EXPECT_EQ(qc["mode"], "affine");
        EXPECT_EQ(cfg["quantization_config"], qc);
        // qwen3_moe's own predicate: routers at 8 bits, group 64 (mlx_lm qwen3_moe.quant_predicate).
        if (cfg["model_type"] == "qwen3_moe" && group <= 64)
          for (const auto& [k, v] : qc.items())
            if (k.size() > 9 && k.compare(k.size() - 9, 9, ".mlp.gate") == 0) {
              EXPECT_EQ(v["bits"], 8) << k;
            }
        check_output(model, tmp / "out", std::nullopt,
                     [&](const std::string& m, const formats::Shape& s) { return declared_spec(qc, m, s); });
      }
    }
  }
}

TEST(ConvertCli, FpModes) {
  for (const auto& model : fixture_dirs("models")) {
    for (const char* mode : {"mxfp4", "nvfp4", "mxfp8"}) {
      SCOPED_TRACE(model.string() + " " + mode);
      TempDir tmp;
      auto r = mlx_cli(fmt::format("convert --hf-path {} --mlx-path {} -q --q-mode {} --quiet", q(model),
                                   q(tmp / "out"), mode));
      ASSERT_EQ(r.code, 0) << r.err;
      auto qc = read_json(tmp / "out" / "config.json")["quantization"];
      EXPECT_EQ(qc["mode"], mode);
      check_output(model, tmp / "out", std::nullopt,
                   [&](const std::string& m, const formats::Shape& s) { return declared_spec(qc, m, s); });
    }
  }
}

TEST(ConvertCli, MixedRecipesAndBf16Cast) {
  const std::map<std::string, std::pair<int, int>> recipes = {
      {"mixed_2_6", {2, 6}}, {"mixed_3_4", {3, 4}}, {"mixed_3_6", {3, 6}}, {"mixed_4_6", {4, 6}}};
  for (const auto& model : fixture_dirs("models")) {
    for (const auto& [recipe, bits] : recipes) {
      SCOPED_TRACE(model.string() + " " + recipe);
      TempDir tmp;
      auto r = mlx_cli(fmt::format("convert --hf-path {} --mlx-path {} -q --quant-predicate {} --dtype bfloat16 --quiet",
                                   q(model), q(tmp / "out"), recipe));
      ASSERT_EQ(r.code, 0) << r.err;
      auto qc = read_json(tmp / "out" / "config.json")["quantization"];
      size_t entries = 0;
      for (const auto& [k, v] : qc.items()) {
        if (!v.is_object()) continue;
        ++entries;
        EXPECT_EQ(v["group_size"], 64) << k;  // mlx_lm would write null here; we write the value it falls back to
        EXPECT_EQ(v["mode"], "affine") << k;
        int b = v["bits"].get<int>();
        EXPECT_TRUE(b == bits.first || b == bits.second) << k;
        if (k == "lm_head") {
          EXPECT_EQ(b, bits.second);
        }
        if (k == "model.embed_tokens") {
          EXPECT_EQ(b, bits.first);
        }
      }
      EXPECT_GT(entries, 0u);
      check_output(model, tmp / "out", DType::BF16,
                   [&](const std::string& m, const formats::Shape& s) { return declared_spec(qc, m, s); });
    }
  }
}

TEST(ConvertCli, DequantizeGivesTheDequantizedWeights) {
  for (const auto& model : fixture_dirs("models")) {
    SCOPED_TRACE(model.string());
    TempDir tmp;
    ASSERT_EQ(mlx_cli("convert --hf-path " + q(model) + " --mlx-path " + q(tmp / "q4") + " -q --quiet").code, 0);
    auto r = mlx_cli("convert --hf-path " + q(tmp / "q4") + " --mlx-path " + q(tmp / "deq") + " -d --quiet");
    ASSERT_EQ(r.code, 0) << r.err;
    auto cfg = read_json(tmp / "deq" / "config.json");
    EXPECT_FALSE(cfg.contains("quantization"));
    EXPECT_FALSE(cfg.contains("quantization_config"));
    formats::WeightSet qs = formats::WeightSet::open(tmp / "q4"), ds = formats::WeightSet::open(tmp / "deq");
    for (const auto* t : ds.tensors()) {
      SCOPED_TRACE(t->name);
      EXPECT_EQ(t->name.find(".scales"), std::string::npos);
      const std::string m = t->name.substr(0, t->name.size() - 7);
      const formats::TensorView* sc = qs.find(m + ".scales");
      if (!sc) {
        EXPECT_TRUE(bytes_of(*t) == bytes_of(*qs.find(t->name)));
        continue;
      }
      const formats::TensorView* w = qs.find(m + ".weight");
      const formats::TensorView* b = qs.find(m + ".biases");
      int bits = int(w->shape.back() * 32 / t->shape.back());
      int group = int(t->shape.back() / sc->shape.back());
      EXPECT_EQ(t->dtype, sc->dtype);
      std::string expect(t->nbytes, '\0');
      const int64_t cols = t->shape.back(), rows = t->numel() / cols;
      quant::affine_dequantize(reinterpret_cast<const uint32_t*>(w->data), sc->data, b->data, sc->dtype, rows, cols,
                               bits, group, static_cast<void*>(expect.data()));
      EXPECT_TRUE(bytes_of(*t) == expect);
    }
  }
}

TEST(ConvertCli, ConfigJsonIsPythonJsonDumpIndent4WithSortedKeys) {
  auto dirs = fixture_dirs("models");
  if (dirs.empty()) GTEST_SKIP();
  TempDir tmp;
  ASSERT_EQ(mlx_cli("convert --hf-path " + q(dirs[0]) + " --mlx-path " + q(tmp / "out") + " -q --quiet").code, 0);
  const std::string text = slurp(tmp / "out" / "config.json");
  auto cfg = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (auto it = cfg.begin(); it != cfg.end(); ++it) keys.push_back(it.key());
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_FALSE(cfg.contains("_name_or_path"));
  EXPECT_EQ(text.substr(0, 6), "{\n    ");
  EXPECT_NE(text.back(), '\n');
  // When Python is around, it is the oracle: json.dump(json.load(f), indent=4) must reproduce the bytes.
  if (std::system("python3 -c 'import json' >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not available";
  const std::string cmd = "python3 -c 'import json,sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1])), "
                          "indent=4))' " + q(tmp / "out" / "config.json") + " > " + q(tmp / "py.json");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(slurp(tmp / "py.json"), text);
  const std::string cmd2 = "python3 -c 'import json,sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1])), "
                           "indent=4))' " + q(tmp / "out" / "model.safetensors.index.json") + " > " + q(tmp / "py2.json");
  ASSERT_EQ(std::system(cmd2.c_str()), 0);
  EXPECT_EQ(slurp(tmp / "py2.json"), slurp(tmp / "out" / "model.safetensors.index.json"));
}

TEST(QuantizeCli, RequantizeWithOverridesAndReport) {
  for (const auto& model : fixture_dirs("models")) {
    SCOPED_TRACE(model.string());
    TempDir tmp;
    ASSERT_EQ(mlx_cli("convert --hf-path " + q(model) + " --mlx-path " + q(tmp / "q4") + " -q --quiet").code, 0);
    ASSERT_EQ(mlx_cli("convert --hf-path " + q(tmp / "q4") + " --mlx-path " + q(tmp / "deq") + " -d --quiet").code, 0);
    auto r = mlx_cli("quantize --model " + q(tmp / "q4") + " --out " + q(tmp / "q8") +
                     " --q-bits 8 --layer '*down_proj=6:32' --report --quiet");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("TOTAL"), std::string::npos);
    auto qc = read_json(tmp / "q8" / "config.json")["quantization"];
    EXPECT_EQ(qc["bits"], 8);
    bool saw_down = false;
    for (const auto& [k, v] : qc.items())
      if (k.find("down_proj") != std::string::npos) {
        saw_down = true;
        EXPECT_EQ(v["bits"], 6);
        EXPECT_EQ(v["group_size"], 32);
      }
    EXPECT_TRUE(saw_down);
    // Re-quantizing the 4-bit model = quantizing its dequantized weights.
    check_output(tmp / "deq", tmp / "q8", std::nullopt,
                 [&](const std::string& m, const formats::Shape& s) { return declared_spec(qc, m, s); });
  }
}
