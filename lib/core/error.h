// Errors: bad input (exit 1) and bad usage (exit 2), each a one-line message naming the file and the problem.
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace mlx {

// A problem with the user's input (a file, a model, a prompt): the command exits with code 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A problem with how the command was called (flags, combinations): the command exits with code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void usage_fail(fmt::format_string<Args...> format, Args&&... args) {
  throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace mlx
