// Stop strings on streamed text: text that completes a stop string is never printed, and text that might be the
// start of one is held back until the next piece decides it.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mlx::runtime {

class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stops = {});

  struct Result {
    std::string text;      // safe to print now
    bool stopped = false;  // a stop string completed; `text` is everything before it
  };

  // Feeds the next decoded piece.
  Result push(std::string_view piece);
  // End of generation without a stop string: the held-back text is released.
  std::string flush();
  bool empty() const { return stops_.empty(); }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace mlx::runtime
