// `sitesync mirror status`: how far the PostgreSQL mirror of `serve --postgres` is behind the
// store's log. serve records the DSN in the data directory (mirror.dsn, owner-only), so that
// the status needs only --data; --postgres names another database.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "mirror/mirror.h"
#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

std::filesystem::path dsnFile(const std::string& dataDir) {
  return std::filesystem::path(dataDir) / "mirror.dsn";
}

struct MirrorArgs {
  std::string data;
  std::string postgres;
  bool json = false;
};

std::string recordedDsn(const std::string& dataDir) {
  std::ifstream in(dsnFile(dataDir));
  std::string dsn;
  if (!in || !std::getline(in, dsn) || dsn.empty())
    throw UsageError("no PostgreSQL mirror is configured for " + dataDir +
                     " (run `sitesync serve --postgres DSN`, or give --postgres DSN)");
  return dsn;
}

void statusCommand(const MirrorArgs& a) {
  auto site = openSite(a.data);
  const std::string dsn = a.postgres.empty() ? recordedDsn(a.data) : a.postgres;
  mirror::MirrorState s;
  try {
    s = mirror::mirrorState(*site->engine, dsn);
  } catch (const mirror::MirrorError& e) {
    throw Failure(e.what());
  }
  const double lag = s.behind() ? s.secondsSinceUpdate : 0;
  if (a.json) {
    printJson({{"postgres", mirror::shownDsn(dsn)},
               {"started", s.started},
               {"mirrored_position", s.mirrored},
               {"log_position", s.logEnd},
               {"behind_changes", s.behind()},
               {"updated_at", s.started ? nlohmann::json(s.updatedAt) : nlohmann::json(nullptr)},
               {"lag_seconds", lag}});
    return;
  }
  std::cout << "mirror: " << mirror::shownDsn(dsn) << "\n";
  if (!s.started) {
    std::cout << "not started: PostgreSQL holds nothing of this site yet (log position " << s.logEnd
              << ")\n";
    return;
  }
  std::cout << "mirrored up to log position " << s.mirrored << " of " << s.logEnd << " ("
            << s.behind() << " changes behind)\n"
            << "last commit " << s.updatedAt << " (" << int64_t(s.secondsSinceUpdate)
            << " s ago); lag " << int64_t(lag) << " s\n";
}

}  // namespace

void recordMirrorDsn(const std::string& dataDir, const std::string& dsn) {
  const auto path = dsnFile(dataDir);
  const auto temporary = path.string() + ".new";
  {
    const mode_t before = ::umask(077);  // the DSN may hold a password
    std::ofstream out(temporary, std::ios::trunc);
    ::umask(before);
    out << dsn << "\n";
    if (!out.flush()) throw Failure("cannot write " + temporary);
  }
  std::filesystem::rename(temporary, path);
}

void addMirrorCommands(CLI::App& app) {
  auto* mirrorCommand =
      app.add_subcommand("mirror", "the PostgreSQL mirror of a hub (serve --postgres DSN)");
  mirrorCommand->require_subcommand(1);
  auto a = std::make_shared<MirrorArgs>();
  auto* status = mirrorCommand->add_subcommand(
      "status", "how far the mirror is behind this node's log, in changes and seconds");
  status->add_option("--data", a->data, "data directory")->required();
  status->add_option("--postgres", a->postgres,
                     "the mirror's database (default: the DSN serve --postgres recorded)");
  status->add_flag("--json", a->json, "print JSON");
  status->callback([a] { statusCommand(*a); });
}

}  // namespace sitesync::cli
