// Quantized matmul throughput: decode matvec GB/s of weight bytes next to the memory bandwidth this program
// measures itself, and prefill GFLOP/s (m = 512), on Llama-3.2-1B layer shapes.
//
//   bench_qmatmul [--quick] [--isa scalar|avx2|avx512] [--threads 1,2] [--acts f32|q8|q8x2] [--kernel]
//   bench_qmatmul --decode-ppl MODEL_DIR [--windows N]
//
// --acts: decode activations float, int8 or int8 x2 (the default where AVX-512 VNNI is; MLX_CPU_Q8_ACTS=0|1|2). --kernel: only the single-thread kernel microbench (CPU
// time of one 1024x2048 g64 bf16 matvec in L2, best of 300, float vs int8 activations, and the int8 error), which
// load on the machine disturbs far less than the wall-clock figures.
// --decode-ppl: what int8 activations cost in quality where they apply (decode, m = 1): perplexity of the model's
// held-out text (MODEL_DIR/heldout.txt, else models/demo's) over N windows of 512 tokens (default 4), every token fed
// one at a time through the KV cache, with float and with int8 activations, next to the whole-window (prefill)
// figure `mlx perplexity` reports.
//
// Decode reads many copies of each weight (>= 256 MiB in all) in turn so that the figure is DRAM, not cache.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "core/file_io.h"
#include "core/thread_pool.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "runtime/perplexity.h"
#include "tokenizer/tokenizer.h"

using namespace mlx;
using namespace mlx::cpu;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Best of `reps` runs of fn (seconds).
template <typename Fn>
double best_time(int reps, Fn fn) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t = Clock::now();
    fn();
    best = std::min(best, seconds_since(t));
  }
  return best;
}

// Read bandwidth: every thread sums its slice of a 1 GiB buffer.
double read_bandwidth_gbs() {
  const size_t n = (size_t(1) << 30) / 8;
  std::vector<uint64_t> buf(n, 1);
  std::vector<uint64_t> sums(256);
  auto run = [&] {
    parallel_for(int64_t(n), [&](int64_t b, int64_t e) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t j = b;
      for (; j + 4 <= e; j += 4) {
        s0 += buf[size_t(j)];
        s1 += buf[size_t(j + 1)];
        s2 += buf[size_t(j + 2)];
        s3 += buf[size_t(j + 3)];
      }
      for (; j < e; ++j) s0 += buf[size_t(j)];
      sums[size_t(b * 255 / int64_t(n))] += s0 + s1 + s2 + s3;
    });
  };
  run();
  const double t = best_time(5, run);
  return double(n * 8) / t / 1e9;
}

// STREAM-style copy (bytes read + written).
double copy_bandwidth_gbs() {
  const size_t n = size_t(1) << 28;
  std::vector<char> a(n, 1), b(n, 2);
  auto run = [&] {
    parallel_for(int64_t(n), [&](int64_t s, int64_t e) { std::memcpy(b.data() + s, a.data() + s, size_t(e - s)); });
  };
  run();
  return 2.0 * double(n) / best_time(5, run) / 1e9;
}

struct QCopies {
  std::vector<uint32_t> packed;
  std::vector<uint16_t> scales, biases;
  std::vector<QuantizedWeight> views;
  size_t bytes_per_copy = 0;
};

