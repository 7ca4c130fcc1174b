// Quantized (MLX affine) models export their Linears as QuantizedMatmul on the packed weights; the replay must
// agree with our runtime's forward of the same quantized directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>

#include "../common/fixtures.h"
#include "core/file_io.h"
#include "formats/mlxfn.h"
#include "graph/export_model.h"
#include "graph/program.h"
#include "runtime/model.h"

namespace fs = std::filesystem;
namespace mx = mlx::formats::mlxfn;

TEST(MlxfnQuantized, AffineExportMatchesRuntimeForward) {
  int checked = 0;
  for (const fs::path& dir : mlx::test::fixture_dirs("models")) {
    if (dir.parent_path() != mlx::test::test_data_dir() / "models") continue;  // one copy of each is enough
    SCOPED_TRACE(dir.string());
    fs::path q = fs::temp_directory_path() / ("mlx_mlxfn_q_" + dir.filename().string() + "_" + std::to_string(::getpid()));
    fs::remove_all(q);
    int code = -1;
    std::string err;
    mlx::test::run_cli("convert --hf-path " + dir.string() + " --mlx-path " + q.string() + " -q --q-group-size 32", &code, &err);
    ASSERT_EQ(code, 0) << err;
    auto g = mlx::read_json(dir / "golden.json");
    auto ids = g["prompt_short"]["input_ids"].get<std::vector<int32_t>>();
    mx::Function fn = mlx::graph::export_model(q, ids, {});
    bool has_qmm = false;
    for (const auto& e : fn.traces[0].tape) has_qmm |= e.name == "QuantizedMatmul";
    EXPECT_TRUE(has_qmm);
    std::string bytes = mx::serialize(fn);
    auto prog = mlx::graph::Program::from(mx::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "q.mlxfn"), "q.mlxfn");
    mlx::graph::Tensor in{{1, int64_t(ids.size())}, mx::MxDtype{7, 4}, std::vector<double>(ids.begin(), ids.end())};
    auto out = prog.run({in});

    auto model = mlx::Model::load(q);
    auto cache = model->make_cache();
    std::vector<float> ref(ids.size() * size_t(model->info().vocab_size));
    model->forward(ids, *cache, ref.data(), true);
    const std::vector<double> got = out[0].values();
    ASSERT_EQ(got.size(), ref.size());
    double d = 0;
    for (size_t i = 0; i < ref.size(); ++i) d = std::max(d, std::fabs(got[i] - ref[i]));
    EXPECT_LT(d, 1e-4);
    fs::remove_all(q);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}
