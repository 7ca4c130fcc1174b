// A one-line progress bar on stderr (tensors, bytes, rate, ETA), drawn only when stderr is a terminal.
#pragma once
#include "convert/pipeline.h"

namespace mlx::convert {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled);  // enabled && isatty(stderr)
  ~ProgressBar();                      // ends the line if one was drawn
  void update(const Progress& p);
  void finish();  // ends the line if one was drawn; idempotent

 private:
  bool enabled_ = false;
  bool drawn_ = false;
  double last_ = -1;
};

}  // namespace mlx::convert
