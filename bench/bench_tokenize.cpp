// Tokenizer benchmark: tokenizer.json load time and single-thread encode throughput on a few MB of mixed text
// (the golden corpora repeated plus generated English), for the llama3 and qwen3 vocabularies by default.
// Load is timed --loads times (default 7) and reported as min and median, with the minor page faults per load (each
// costs 10-35 us on the shared VM, so they matter) and the load average (other processes share the cores).
// Usage: bench_tokenize [tokenizer_dir ...] [--mb N] [--loads N] [--load-only] [--no-ceiling]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sys/resource.h>

#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "tokenizer/bpe.h"
#include "tokenizer/json_loader.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of this thread: on a shared, oversubscribed machine it is the honest single-thread cost.
static double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Golden texts of every fixture (multilingual, code, emoji) plus deterministic pseudo-English, ~`mb` MB.
static std::string build_corpus(const fs::path& tokenizers_root, double mb) {
  std::string golden;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tokenizers_root, ec)) {
    std::ifstream in(entry.path() / "golden.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("text") && j.value("add_special_tokens", true) == false)
        golden += j["text"].get<std::string>() + "\n";
    }
  }
  static const char* words[] = {
      "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
      "he", "I", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you",
      "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will",
      "would", "who", "so", "no", "model", "token", "quantization", "inference", "throughput", "memory",
      "bandwidth", "generation", "language", "transformer", "attention", "matrix", "vector", "kernel", "cache",
      "2024", "3.14159", "don't", "it's", "we'll", "HTTP", "JSON", "Linux", "naïve", "café"};
  std::mt19937 rng(1234);
  std::string english;
  const size_t target = static_cast<size_t>(mb * 1e6);
  std::string corpus;
  while (corpus.size() < target) {
    english.clear();
    for (int s = 0; s < 200; ++s) {
      int n = 5 + static_cast<int>(rng() % 20);
      for (int w = 0; w < n; ++w) {
        std::string word = words[rng() % (sizeof words / sizeof *words)];
        if (w == 0) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
        english += (w ? " " : "") + word;
      }
      english += (rng() % 5 == 0) ? ".\n\n" : ". ";
    }
    corpus += english;
    corpus += golden;
  }
  return corpus;
}

static long minor_faults() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

static std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

static double memcpy_gbps() {
  std::vector<char> a(256 << 20, 1), b(256 << 20);
  auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i) std::memcpy(b.data(), a.data(), a.size());
  double s = seconds_since(t0);
  return 4.0 * static_cast<double>(a.size()) / s / 1e9;
}

