// `sitesync doctor`: checks a store's tables against each other (sync/store_checks.h) and, with
// --repair, rebuilds what can be derived. Exit 0 when the store is sound (or was repaired), 1
// when something is still wrong.
#include <filesystem>
#include <iostream>

#include "sync/store_checks.h"
#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct DoctorArgs {
  std::string data;
  bool repair = false;
  bool json = false;
};

const char* verdict(const sync::StoreFinding& f) {
  return f.repaired     ? "repaired"
         : f.ok         ? "ok"
         : f.repairable ? "FAILED (--repair rebuilds it)"
                        : "FAILED";
}

void doctorCommand(const DoctorArgs& a) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(a.data) / "data.mdb", ec))
    throw UsageError("'" + a.data + "' is not a sitesync data directory");
  storage::Options options;
  options.readOnly = !a.repair;
  auto store = storage::Store::open(a.data, options);
  if (!sync::Engine::isInitialized(*store)) throw UsageError("'" + a.data + "' holds no site");
  const sync::StoreCheckReport report = sync::checkStore(*store, a.repair);
  size_t failed = 0;
  for (const auto& f : report.findings) failed += !f.ok && !f.repaired;
  if (a.json) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& f : report.findings)
      checks.push_back({{"check", f.check},
                        {"ok", f.ok},
                        {"detail", f.detail},
                        {"repairable", f.repairable},
                        {"repaired", f.repaired}});
    printJson({{"healthy", report.healthy()}, {"problems", failed}, {"checks", checks}});
  } else {
    for (const auto& f : report.findings)
      std::cout << f.check << ": " << verdict(f) << ": " << f.detail << "\n";
  }
  if (failed == 0) return;
  bool repairable = false;
  for (const auto& f : report.findings) repairable |= !f.ok && !f.repaired && f.repairable;
  throw Failure("the store in " + a.data + " failed " + std::to_string(failed) + " check" +
                (failed == 1 ? "" : "s") +
                (repairable
                     ? ": run `sitesync doctor --data " + a.data + " --repair` (with serve stopped)"
                     : ": what is wrong is not derived from other tables; restore the "
                       "site from a backup (`sitesync restore`) or join it again"));
}

}  // namespace

void addDoctorCommands(CLI::App& app) {
  auto a = std::make_shared<DoctorArgs>();
  auto* doctor = app.add_subcommand(
      "doctor", "check a store: indexes, counters, log, history, signatures; --repair rebuilds");
  doctor->add_option("--data", a->data, "data directory")->required();
  doctor->add_flag("--repair", a->repair,
                   "rebuild the indexes, the change index and the counters from the records and "
                   "the log (stop serve first)");
  doctor->add_flag("--json", a->json, "JSON output");
  doctor->callback([a] { doctorCommand(*a); });
}

}  // namespace sitesync::cli
