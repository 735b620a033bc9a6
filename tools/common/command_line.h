// What the `sitesync` and `sitesync-bench` commands share: their two kinds of failure, the exit
// status each becomes, and JSON output.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

#include "protocol/protocol.h"

namespace sitesync::cli {

// Bad usage or input: exit status 2. Any other failure is exit status 1.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws UsageError or Failure for a failed status (input problems are usage errors).
void check(const Status& status);
template <typename T>
T take(Result<T> result) {
  check(result.status());
  return std::move(result.value());
}

void printJson(const nlohmann::json& j);

// A command group given without its command (`sitesync customer`): a UsageError saying which
// ones exist. (Checked after parsing rather than with require_subcommand, so that an unknown
// command is named.)
void requireCommand(CLI::App& app, const std::string& program);

// Runs `parseAndRun` (which parses the command line with `app`, running the command) and returns
// the exit status: 0; 2 for bad usage or input; 1 for any other failure. A failure is one line
// on stderr, "PROGRAM: what"; help and version requests print what `app` makes of them.
int runCommandLine(CLI::App& app, const std::string& program,
                   const std::function<void()>& parseAndRun);

}  // namespace sitesync::cli
