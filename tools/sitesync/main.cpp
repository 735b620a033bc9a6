// sitesync: the command-line program. Each subcommand registers itself and runs from its
// callback; errors become one line on stderr and an exit status (2: bad usage or input, 1: other).
#include <string>
#include <string_view>
#include <vector>

#include "tools/sitesync/cli.h"

namespace {

// The words of `sitesync help WORD...` name a command, each a subcommand of the one before.
void checkCommandPath(CLI::App& app, const std::vector<char*>& words) {
  CLI::App* at = &app;
  for (const char* word : words) {
    auto found = at->get_subcommands([&](CLI::App* c) { return c->get_name() == word; });
    if (found.empty())
      throw sitesync::cli::UsageError("no command '" + std::string(word) + "' in '" +
                                      (at == &app ? std::string("sitesync") : at->get_name()) +
                                      "' (see sitesync help)");
    at = found.front();
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sitesync;
  CLI::App app{"sitesync: offline-first, multi-site customer register"};
  // What an operator needs to tell which nodes talk to which stores: the release, the protocol
  // it speaks (peers must speak the same) and the store format it writes.
  app.set_version_flag("--version", std::string("sitesync ") + SITESYNC_VERSION + " (protocol " +
                                        std::to_string(kProtocolVersion) + ", store format " +
                                        std::to_string(kStoreFormatVersion) + ")");
  // Every command may name the key of an encrypted store, after its own name too.
  app.add_option("--key-file", cli::atRestKeyFile(),
                 "the deployment key of an encrypted store (64 hex digits; or SITESYNC_KEY_FILE)")
      ->envname("SITESYNC_KEY_FILE");
  app.fallthrough();
  cli::addSiteCommands(app);
  cli::addCustomerCommands(app);
  cli::addConflictCommands(app);
  cli::addNumberCommands(app);
  cli::addNodeCommands(app);
  cli::addKeyCommands(app);
  cli::addFieldCommands(app);
  cli::addRecordCommands(app);
  cli::addCatalogueCommands(app);
  cli::addUserCommands(app);
  app.footer("`sitesync help [COMMAND...]` or `sitesync COMMAND... --help`: a command's options.");
  // `sitesync help [COMMAND...]` is `sitesync [COMMAND...] --help`.
  std::vector<char*> args(argv, argv + argc);
  std::string helpFlag = "--help";
  const bool helpCommand = args.size() >= 2 && std::string_view(args[1]) == "help";
  if (helpCommand) {
    args.erase(args.begin() + 1);
    args.push_back(helpFlag.data());
  }
  return cli::runCommandLine(app, "sitesync", [&] {
    if (helpCommand) checkCommandPath(app, {args.begin() + 1, args.end() - 1});
    app.parse(int(args.size()), args.data());
    cli::requireCommand(app, "sitesync");
  });
}
