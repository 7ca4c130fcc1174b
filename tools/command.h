// Subcommand registry: each tools/cmd_<name>.cpp registers itself with a static RegisterCommand.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace mlx::cli {

// What a subcommand does once its flags are parsed; returns the process exit code.
using Runner = std::function<int()>;
// Adds the subcommand's flags to `app` and returns the runner that will read them.
using Setup = std::function<Runner(CLI::App& app)>;

struct CommandSpec {
  std::string name;
  std::string description;
  Setup setup;
};

std::vector<CommandSpec>& registered_commands();

struct RegisterCommand {
  RegisterCommand(std::string name, std::string description, Setup setup) {
    registered_commands().push_back({std::move(name), std::move(description), std::move(setup)});
  }
};

}  // namespace mlx::cli
