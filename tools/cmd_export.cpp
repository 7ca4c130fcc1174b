// `mlx export --model DIR --out BUNDLE`: the model's forward function (input_ids int32 [1,T] -> logits [1,T,V]) as
// an MLX .mlxfn with the weights inline, plus inputs.safetensors holding the sample prompt's ids.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "core/file_io.h"
#include "formats/model_dir.h"
#include "formats/safetensors.h"
#include "graph/export_model.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

struct Opts {
  std::string model, out, prompt, prompt_file, prompt_ids, target = "gpu", mlx_version;
  bool no_shapeless = false;
  int stream_index = -1;
};

// Stream indices: MLX since PR #3127 ("Manage stream placement in import function", merged 2026-02-14) places each
// imported primitive on a stream of the importing process by the recorded device, so the index no longer has to
// exist there; only the device does (a GPU-stream file needs MLX with Metal or CUDA). Older MLX required
// get_stream(index) == stream; their scheduler created the default streams at start-up, GPU first: GPU 0 and CPU 1
// on Metal/CUDA builds, CPU 0 on CPU-only builds. The newest MLX (mlx/stream.cpp) creates default streams lazily
// in first-use order, so index 0 is the first stream a process uses. Index 0 fits every case but a CPU-stream file
// for an MLX older than #3127 on a Mac or CUDA machine (--stream-index 1).
constexpr const char* kTargetHelp =
    "device of every primitive's stream. gpu (default): GPU stream, fast RMSNorm/RoPE/attention kept, shapeless in "
    "T (MLX with Metal or CUDA). cpu: CPU stream with the fast ops decomposed (MLX's CPU backend has no kernels for "
    "them), fixed at the sample length (runs on any MLX, CPU-only builds included). Stream index 0 either way: MLX "
    "since Feb 2026 (PR #3127) maps imported streams by device and ignores the index; an older MLX on a Mac or "
    "CUDA machine needs --stream-index 1 for a cpu file";
constexpr const char* kDefaultPrompt = "The quick brown fox jumps over the lazy dog.";

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::string tok;
  std::stringstream ss(s);
  while (std::getline(ss, tok, ',')) {
    size_t a = tok.find_first_not_of(" \t[]"), b = tok.find_last_not_of(" \t[]");
    if (a == std::string::npos) continue;
    tok = tok.substr(a, b - a + 1);
    try {
      size_t used = 0;
      long v = std::stol(tok, &used);
      if (used != tok.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(tok);
      ids.push_back(int32_t(v));
    } catch (const std::exception&) {
      throw mlx::UsageError("--sample-prompt-ids: '" + tok + "' is not a token id");
    }
  }
  if (ids.empty()) throw mlx::UsageError("--sample-prompt-ids: no ids given");
  return ids;
}

}  // namespace

static mlx::cli::RegisterCommand reg_export{
    "export", "Export a model's forward function as an MLX .mlxfn bundle",
    [](CLI::App& app) -> mlx::cli::Runner {
      auto o = std::make_shared<Opts>();
      app.add_option("--model", o->model, "model directory or HF repo id")->required();
      app.add_option("--out", o->out, "bundle directory (function.mlxfn, inputs.safetensors)")->required();
      auto* p1 = app.add_option("--sample-prompt", o->prompt, "sample prompt text (tokenized without chat template)");
      auto* p2 = app.add_option("--sample-prompt-file", o->prompt_file, "file holding the sample prompt");
      auto* p3 = app.add_option("--sample-prompt-ids", o->prompt_ids, "sample prompt as comma-separated token ids");
      p1->excludes(p2)->excludes(p3);
      p2->excludes(p3);
      app.add_flag("--no-shapeless", o->no_shapeless, "fix the sequence length to the sample's");
      app.add_option("--target", o->target, kTargetHelp)->check(CLI::IsMember({"gpu", "cpu"}));
      app.add_option("--stream-index", o->stream_index, "MLX stream index to write (default 0; only an MLX older than Feb 2026 checks it, see --target)")
          ->check(CLI::Range(0, 255));
      app.add_option("--mlx-version", o->mlx_version,
                     "MLX version the file is for (default 0.32.2): the header has the metadata field from 0.32.1 "
                     "on, and primitive states take that version's layout (e.g. attention without sinks before 0.29, "
                     "without force_fused before 0.32.2: use 0.32.1 for an MLX whose attention state has no "
                     "force_fused)");
      return [o]() -> int {
        int major = 0, minor = 0;
        if (!o->mlx_version.empty() && std::sscanf(o->mlx_version.c_str(), "%d.%d", &major, &minor) != 2)
          throw mlx::UsageError("--mlx-version: '" + o->mlx_version + "' is not a version like 0.32.2");
        fs::path dir = mlx::formats::resolve_model_path(o->model);
        std::vector<int32_t> ids;
        if (!o->prompt_ids.empty()) {
          ids = parse_ids(o->prompt_ids);
        } else {
          std::string text = o->prompt_file.empty() ? (o->prompt.empty() ? kDefaultPrompt : o->prompt)
                                                     : mlx::read_file(o->prompt_file);
          ids = mlx::Tokenizer::load(dir).encode(text, true);
        }
        mlx::graph::ExportOptions eo;
        eo.shapeless = !o->no_shapeless;
        eo.gpu_stream = o->target == "gpu";
        auto fn = mlx::graph::export_model(dir, ids, eo);
        if (!o->mlx_version.empty()) fn.version = o->mlx_version;
        // Header metadata (MLX >= 0.32.1, mx.import_function(..., return_metadata=True)): what the function is.
        {
          auto cfg = mlx::read_json(dir / "config.json");
          nlohmann::ordered_json meta;
          meta["exporter"] = "mlx export";
          meta["model_type"] = cfg.value("model_type", "");
          meta["inputs"] = {"input_ids int32 [1, T]"};
          meta["outputs"] = {"logits float32 [1, T, vocab]"};
          meta["sample_tokens"] = ids.size();
          meta["target"] = o->target;
          meta["shapeless"] = fn.shapeless;
          fn.metadata = meta.dump();
        }
        const mlx::formats::mlxfn::Stream stream{o->stream_index < 0 ? 0 : o->stream_index, o->target == "gpu" ? 1 : 0, 0};
        for (auto& tr : fn.traces)
          for (auto& e : tr.tape)
            if (e.kind == mlx::formats::mlxfn::TapeEntry::kPrimitive) e.stream = stream;
        fs::path out(o->out);
        std::error_code ec;
        fs::create_directories(out, ec);
        if (ec) mlx::fail("{}: cannot create the bundle directory: {}", out.string(), ec.message());
        mlx::formats::mlxfn::write(out / "function.mlxfn", fn);
        mlx::formats::OwnedTensor t;
        t.spec = {"input_ids", mlx::DType::I32, {1, int64_t(ids.size())}};
        t.bytes.assign(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int32_t));
        mlx::formats::write_safetensors(out / "inputs.safetensors", {t});
        size_t n = fn.traces[0].tape.size();
        std::fprintf(stderr, "exported %s: %zu tape entries, %zu sample tokens -> %s\n", dir.string().c_str(), n,
                     ids.size(), out.string().c_str());
        return 0;
      };
    }};
