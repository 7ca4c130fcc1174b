// Reading the user's lines for `mlx chat`: libedit line editing and history on a terminal (arrow keys, Ctrl-R),
// plain reads from a pipe.
#pragma once
#include <optional>
#include <string>

namespace mlx::runtime {

class LineReader {
 public:
  explicit LineReader(bool interactive);
  ~LineReader();

  enum class Status { Line, Interrupted, End };
  struct Result {
    Status status = Status::End;
    std::string text;
  };
  // One line (without the newline). Interrupted = Ctrl-C at the prompt (the line is discarded); End = Ctrl-D / EOF.
  Result read(const std::string& prompt);
  // Adds an entry to the editing history (interactive only).
  void remember(const std::string& line);
  bool interactive() const { return interactive_; }

 private:
  bool interactive_;
};

}  // namespace mlx::runtime