// `copies` random weights of [out, in] (random bits, bf16 scales/biases of realistic size).
QCopies make_quantized(int64_t out, int64_t in, int bits, int group, int copies) {
  QCopies q;
  const int64_t words = out * in * bits / 32, ng = out * (in / group);
  q.packed.resize(size_t(words * copies));
  q.scales.resize(size_t(ng * copies));
  q.biases.resize(size_t(ng * copies));
  std::mt19937 rng(1);
  for (auto& w : q.packed) w = rng();
  for (size_t i = 0; i < q.scales.size(); ++i) {
    q.scales[i] = f32_to_bf16(0.01f + 0.001f * float(i % 7));
    q.biases[i] = f32_to_bf16(-0.05f - 0.001f * float(i % 5));
  }
  for (int c = 0; c < copies; ++c)
    q.views.push_back(QuantizedWeight{q.packed.data() + c * words, q.scales.data() + c * ng, q.biases.data() + c * ng,
                                      DType::BF16, QuantMode::Affine, bits, group, out, in});
  q.bytes_per_copy = size_t(words * 4 + ng * 4);
  return q;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  size_t p = 0;
  while (p < s.size()) {
    size_t e = s.find(',', p);
    if (e == std::string::npos) e = s.size();
    v.push_back(std::stoi(s.substr(p, e - p)));
    p = e + 1;
  }
  return v;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// One 1024x2048 matvec in L2 on one thread, float vs integer activations (1 and 2 levels): best CPU time and the
// integer paths' largest error relative to Σ|w·x| (random normal x, so the rounding of x shows).
void kernel_microbench() {
  ThreadPool::global().set_num_threads(1);
  const int64_t out = 1024, in = 2048;
  std::vector<float> x(static_cast<size_t>(in));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& v : x) v = nd(rng);
  std::printf("%-26s %4s %11s %11s %11s %15s %15s\n", "kernel 1024x2048 g64 1thr", "bits", "f32 acts us",
              "q8 us", "q8x2 us", "q8 max rel err", "q8x2 max rel");
  for (int bits : {4, 8}) {
    QCopies q = make_quantized(out, in, bits, 64, 1);
    const QuantizedWeight& w = q.views[0];
    std::vector<std::vector<float>> y(3, std::vector<float>(static_cast<size_t>(out)));
    std::vector<float> deq(static_cast<size_t>(out * in));
    dequantize_rows(w, 0, out, deq.data());
    double us[3] = {1e30, 1e30, 1e30};
    for (int rep = 0; rep < 10; ++rep)  // interleaved, so that a busy moment hits every variant alike
      for (int levels = 0; levels < 3; ++levels) {
        const int saved = detail::set_q8_acts_levels(levels);
        for (int i = 0; i < 50; ++i) {
          const double t = thread_cpu_seconds();
          matmul(x.data(), 1, w, y[size_t(levels)].data());
          us[levels] = std::min(us[levels], (thread_cpu_seconds() - t) * 1e6);
        }
        detail::set_q8_acts_levels(saved);
      }
    double err[3] = {0, 0, 0};
    for (int64_t r = 0; r < out; ++r) {
      double mag = 0;
      for (int64_t j = 0; j < in; ++j) mag += std::fabs(double(deq[size_t(r * in + j)]) * x[size_t(j)]);
      for (int l = 1; l < 3; ++l)
        err[l] = std::max(err[l], std::fabs(double(y[size_t(l)][size_t(r)]) - y[0][size_t(r)]) / mag);
    }
    std::printf("%-26s %4d %11.1f %11.1f %11.1f %15.2e %15.2e\n", "", bits, us[0], us[1], us[2], err[1], err[2]);
  }
  // The same from DRAM: 16 copies of 8192x2048 in turn, CPU time per call (memory stalls count, other processes'
  // time does not), best of 4 interleaved rounds.
  std::printf("%-26s %4s %11s %11s %11s   (GB/s of weight bytes per core)\n", "DRAM 8192x2048 g64 1thr", "bits",
              "f32 acts us", "q8 us", "q8x2 us");
  for (int bits : {4, 8}) {
    const int copies = 16;
    QCopies q = make_quantized(8192, 2048, bits, 64, copies);
    std::vector<float> y(8192);
    double us[3] = {1e30, 1e30, 1e30};
    for (int rep = 0; rep < 4; ++rep)
      for (int levels = 0; levels < 3; ++levels) {
        const int saved = detail::set_q8_acts_levels(levels);
        const double t = thread_cpu_seconds();
        for (const auto& w : q.views) matmul(x.data(), 1, w, y.data());
        us[levels] = std::min(us[levels], (thread_cpu_seconds() - t) * 1e6 / copies);
        detail::set_q8_acts_levels(saved);
      }
    const double gb = double(q.bytes_per_copy) / 1e3;
    std::printf("%-26s %4d %11.0f %11.0f %11.0f   (%.1f / %.1f / %.1f)\n", "", bits, us[0], us[1], us[2], gb / us[0],
                gb / us[1], gb / us[2]);
  }
}

// Mean next-token NLL over `windows` windows of 512 tokens; prefill = whole windows, else one token per forward.
double mean_nll(Model& model, const std::vector<int32_t>& ids, int64_t windows, bool prefill,
                std::vector<double>* per_token) {
  const int64_t L = 512, vocab = model.info().vocab_size;
  std::vector<float> logits(size_t(L * vocab));
  double sum = 0;
  int64_t n = 0;
  for (int64_t w = 0; w < windows; ++w) {
    std::span<const int32_t> win(ids.data() + w * L, size_t(L));
    auto cache = model.make_cache();
    if (prefill) {
      model.forward(win.first(size_t(L - 1)), *cache, logits.data(), /*all_positions=*/true);
    } else {
      for (int64_t t = 0; t + 1 < L; ++t) model.forward(win.subspan(size_t(t), 1), *cache, logits.data() + t * vocab);
    }
    std::vector<double> nll(size_t(L - 1));
    runtime::token_nlls(logits.data(), vocab, win, nll.data());
    for (double v : nll) sum += v;
    n += L - 1;
    if (per_token) per_token->insert(per_token->end(), nll.begin(), nll.end());
  }
  return sum / double(n);
}

