// sitesync-bench: sitesync's benchmarks, a program of their own beside `sitesync` (which holds
// no benchmark code). Each figure is measured beside the raw LMDB cost of the same work.
#include "tools/bench/bench_util.h"

int main(int argc, char** argv) {
  using namespace sitesync;
  CLI::App app{"sitesync-bench: sitesync's benchmarks (figures beside the raw LMDB cost)"};
  app.set_version_flag("--version", "sitesync-bench 0.1.0");
  bench::addLocalCommand(app);
  bench::addSyncCommand(app);
  bench::addTablesCommand(app);
  bench::addApiCommand(app);
  bench::addImportCommand(app);
  bench::addFilteredCommand(app);
  bench::addMirrorCommand(app);
  bench::addHubCommand(app);
  bench::addServeHubCommand(app);
  return cli::runCommandLine(app, "sitesync-bench", [&] {
    app.parse(argc, argv);
    cli::requireCommand(app, "sitesync-bench");
  });
}
