// mlx perplexity against PyTorch: for every model directory that ships pytorch_heldout.json (models/demo, and
// <fixtures>/perplexity/*), our tokenizer must reproduce the reference token count and first ids of the held-out
// text, and our forward pass the reference per-window mean NLL and the perplexity within 0.5 %.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "core/file_io.h"
#include "runtime/model.h"
#include "runtime/perplexity.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using mlx::test::quote;
using mlx::test::run_cli;

// Windows the in-process test evaluates: enough for a perplexity figure, small enough for ~10 s on 2 cores.
constexpr int64_t kWindows = 6;

std::vector<fs::path> reference_dirs() {
  std::vector<fs::path> out;
  fs::path demo = fs::path(MLX_SOURCE_DIR) / "models" / "demo";
  if (fs::exists(demo / "pytorch_heldout.json")) out.push_back(demo);
  for (const auto& d : mlx::test::fixture_dirs("perplexity"))
    if (fs::exists(d / "pytorch_heldout.json")) out.push_back(d);
  return out;
}

struct Reference {
  nlohmann::json j;
  fs::path data;
};

Reference load_reference(const fs::path& dir) {
  Reference r;
  r.j = nlohmann::json::parse(mlx::read_file(dir / "pytorch_heldout.json"));
  r.data = dir / r.j["data"].get<std::string>();  // heldout.txt, read through .zst when only that exists
  return r;
}

double mean_of_first(const nlohmann::json& v, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += v[size_t(i)].get<double>();
  return s / double(n);
}

TEST(Perplexity, ReferenceDirsExist) { ASSERT_FALSE(reference_dirs().empty()) << "models/demo is missing"; }

TEST(Perplexity, TokenNllIsLogSoftmax) {
  // Uniform logits: every token costs log(V). Two-way logits (0, ln 3): p = 1/4, 3/4.
  std::vector<float> uniform(2 * 5, 0.5f);
  std::vector<int32_t> toks = {0, 3, 1};
  double out[2];
  mlx::runtime::token_nlls(uniform.data(), 5, toks, out);
  EXPECT_NEAR(out[0], std::log(5.0), 1e-12);
  EXPECT_NEAR(out[1], std::log(5.0), 1e-12);
  std::vector<float> two = {0.0f, float(std::log(3.0))};
  std::vector<int32_t> t2 = {1, 0};
  mlx::runtime::token_nlls(two.data(), 2, t2, out);
  EXPECT_NEAR(out[0], std::log(4.0), 1e-6);
}

TEST(Perplexity, WindowsCountLikeMlxLm) {
  mlx::runtime::PerplexityOptions o;
  o.sequence_length = 512;
  o.num_samples = -1;
  EXPECT_EQ(mlx::runtime::perplexity_windows(1023, o), 1);
  EXPECT_EQ(mlx::runtime::perplexity_windows(1024, o), 2);
  EXPECT_EQ(mlx::runtime::perplexity_windows(511, o), 0);
  o.num_samples = 1;
  EXPECT_EQ(mlx::runtime::perplexity_windows(5000, o), 1);
}

TEST(Perplexity, TokenizerMatchesReferenceOnHeldOutText) {
  for (const auto& dir : reference_dirs()) {
    SCOPED_TRACE(dir.string());
    auto ref = load_reference(dir);
    auto tok = mlx::Tokenizer::load(dir);
    auto ids = tok.encode(mlx::read_file(ref.data), false);
    ASSERT_EQ(int64_t(ids.size()), ref.j["num_tokens_in_file"].get<int64_t>());
    const auto& first = ref.j["first_token_ids"];
    for (size_t i = 0; i < first.size(); ++i) ASSERT_EQ(ids[i], first[i].get<int32_t>()) << "at " << i;
  }
}

