// sitesync: the command-line program. Each subcommand registers itself and runs from its
// callback; errors become one line on stderr and an exit status (2: bad usage or input, 1: other).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sitesync/cli.h"

namespace {

// The words of `sitesync help WORD...` name a command, each a subcommand of the one before.
void checkCommandPath(CLI::App& app, const std::vector<std::string>& words) {
  CLI::App* at = &app;
  for (const std::string& word : words) {
    auto found = at->get_subcommands([&](CLI::App* c) { return c->get_name() == word; });
    if (found.empty())
      throw sitesync::cli::UsageError("no command '" + word + "' in '" +
                                      (at == &app ? std::string("sitesync") : at->get_name()) +
                                      "' (see sitesync help)");
    at = found.front();
  }
}

// `serve --config FILE`: the file's settings go in as if typed right after `serve`, each unless
// the command line names that option itself (the flags win).
void mergeConfigFile(CLI::App& app, std::vector<std::string>& words) {
  auto serve = std::find(words.begin() + 1, words.end(), "serve");
  if (serve == words.end() || (serve - words.begin() >= 2 && *(serve - 1) == "--key-file")) return;
  std::string path;
  for (auto it = serve + 1; it != words.end(); ++it) {
    if (*it == "--config" && it + 1 != words.end()) path = *(it + 1);
    if (it->rfind("--config=", 0) == 0) path = it->substr(9);
  }
  if (path.empty()) return;
  const std::vector<std::string> given(serve + 1, words.end());
  sitesync::cli::serveCommandLine() = given;
  const auto fromFile = sitesync::cli::configArguments(*app.get_subcommand("serve"), path, given);
  words.insert(serve + 1, fromFile.begin(), fromFile.end());
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
  cli::addConfigCommands(app);
  cli::addBackupCommands(app);
  cli::addDoctorCommands(app);
  cli::addMirrorCommands(app);
  app.footer("`sitesync help [COMMAND...]` or `sitesync COMMAND... --help`: a command's options.");
  // `sitesync help [COMMAND...]` is `sitesync [COMMAND...] --help`.
  std::vector<std::string> words(argv, argv + argc);
  const bool helpCommand = words.size() >= 2 && words[1] == "help";
  if (helpCommand) {
    words.erase(words.begin() + 1);
    words.push_back("--help");
  }
  return cli::runCommandLine(app, "sitesync", [&] {
    if (helpCommand) checkCommandPath(app, {words.begin() + 1, words.end() - 1});
    mergeConfigFile(app, words);
    std::vector<char*> args;
    for (auto& word : words) args.push_back(word.data());
    app.parse(int(args.size()), args.data());
    cli::requireCommand(app, "sitesync");
  });
}
