// `sitesync-bench mirror`: the hub's PostgreSQL mirror (mirror/mirror.h) against a database the
// caller names: the first mirror of a hub of N customers by COPY, then live changes, each timed
// from the write at the hub until a query in PostgreSQL sees it.
#include <libpq-fe.h>

#include <filesystem>
#include <iostream>

#include "mirror/mirror.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/sync_cases.h"

namespace sitesync::bench {

namespace {

struct MirrorArgs {
  std::string data;
  std::string postgres;
  uint64_t customers = 1000000;
  size_t live = 200;  // live changes timed one after the other
  bool json = false;
};

// A second connection, as a report reading the mirror would have.
class Reader {
 public:
  explicit Reader(const std::string& dsn) : c_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(c_) != CONNECTION_OK)
      throw Failure(std::string("cannot connect to PostgreSQL: ") + PQerrorMessage(c_));
  }
  ~Reader() { PQfinish(c_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  bool hasCustomer(const std::string& id) {
    const char* values[] = {id.c_str()};
    PGresult* r = PQexecParams(c_, "SELECT 1 FROM customers WHERE id = $1", 1, nullptr, values,
                               nullptr, nullptr, 0);
    const bool found = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    return found;
  }

 private:
  PGconn* c_;
};

void benchMirror(const MirrorArgs& args) {
  namespace fs = std::filesystem;
  fs::remove_all(args.data);
  BenchNode hub(fs::path(args.data) / "hub", "hub", true, Signatures::kChecked);
  Generator gen(7);
  createCustomers(*hub.engine, gen, args.customers);

  const auto copyStart = Clock::now();
  mirror::MirrorPass pass;
  try {
    pass = mirror::mirrorOnce(*hub.engine, args.postgres);
  } catch (const mirror::MirrorError& e) {
    throw Failure(e.what());
  }
  const double copySeconds = secondsSince(copyStart);

  std::vector<double> latencyUs;
  {
    std::atomic<bool> failed{false};
    mirror::Mirror running(*hub.engine, args.postgres, [&](const std::string& line) {
      if (line.find("failed") != std::string::npos) failed = true;
      std::cerr << line << "\n";
    });
    Reader reader(args.postgres);
    for (size_t i = 0; i < args.live && !failed; ++i) {
      const auto start = Clock::now();
      auto made = hub.engine->submit({createOp(gen.customer(args.customers + i))});
      check(made.at(0).status);
      const std::string id = made.at(0).id.toString();
      while (!reader.hasCustomer(id)) {
        if (secondsSince(start) > 30) throw Failure("a live change was not mirrored in 30 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      latencyUs.push_back(secondsSince(start) * 1e6);
    }
    if (failed) throw Failure("the mirror failed while live changes were timed (see above)");
  }
  const auto live = percentiles(latencyUs);
  const nlohmann::json result = {{"customers", pass.customers},
                                 {"copy_seconds", copySeconds},
                                 {"copy_customers_per_s", double(pass.customers) / copySeconds},
                                 {"live_changes", latencyUs.size()},
                                 {"live_p50_ms", live.p50 / 1000},
                                 {"live_p99_ms", live.p99 / 1000}};
  if (args.json) {
    printJson(result);
    return;
  }
  std::printf("first mirror: %llu customers by COPY in %.1f s (%.0f/s)\n",
              (unsigned long long)pass.customers, copySeconds, pass.customers / copySeconds);
  std::printf("live: %zu changes, visible in PostgreSQL after p50 %.0f ms, p99 %.0f ms\n",
              latencyUs.size(), live.p50 / 1000, live.p99 / 1000);
}

}  // namespace

void addMirrorCommand(CLI::App& app) {
  auto a = std::make_shared<MirrorArgs>();
  auto* cmd = app.add_subcommand(
      "mirror", "the PostgreSQL mirror: a hub's first copy, then live changes until visible");
  cmd->add_option("--data", a->data, "scratch directory (emptied first)")->required();
  cmd->add_option("--postgres", a->postgres, "the database to mirror into (libpq DSN)")->required();
  cmd->add_option("--customers", a->customers, "customers at the hub (default 1000000)");
  cmd->add_option("--live", a->live, "live changes timed (default 200)");
  cmd->add_flag("--json", a->json, "print the figures as one JSON object");
  cmd->callback([a] { benchMirror(*a); });
}

}  // namespace sitesync::bench