int decode_perplexity(const std::string& dir, int64_t windows) {
  auto model = Model::load(dir);
  fs::path text = fs::path(dir) / "heldout.txt";
  std::error_code ec;
  if (!fs::exists(text, ec) && !fs::exists(fs::path(text.string() + ".zst"), ec))
    text = fs::path(MLX_SOURCE_DIR) / "models/demo/heldout.txt";
  const std::vector<int32_t> ids = Tokenizer::load(dir).encode(read_file(text), /*add_special_tokens=*/false);
  windows = std::min<int64_t>(windows, int64_t(ids.size()) / 512);
  std::printf("%s: %lld windows of 512 tokens of %s, isa %s\n", dir.c_str(), (long long)windows,
              text.string().c_str(), detail::isa_name(detail::active_isa()));
  const int saved = detail::set_q8_acts_levels(0);
  const double pre = mean_nll(*model, ids, windows, true, nullptr);
  std::vector<double> tf;
  const double dec = mean_nll(*model, ids, windows, false, &tf);
  std::printf("perplexity: prefill %.4f | decode, float activations %.4f\n", std::exp(pre), std::exp(dec));
  for (int levels : {1, 2}) {
    detail::set_q8_acts_levels(levels);
    std::vector<double> tq;
    const double q8 = mean_nll(*model, ids, windows, false, &tq);
    double dmax = 0, dabs = 0;
    for (size_t i = 0; i < tf.size(); ++i) {
      dmax = std::max(dmax, std::fabs(tq[i] - tf[i]));
      dabs += std::fabs(tq[i] - tf[i]);
    }
    std::printf("decode, int8 activations x%d: %.4f (%+.3f %% vs float); per-token NLL |change| mean %.2e max %.2e\n",
                levels, std::exp(q8), 100.0 * (std::exp(q8 - dec) - 1.0), dabs / double(tf.size()), dmax);
  }
  detail::set_q8_acts_levels(saved);
  return 0;
}

