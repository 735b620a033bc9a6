// Errors, exit statuses and JSON output of the `sitesync` and `sitesync-bench` commands.
#include "tools/common/command_line.h"

#include <iostream>

namespace sitesync::cli {

void check(const Status& status) {
  if (status.isOk()) return;
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
      throw UsageError(status.message());
    default:
      throw Failure(status.message());
  }
}

void printJson(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void requireCommand(CLI::App& app, const std::string& program) {
  const CLI::App* command = &app;
  while (!command->get_subcommands().empty()) command = command->get_subcommands().front();
  // Hidden commands (no group) are not offered.
  auto choices = const_cast<CLI::App*>(command)->get_subcommands(
      [](CLI::App* c) { return !c->get_group().empty(); });
  if (choices.empty()) return;
  std::string names;
  for (auto* c : choices) names += (names.empty() ? "" : ", ") + c->get_name();
  std::string what = command == &app ? program : command->get_name();
  throw UsageError(what + " needs a command: " + names + " (see --help)");
}

int runCommandLine(CLI::App& app, const std::string& program,
                   const std::function<void()>& parseAndRun) {
  try {
    parseAndRun();
    return 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (auto& ch : msg)
      if (ch == '\n') ch = ' ';
    std::cerr << program << ": " << msg << " (see --help)\n";
    return 2;
  } catch (const UsageError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sitesync::cli