int main(int argc, char** argv) {
  std::vector<fs::path> dirs;
  double mb = 4.0;
  bool ceiling = true, load_only = false;
  int loads = 7;
  const fs::path root = fs::path(MLX_SOURCE_DIR) / "tests/data/tokenizers";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mb") == 0 && i + 1 < argc) mb = std::atof(argv[++i]);
    else if (std::strcmp(argv[i], "--loads") == 0 && i + 1 < argc) loads = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--load-only") == 0) load_only = true;
    else if (std::strcmp(argv[i], "--no-ceiling") == 0) ceiling = false;
    else dirs.emplace_back(argv[i]);
  }
  if (dirs.empty()) dirs = {root / "llama3", root / "qwen3"};

  const std::string corpus = load_only ? std::string() : build_corpus(root, mb);
  if (!load_only)
    fmt::print("corpus: {:.2f} MB mixed text (golden corpora + generated English), 1 thread\n", corpus.size() / 1e6);
  if (ceiling && !load_only)
    fmt::print("memcpy bandwidth (physical ceiling for any byte scan): {:.1f} GB/s\n", memcpy_gbps());
  fmt::print("load average before: {}\n", load_average());
  for (const fs::path& dir : dirs) {
    size_t json_bytes = 0;
    std::error_code ec;
    if (fs::exists(dir / "tokenizer.json", ec)) json_bytes = fs::file_size(dir / "tokenizer.json", ec);
    else json_bytes = mlx::read_file(dir / "tokenizer.json").size();

    std::vector<double> wall, cpu, faults;
    for (int rep = 0; rep < loads; ++rep) {
      long f0 = minor_faults();
      auto t0 = Clock::now();
      double c0 = thread_cpu_seconds();
      mlx::Tokenizer tok = mlx::Tokenizer::load(dir);
      wall.push_back(seconds_since(t0));
      cpu.push_back(thread_cpu_seconds() - c0);
      faults.push_back(static_cast<double>(minor_faults() - f0));
    }
    fmt::print(
        "{:<10} load {:6.1f} ms wall min, {:6.1f} median / {:6.1f} ms CPU min, {:6.1f} median; {:.0f} page faults "
        "(median) ({} loads; tokenizer.json {:.1f} MB; from .zst includes decompression)\n",
        dir.filename().string(), *std::min_element(wall.begin(), wall.end()) * 1e3, median(wall) * 1e3,
        *std::min_element(cpu.begin(), cpu.end()) * 1e3, median(cpu) * 1e3, median(faults), loads, json_bytes / 1e6);
    // Where the load goes: core read_file (zstd streaming into a std::string), the JSON reader, the BPE tables; and
    // read_tokenizer_json, the huge-page one-shot reading that Tokenizer::load does not use yet.
    std::vector<double> t_read, t_parse, t_bpe, t_huge;
    for (int rep = 0; rep < loads; ++rep) {
      auto t0 = Clock::now();
      std::string text = mlx::read_file(dir / "tokenizer.json");
      t_read.push_back(seconds_since(t0));
      t0 = Clock::now();
      mlx::tok::TokenizerJson tj = mlx::tok::parse_tokenizer_json(text, "tokenizer.json");
      t_parse.push_back(seconds_since(t0));
      t0 = Clock::now();
      { mlx::tok::BpeModel bpe(tj.doc["model"], std::move(tj.vocab), std::move(tj.merges), "tokenizer.json"); }
      t_bpe.push_back(seconds_since(t0));
      t0 = Clock::now();
      { mlx::tok::TokenizerJson huge = mlx::tok::read_tokenizer_json(dir / "tokenizer.json", "tokenizer.json"); }
      t_huge.push_back(seconds_since(t0));
    }
    auto mm = [](const std::vector<double>& v) {
      return fmt::format("{:.1f}/{:.1f}", *std::min_element(v.begin(), v.end()) * 1e3, median(v) * 1e3);
    };
    fmt::print("{:<10} parts (ms wall, min/median): read_file {}, parse_tokenizer_json {}, BpeModel {}; "
               "read_tokenizer_json (read+parse) {}\n",
               "", mm(t_read), mm(t_parse), mm(t_bpe), mm(t_huge));
    if (load_only) continue;
    mlx::Tokenizer tok = mlx::Tokenizer::load(dir);
    // Cold: first pass fills the word cache; warm: the steady state of a long-running process.
    auto t0 = Clock::now();
    size_t ntok = tok.encode(corpus, false).size();
    double cold = seconds_since(t0);
    t0 = Clock::now();
    double c0 = thread_cpu_seconds();
    tok.encode(corpus, false);
    double warm = seconds_since(t0), warm_cpu = thread_cpu_seconds() - c0;
    fmt::print(
        "{:<10} encode cold {:5.1f} MB/s, warm {:5.1f} MB/s wall / {:5.1f} MB/s CPU, {:.2f} M tokens/s CPU\n"
        "{:<10} targets: load < 150 ms, encode >= 10 MB/s (one thread)\n",
        dir.filename().string(), corpus.size() / cold / 1e6, corpus.size() / warm / 1e6, corpus.size() / warm_cpu / 1e6, ntok / warm_cpu / 1e6,
        "");
  }
  fmt::print("load average after: {}\n", load_average());
  return 0;
}