struct Shape {
  const char* name;
  int64_t out, in;
};

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  bool quick = false, kernel_only = false;
  std::string ppl_dir;
  int64_t ppl_windows = 4;
  std::vector<int> threads = {1, 2};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--acts" && i + 1 < argc) {
      const std::string v = argv[++i];
      detail::set_q8_acts_levels(v == "f32" ? 0 : v == "q8" ? 1 : 2);
    }
    else if (a == "--kernel") kernel_only = true;
    else if (a == "--decode-ppl" && i + 1 < argc) ppl_dir = argv[++i];
    else if (a == "--windows" && i + 1 < argc) ppl_windows = std::stoll(argv[++i]);
    else if (a == "--isa" && i + 1 < argc) {
      std::string v = argv[++i];
      detail::set_isa(v == "scalar" ? detail::Isa::Scalar : v == "avx2" ? detail::Isa::Avx2 : detail::Isa::Avx512);
    } else if (a == "--threads" && i + 1 < argc) threads = parse_list(argv[++i]);
  }
  const Shape shapes[] = {{"q/o 2048x2048", 2048, 2048},
                          {"gate/up 8192x2048", 8192, 2048},
                          {"down 2048x8192", 2048, 8192},
                          {"lm_head 128256x2048", 128256, 2048}};
  if (!ppl_dir.empty()) return decode_perplexity(ppl_dir, ppl_windows);
  std::printf("isa: %s, activations: %s\n", detail::isa_name(detail::active_isa()),
              detail::q8_acts_levels() == 0 ? "float" : detail::q8_acts_levels() == 1 ? "int8 (q8)" : "int8x2 (q8x2)");
  // Only on request: its 300-450 MB of weight copies, allocated and freed just before, made the wall-clock decode
  // figures that follow up to 2x slower (measured: base vs float-acts runs with and without it, 08:37 UTC).
  if (kernel_only) {
    kernel_microbench();
    return 0;
  }

  for (int t : threads) {
    ThreadPool::global().set_num_threads(t);
    const double read_bw = read_bandwidth_gbs();
    std::printf("\n== %d thread%s: memory read %.1f GB/s, copy (r+w) %.1f GB/s\n", t, t > 1 ? "s" : "", read_bw,
                copy_bandwidth_gbs());
    std::printf("%-22s %5s %10s %10s %8s\n", "decode matvec m=1", "bits", "GB/s", "us/call", "copies");
    for (int bits : {4, 8}) {
      for (const Shape& s : shapes) {
        const size_t per_copy = size_t(s.out * s.in * bits / 8 + s.out * (s.in / 64) * 4);
        const int copies = int(std::max<size_t>(1, (size_t(quick ? 64 : 256) << 20) / per_copy));
        QCopies q = make_quantized(s.out, s.in, bits, 64, copies);
        std::vector<float> x(size_t(s.in), 0.5f), y(size_t(s.out));
        for (auto& w : q.views) matmul(x.data(), 1, w, y.data());  // warm-up, page faults
        const int rounds = quick ? 2 : 5;
        double best = 1e30;
        for (int r = 0; r < rounds; ++r) {
          auto t0 = Clock::now();
          for (auto& w : q.views) matmul(x.data(), 1, w, y.data());
          best = std::min(best, seconds_since(t0) / double(copies));
        }
        std::printf("%-22s %5d %10.2f %10.1f %8d\n", s.name, bits, double(q.bytes_per_copy) / best / 1e9, best * 1e6,
                    copies);
      }
    }
    // A whole decode step of Llama-3.2-1B's linear layers (16 x q,k,v,o,gate,up,down + tied lm_head): the weight
    // bytes one token reads, and how close the step gets to the bandwidth bound.
    for (int bits : {4, 8}) {
      const Shape layer[] = {{"q", 2048, 2048},    {"k", 512, 2048},    {"v", 512, 2048},   {"o", 2048, 2048},
                             {"gate", 8192, 2048}, {"up", 8192, 2048}, {"down", 2048, 8192}};
      std::vector<QCopies> ws;
      size_t bytes = 0;
      for (int l = 0; l < (quick ? 4 : 16); ++l)
        for (const Shape& s : layer) {
          ws.push_back(make_quantized(s.out, s.in, bits, 64, 1));
          bytes += ws.back().bytes_per_copy;
        }
      ws.push_back(make_quantized(128256, 2048, bits, 64, 1));
      bytes += ws.back().bytes_per_copy;
      std::vector<float> x(8192, 0.5f), y(128256);
      auto step = [&] {
        for (auto& q : ws) matmul(x.data(), 1, q.views[0], y.data());
      };
      step();
      const double t = best_time(quick ? 2 : 5, step);
      std::printf("decode step %s-layer 1B, %d-bit: %.2f ms, %.2f GB/s, %.1f tok/s (weights only; read-bandwidth bound %.1f)\n",
                  quick ? "4" : "16", bits, t * 1e3, double(bytes) / t / 1e9, 1.0 / t, read_bw / double(bytes) * 1e9);
    }
    const int64_t m = quick ? 128 : 512;
    std::printf("%-22s %5s %10s %10s\n", quick ? "prefill m=128" : "prefill m=512", "bits", "GFLOP/s", "ms/call");
    for (int bits : {4, 8, 16}) {
      for (const Shape& s : shapes) {
        if (s.out > 8192) continue;  // lm_head prefill is only the last position
        std::vector<float> x(size_t(m * s.in), 0.25f), y(size_t(m * s.out));
        double t_call;
        if (bits == 16) {
          std::vector<uint16_t> w(size_t(s.out * s.in), f32_to_bf16(0.01f));
          DenseWeight dw{w.data(), DType::BF16, s.out, s.in};
          matmul(x.data(), m, dw, y.data());
          t_call = best_time(quick ? 1 : 3, [&] { matmul(x.data(), m, dw, y.data()); });
        } else {
          QCopies q = make_quantized(s.out, s.in, bits, 64, 1);
          matmul(x.data(), m, q.views[0], y.data());
          t_call = best_time(quick ? 1 : 3, [&] { matmul(x.data(), m, q.views[0], y.data()); });
        }
        std::printf("%-22s %5s %10.1f %10.2f\n", s.name, bits == 16 ? "bf16" : std::to_string(bits).c_str(),
                    2.0 * double(m) * double(s.out * s.in) / t_call / 1e9, t_call * 1e3);
      }
    }
  }
  return 0;
}
