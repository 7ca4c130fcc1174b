// Terminal progress for long conversions (redrawn at most ten times a second).
#include "convert/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace mlx::convert {

ProgressBar::ProgressBar(bool enabled) : enabled_(enabled && ::isatty(2)) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
  enabled_ = false;
}

void ProgressBar::update(const Progress& p) {
  if (!enabled_) return;
  const bool done = p.tensors_done == p.tensors_total;
  if (!done && p.seconds - last_ < 0.1) return;
  last_ = p.seconds;
  const double frac = p.bytes_total ? double(p.bytes_done) / double(p.bytes_total) : 1.0;
  const int width = 30, fill = int(frac * width);
  const double rate = p.seconds > 0 ? double(p.bytes_done) / p.seconds : 0;
  const double eta = rate > 0 ? double(p.bytes_total - p.bytes_done) / rate : 0;
  std::string bar(size_t(fill), '#');
  bar.append(size_t(width - fill), ' ');
  std::fprintf(stderr, "\r[%s] %zu/%zu tensors  %.2f/%.2f GB  %.2f GB/s  ETA %.0fs ", bar.c_str(), p.tensors_done,
               p.tensors_total, double(p.bytes_done) / 1e9, double(p.bytes_total) / 1e9, rate / 1e9, eta);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace mlx::convert
