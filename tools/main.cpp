// The `mlx` binary: dispatches to the self-registered subcommands and maps errors to exit codes
// (1 = bad input, 2 = bad usage), always as one line on stderr.
#include <algorithm>
#include <cstdio>
#include <map>

#include "command.h"
#include "core/error.h"

namespace mlx::cli {
std::vector<CommandSpec>& registered_commands() {
  static std::vector<CommandSpec> commands;
  return commands;
}
}  // namespace mlx::cli

int main(int argc, char** argv) {
  using namespace mlx::cli;
  CLI::App app{"mlx: convert, quantize and run MLX-format language models on Linux"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mlx 0.1.0");

  auto& commands = registered_commands();
  std::sort(commands.begin(), commands.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::map<CLI::App*, Runner> runners;
  try {
    for (auto& c : commands) {
      CLI::App* sub = app.add_subcommand(c.name, c.description);
      runners[sub] = c.setup(*sub);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }

  for (auto& [sub, run] : runners) {
    if (!sub->parsed()) continue;
    try {
      return run();
    } catch (const mlx::UsageError& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 2;
    } catch (const mlx::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "error: out of memory\n");
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  return 2;
}
