// sitesync: the command-line program. Each subcommand registers itself and runs from its
// callback; errors become one line on stderr and an exit status (2: bad usage or input, 1: other).
#include <cstdio>
#include <iostream>

#include "tools/sitesync/cli.h"

int main(int argc, char** argv) {
  using namespace sitesync;
  CLI::App app{"sitesync: offline-first, multi-site customer register"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sitesync 0.1.0");
  cli::addSiteCommands(app);
  cli::addCustomerCommands(app);
  cli::addBenchCommands(app);
  try {
    app.parse(argc, argv);
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
    std::cerr << "sitesync: " << msg << " (see --help)\n";
    return 2;
  } catch (const cli::UsageError& e) {
    std::cerr << "sitesync: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "sitesync: " << e.what() << "\n";
    return 1;
  }
}