TEST(Perplexity, MatchesPyTorchWithinHalfPercent) {
  for (const auto& dir : reference_dirs()) {
    SCOPED_TRACE(dir.string());
    auto ref = load_reference(dir);
    auto tok = mlx::Tokenizer::load(dir);
    auto ids = tok.encode(mlx::read_file(ref.data), false);
    auto model = mlx::Model::load(dir);
    mlx::runtime::PerplexityOptions opt;
    opt.sequence_length = ref.j["sequence_length"].get<int64_t>();
    opt.num_samples = kWindows;
    auto r = mlx::runtime::evaluate_perplexity(*model, ids, opt);
    ASSERT_EQ(r.num_windows, kWindows);
    const auto& wref = ref.j["window_mean_nll"];
    for (int64_t w = 0; w < kWindows; ++w) {
      double want = wref[size_t(w)].get<double>();
      EXPECT_NEAR(r.window_mean_nll[size_t(w)], want, 0.005 * want) << "window " << w;
    }
    double want_ppl = std::exp(mean_of_first(wref, kWindows));
    EXPECT_NEAR(r.perplexity, want_ppl, 0.005 * want_ppl);
    std::printf("%s: %lld windows, perplexity %.4f (PyTorch %.4f), %.0f tok/s\n", dir.string().c_str(),
                (long long)kWindows, r.perplexity, want_ppl, r.tokens_per_second);
  }
}

TEST(PerplexityCli, JsonOverTwoWindowsMatchesReference) {
  fs::path dir = reference_dirs().at(0);
  auto ref = load_reference(dir);
  int code = -1;
  std::string err;
  std::string out = run_cli("perplexity --model " + quote(dir.string()) + " --data " + quote(ref.data.string()) +
                                " --num-samples 2 --json",
                            &code, &err);
  ASSERT_EQ(code, 0) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["num_windows"].get<int64_t>(), 2);
  EXPECT_EQ(j["num_tokens"].get<int64_t>(), 2 * (ref.j["sequence_length"].get<int64_t>() - 1));
  double want = std::exp(mean_of_first(ref.j["window_mean_nll"], 2));
  EXPECT_NEAR(j["perplexity"].get<double>(), want, 0.005 * want);
  EXPECT_GT(j["perplexity_se"].get<double>(), 0.0);
}

// ---- bad input: one line naming the file and the problem, exit 1; bad usage exit 2 ----

struct CliCase {
  std::string args;
  int want_code;
  std::string want_in_stderr;
};

TEST(PerplexityCli, BadInputAndUsage) {
  fs::path dir = reference_dirs().at(0);
  mlx::test::TempDir tmp;
  fs::path small = tmp / "small.txt", bad_utf8 = tmp / "bad.txt";
  std::ofstream(small) << "Too short for a window.";
  std::ofstream(bad_utf8, std::ios::binary) << std::string(600, 'a') << "\xff\xfe" << std::string(600, 'b');
  std::string m = "perplexity --model " + quote(dir.string());
  std::vector<CliCase> cases = {
      {m + " --data " + quote((tmp / "missing.txt").string()), 1, "missing.txt"},
      {m + " --data " + quote(small.string()), 1, "small.txt"},
      {m + " --data " + quote(bad_utf8.string()), 1, "bad.txt"},
      {"perplexity --model " + quote((tmp / "nomodel").string()), 1, "nomodel"},
      {m + " --sequence-length 1", 2, "--sequence-length"},
      {m + " --num-samples 0", 2, "--num-samples"},
      {m + " --batch-size 0", 2, "--batch-size"},
      {m + " --no-such-flag", 2, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    int code = -1;
    std::string err;
    std::string out = run_cli(c.args, &code, &err);
    EXPECT_EQ(code, c.want_code) << err;
    EXPECT_TRUE(out.empty()) << out;
    EXPECT_NE(err.find(c.want_in_stderr), std::string::npos) << err;
    if (c.want_code == 1) {
      EXPECT_EQ(err.rfind("error: ", 0), 0u) << err;
      EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    }
  }
}

}  // namespace
