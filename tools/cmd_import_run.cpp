// `mlx import-run FUNCTION INPUTS [INPUT_NAMES_JSON]`: replays an .mlxfn (ours or one MLX wrote) on our CPU
// backend, writes outputs, and reports timing and parity. `--report BUNDLE...` runs several export bundles.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/interrupt.h"
#include "formats/safetensors.h"
#include "graph/program.h"

namespace {

namespace fs = std::filesystem;
namespace mx = mlx::formats::mlxfn;
using json = nlohmann::ordered_json;
using mlx::graph::Tensor;

struct Opts {
  std::vector<std::string> args;
  std::string out, expected;
  int warmup = 3, iters = 10;
  bool json = false, report = false;
};

Tensor load_tensor(const mlx::formats::TensorView& t, const std::string& file) {
  mlx::graph::Dims s(t.shape.begin(), t.shape.end());
  return mlx::graph::from_bytes(t.data, t.nbytes, s, mx::mx_dtype(t.dtype), file + ": " + t.name);
}

std::vector<Tensor> bind_inputs(const mlx::graph::Program& p, const fs::path& inputs, const std::string& names_json) {
  auto st = mlx::formats::SafetensorsFile::open(inputs);
  std::string file = inputs.filename().string();
  size_t n = p.input_descs().size();
  std::vector<std::string> names;
  if (!names_json.empty()) {
    json j = mlx::read_json(names_json);
    if (!j.is_array()) mlx::fail("{}: expected a JSON array of tensor names", fs::path(names_json).filename().string());
    for (const auto& x : j) {
      if (!x.is_string()) mlx::fail("{}: input names must be strings", fs::path(names_json).filename().string());
      names.push_back(x.get<std::string>());
    }
  } else if (n == 1 && st.tensors().size() == 1) {
    names.push_back(st.tensors()[0].name);
  } else {
    // Positional inputs come first as arg_0, arg_1, ...; keyword inputs follow under their keys (export.cpp
    // flattens kwargs after the positional arguments, in kwarg_keys order).
    const auto& keys = p.function().traces.at(0).kwarg_keys;
    size_t npos = n >= keys.size() ? n - keys.size() : 0;
    for (size_t i = 0; i < n; ++i) names.push_back(i < npos ? "arg_" + std::to_string(i) : keys[i - npos]);
  }
  if (names.size() != n) mlx::fail("{}: the function takes {} inputs, {} names given", p.name(), n, names.size());
  std::vector<Tensor> out;
  for (const auto& nm : names) {
    const auto* t = st.find(nm);
    if (!t) mlx::fail("{}: no tensor named '{}'", file, nm);
    out.push_back(load_tensor(*t, file));
  }
  return out;
}

struct RunResult {
  std::vector<Tensor> outputs;
  double load_ms = 0, avg_ms = 0, median_ms = 0;
  std::optional<double> max_abs_diff;
};

// Thrown between iterations when Ctrl-C was pressed: the command exits 130 and writes nothing.
struct Interrupted {};
void check_interrupt() {
  if (mlx::interrupted()) throw Interrupted{};
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

RunResult run_one(const fs::path& fn, const fs::path& inputs, const std::string& names, const std::string& expected,
                  int warmup, int iters) {
  RunResult r;
  auto t0 = std::chrono::steady_clock::now();
  auto prog = mlx::graph::Program::load(fn);
  auto in = bind_inputs(prog, inputs, names);
  r.load_ms = ms_since(t0);
  check_interrupt();
  for (int i = 0; i < warmup; ++i) {
    prog.run(in);
    check_interrupt();
  }
  std::vector<double> times;
  for (int i = 0; i < std::max(iters, 1); ++i) {
    auto t = std::chrono::steady_clock::now();
    r.outputs = prog.run(in);
    times.push_back(ms_since(t));
    check_interrupt();
  }
  double sum = 0;
  for (double t : times) sum += t;
  r.avg_ms = sum / double(times.size());
  std::sort(times.begin(), times.end());
  r.median_ms = times[times.size() / 2];
  if (!expected.empty()) {
    auto ex = mlx::formats::SafetensorsFile::open(expected);
    std::string file = fs::path(expected).filename().string();
    double diff = 0;
    for (size_t i = 0; i < r.outputs.size(); ++i) {
      std::string nm = "output_" + std::to_string(i);
      const auto* t = ex.find(nm);
      if (!t && r.outputs.size() == 1 && ex.tensors().size() == 1) t = &ex.tensors()[0];
      if (!t) mlx::fail("{}: no tensor named '{}'", file, nm);
      Tensor e = load_tensor(*t, file);
      if (e.numel() != r.outputs[i].numel())
        mlx::fail("{}: {} has shape {}, the output has {}", file, nm, mlx::graph::dims_string(e.shape),
                  mlx::graph::dims_string(r.outputs[i].shape));
      const std::vector<double> ev = e.values(), ov = r.outputs[i].values();
      for (size_t k = 0; k < ev.size(); ++k) {
        double d = std::fabs(ev[k] - ov[k]);
        if (std::isnan(d)) d = INFINITY;
        diff = std::max(diff, d);
      }
    }
    r.max_abs_diff = diff;
  }
  return r;
}

void write_outputs(const fs::path& path, const std::vector<Tensor>& outs) {
  std::vector<mlx::formats::OwnedTensor> ts;
  for (size_t i = 0; i < outs.size(); ++i) {
    mlx::formats::OwnedTensor t;
    t.spec.name = "output_" + std::to_string(i);
    t.spec.dtype = mx::to_dtype(outs[i].dtype, path.filename().string());
    t.spec.shape.assign(outs[i].shape.begin(), outs[i].shape.end());
    t.bytes = mlx::graph::to_bytes(outs[i]);
    ts.push_back(std::move(t));
  }
  mlx::formats::write_safetensors(path, ts);
}

int run_report(const Opts& o) {
  json rows = json::array();
  if (!o.json) std::printf("%-40s %12s %14s\n", "model", "avg ms", "max abs diff");
  for (const auto& b : o.args) {
    fs::path dir(b);
    fs::path expected = dir / "expected.safetensors";
    auto r = run_one(dir / "function.mlxfn", dir / "inputs.safetensors", "", fs::exists(expected) ? expected.string() : "",
                     o.warmup, o.iters);
    json row = {{"model", dir.filename().string()}, {"avg_ms", r.avg_ms}, {"median_ms", r.median_ms}, {"load_ms", r.load_ms}};
    row["max_abs_diff"] = r.max_abs_diff ? json(*r.max_abs_diff) : json(nullptr);
    rows.push_back(row);
    if (!o.json)
      std::printf("%-40s %12.3f %14s\n", dir.filename().string().c_str(), r.avg_ms,
                  r.max_abs_diff ? fmt::format("{:.3g}", *r.max_abs_diff).c_str() : "-");
  }
  if (o.json) std::printf("%s\n", rows.dump(2).c_str());
  if (!o.out.empty()) mlx::write_file_atomic(o.out, rows.dump(2) + "\n");
  return 0;
}

int run(const Opts& o) {
  if (o.report) return run_report(o);
  if (o.args.size() < 2 || o.args.size() > 3)
    throw mlx::UsageError("import-run takes FUNCTION INPUTS [INPUT_NAMES_JSON]");
  auto r = run_one(o.args[0], o.args[1], o.args.size() > 2 ? o.args[2] : "", o.expected, o.warmup, o.iters);
  if (!o.out.empty()) write_outputs(o.out, r.outputs);
  if (o.json) {
    json j;
    json shapes = json::array();
    for (const auto& t : r.outputs) shapes.push_back({{"shape", t.shape}, {"dtype", mx::mx_dtype_name(t.dtype)}});
    j["outputs"] = shapes;
    j["load_ms"] = r.load_ms;
    j["avg_ms"] = r.avg_ms;
    j["median_ms"] = r.median_ms;
    j["iters"] = o.iters;
    j["warmup"] = o.warmup;
    if (r.max_abs_diff) j["max_abs_diff"] = *r.max_abs_diff;
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (size_t i = 0; i < r.outputs.size(); ++i)
      std::printf("output_%zu: %s %s\n", i, mlx::graph::dims_string(r.outputs[i].shape).c_str(),
                  mx::mx_dtype_name(r.outputs[i].dtype).c_str());
    std::printf("load: %.3f ms\navg: %.3f ms, median: %.3f ms over %d iterations (%d warm-up)\n", r.load_ms,
                r.avg_ms, r.median_ms, o.iters, o.warmup);
    if (r.max_abs_diff) std::printf("max abs diff: %.6g\n", *r.max_abs_diff);
  }
  return 0;
}

}  // namespace

static mlx::cli::RegisterCommand reg_import_run{
    "import-run", "Run an exported .mlxfn function on inputs.safetensors (timing and parity)",
    [](CLI::App& app) -> mlx::cli::Runner {
      auto o = std::make_shared<Opts>();
      app.add_option("args", o->args, "FUNCTION INPUTS [INPUT_NAMES_JSON], or bundle dirs with --report")->required();
      app.add_option("--out", o->out, "write outputs (output_0, ...) to this safetensors file (--report: JSON)");
      app.add_option("--expected", o->expected, "safetensors with expected outputs: print max abs diff");
      app.add_option("--warmup", o->warmup, "warm-up iterations (not timed)")->check(CLI::NonNegativeNumber);
      app.add_option("--iters", o->iters, "measured iterations")->check(CLI::PositiveNumber);
      app.add_flag("--json", o->json, "machine-readable output");
      app.add_flag("--report", o->report, "parity table over export bundles (function.mlxfn, inputs.safetensors, expected.safetensors)");
      return [o]() -> int {
        mlx::install_interrupt_handler();
        try {
          return run(*o);
        } catch (const Interrupted&) {
          std::fprintf(stderr, "interrupted\n");
          return 130;
        }
      };
    }};
