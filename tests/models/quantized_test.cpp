// Quantized MLX directories made in-test from every fixture model (family sanitize plan -> quant/ -> formats/
// writer): their logits match the dequantized float model within 1e-3 relative.
#include <gtest/gtest.h>

#include <cstring>

#include "golden.h"
#include "models/family.h"
#include "quant/affine.h"
#include "quant/fp_formats.h"
#include "quant/spec.h"

namespace mlx::test {
namespace {

using formats::OwnedTensor;
using formats::SafetensorsFile;
using formats::TensorSpec;

struct Built {
  std::vector<OwnedTensor> quantized, dequantized;
  Json quantization;
};

std::string bytes_of(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

// Quantizes every quantizable planned tensor with `spec` (or the family's override), the MLX way.
Built build(const fs::path& dir, const quant::QuantSpec& spec) {
  Json cfg = read_json(dir / "config.json");
  models::ModelConfig mc = models::parse_model_config(cfg);
  const models::Family& fam = models::family_for(cfg["model_type"].get<std::string>());
  SafetensorsFile src = SafetensorsFile::open(dir / "model.safetensors");
  std::vector<models::SourceTensor> st;
  for (const auto& t : src.tensors()) st.push_back({t.name, t.dtype, t.shape});
  Built b;
  b.quantization = Json{{"group_size", spec.group_size}, {"bits", spec.bits}, {"mode", quant::quant_mode_name(spec.mode)}};
  for (const models::PlannedTensor& p : fam.sanitize(mc, st)) {
    std::string data;
    for (const std::string& s : p.sources) {
      const auto* t = src.find(s);
      data += bytes_of(t->data, t->nbytes);
    }
    quant::QuantSpec s = spec;
    if (auto o = fam.quant_override(p.module(), spec)) {
      s = *o;
      b.quantization[p.module()] =
          Json{{"group_size", s.group_size}, {"bits", s.bits}, {"mode", quant::quant_mode_name(s.mode)}};
    }
    const int64_t cols = p.shape.back();
    if (!p.quantizable || !quant::quantizable_cols(cols, s)) {
      b.quantized.push_back({TensorSpec{p.name, p.dtype, p.shape}, data});
      b.dequantized.push_back({TensorSpec{p.name, p.dtype, p.shape}, data});
      continue;
    }
    const int64_t rows = formats::shape_numel(p.shape) / cols;
    std::vector<uint32_t> packed(size_t(rows * quant::packed_cols(cols, s.bits)));
    const int64_t ng = rows * quant::groups(cols, s.group_size);
    std::vector<float> deq(size_t(rows * cols));
    formats::Shape pshape = p.shape, sshape = p.shape;
    pshape.back() = quant::packed_cols(cols, s.bits);
    sshape.back() = quant::groups(cols, s.group_size);
    const std::string m = p.module();
    b.quantized.push_back({TensorSpec{p.name, DType::U32, pshape}, bytes_of(packed.data(), 0)});
    if (s.mode == quant::QuantMode::Affine) {
      std::string scales(size_t(ng) * dtype_size(p.dtype), '\0'), biases(scales.size(), '\0');
      quant::affine_quantize(data.data(), p.dtype, rows, cols, s.bits, s.group_size, quant::Rounding::Gpu,
                             packed.data(), scales.data(), biases.data());
      quant::affine_dequantize(packed.data(), scales.data(), biases.data(), p.dtype, rows, cols, s.bits,
                               s.group_size, deq.data());
      b.quantized.push_back({TensorSpec{m + ".scales", p.dtype, sshape}, scales});
      b.quantized.push_back({TensorSpec{m + ".biases", p.dtype, sshape}, biases});
    } else {
      std::string scales(size_t(ng), '\0');
      quant::fp_quantize(data.data(), p.dtype, rows, cols, s.mode, packed.data(),
                         reinterpret_cast<uint8_t*>(scales.data()));
      quant::fp_dequantize(packed.data(), reinterpret_cast<const uint8_t*>(scales.data()), s.mode, rows, cols,
                           deq.data());
      b.quantized.push_back({TensorSpec{m + ".scales", DType::U8, sshape}, scales});
    }
    // The packed words are only known now.
    for (OwnedTensor& t : b.quantized)
      if (t.spec.name == p.name) t.bytes = bytes_of(packed.data(), packed.size() * 4);
    b.dequantized.push_back({TensorSpec{p.name, DType::F32, p.shape}, bytes_of(deq.data(), deq.size() * 4)});
  }
  return b;
}

void check_quantized(const quant::QuantSpec& spec) {
  for (const fs::path& dir : model_fixtures()) {
    SCOPED_TRACE(dir.string() + " " + quant::format_spec(spec));
    Built b = build(dir, spec);
    TempDir tmp;
    Json cfg = read_json(dir / "config.json");
    fs::create_directories(tmp / "q");
    fs::create_directories(tmp / "f");
    formats::write_safetensors(tmp / "f" / "model.safetensors", b.dequantized);
    write_file_atomic(tmp / "f" / "config.json", cfg.dump(2));
    cfg["quantization"] = b.quantization;
    cfg["quantization_config"] = b.quantization;
    formats::write_safetensors(tmp / "q" / "model.safetensors", b.quantized);
    write_file_atomic(tmp / "q" / "config.json", cfg.dump(2));
    auto qm = Model::load(tmp / "q");
    auto fm = Model::load(tmp / "f");
    ASSERT_TRUE(qm->info().quantization.has_value());
    EXPECT_EQ(*qm->info().quantization, spec);
    Json g = read_json(dir / "golden.json");
    std::vector<int32_t> ids = ids_of(g["prompt_short"]["input_ids"]);
    std::vector<float> ql = all_logits(*qm, ids), fl = all_logits(*fm, ids);
    float scale = 1.0f;
    for (float v : fl) scale = std::max(scale, std::fabs(v));
    EXPECT_LE(max_abs_diff(ql.data(), fl.data(), fl.size()), 1e-3f * scale);
  }
}

TEST(ModelQuantized, Affine4BitG64) { check_quantized({quant::QuantMode::Affine, 4, 64}); }
TEST(ModelQuantized, Affine8BitG32) { check_quantized({quant::QuantMode::Affine, 8, 32}); }
TEST(ModelQuantized, Affine3BitG32) { check_quantized({quant::QuantMode::Affine, 3, 32}); }
TEST(ModelQuantized, MxFp4) { check_quantized({quant::QuantMode::MxFp4, 4, 32}); }

// F16 checkpoints: computed in float32 after the exact f16 -> f32 widening, like the bf16 golden.
TEST(ModelHalf, F16WeightsMatchTheirF32Upcast) {
  for (const fs::path& dir : model_fixtures()) {
    SCOPED_TRACE(dir.string());
    SafetensorsFile src = SafetensorsFile::open(dir / "model.safetensors");
    std::vector<OwnedTensor> half, wide;
    for (const auto& t : src.tensors()) {
      const size_t n = size_t(t.numel());
      std::vector<float> f(n);
      to_f32(t.data, t.dtype, f.data(), n);
      std::vector<uint16_t> h(n);
      from_f32(f.data(), DType::F16, h.data(), n);
      to_f32(h.data(), DType::F16, f.data(), n);
      half.push_back({TensorSpec{t.name, DType::F16, t.shape}, bytes_of(h.data(), n * 2)});
      wide.push_back({TensorSpec{t.name, DType::F32, t.shape}, bytes_of(f.data(), n * 4)});
    }
    TempDir tmp;
    Json cfg = read_json(dir / "config.json");
    for (const char* sub : {"h", "w"}) {
      fs::create_directories(tmp / sub);
      write_file_atomic(tmp / sub / "config.json", cfg.dump(2));
    }
    formats::write_safetensors(tmp / "h" / "model.safetensors", half);
    formats::write_safetensors(tmp / "w" / "model.safetensors", wide);
    auto hm = Model::load(tmp / "h");
    auto wm = Model::load(tmp / "w");
    EXPECT_EQ(hm->info().dtype, DType::F16);
    Json g = read_json(dir / "golden.json");
    std::vector<int32_t> ids = ids_of(g["prompt_short"]["input_ids"]);
    std::vector<float> hl = all_logits(*hm, ids), wl = all_logits(*wm, ids);
    EXPECT_LE(max_abs_diff(hl.data(), wl.data(), wl.size()), 1e-4f);
  }
}

}  // namespace
}  // namespace mlx::test
