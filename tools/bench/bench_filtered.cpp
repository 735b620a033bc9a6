// `sitesync-bench filtered`: field laptops (docs/filtered-sync.md) against a hub served by a
// process of its own on tcp://127.0.0.1: a laptop filtered to one technician's customers joins,
// catches up after edits at the hub of which few are its own, and many laptops catch up at once
// (the hub's CPU and memory per laptop).
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "node/node.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/hub_process.h"
#include "tools/bench/sync_cases.h"

namespace sitesync::bench {

namespace {

struct FilteredArgs {
  std::string data;
  uint64_t customers = 1000000;
  uint64_t assigned = 2000;      // customers of the measured technician
  uint64_t edits = 10000;        // hub edits before the catch-up
  uint64_t editsInFilter = 100;  // of which to the technician's customers
  uint64_t laptops = 100;        // laptops catching up at once
  bool json = false;
};

sync::Edit assign(const std::string& technician) {
  return sync::Edit{kTechnicianCode, technician, "true"};
}

// `count` updates, one transaction: the same edit to each customer.
void updateAll(sync::Engine& engine, const std::vector<RecordId>& ids, const sync::Edit& edit) {
  std::vector<sync::LocalOp> ops;
  for (RecordId id : ids)
    ops.push_back(sync::LocalOp{sync::LocalOp::Kind::kUpdate, id, {edit}, "bench", {}});
  for (const auto& r : engine.submit(ops)) check(r.status);
}

// A fresh laptop filtered to `technician`.
std::unique_ptr<BenchNode> laptop(const std::filesystem::path& dir, const std::string& technician) {
  auto node = std::make_unique<BenchNode>(dir, "laptop", false, Signatures::kChecked);
  auto filter = parseRecordFilter({"technician=" + technician});
  check(filter.status());
  check(node->engine->setFilter(*filter));
  return node;
}

uint64_t fileBytes(const std::filesystem::path& dir) {
  return std::filesystem::file_size(dir / "data.mdb");
}

void benchFiltered(const FilteredArgs& args) {
  namespace fs = std::filesystem;
  const fs::path root = args.data;
  fs::remove_all(root);
  nlohmann::json result = {{"hub_customers", args.customers}};
  std::vector<RecordId> ids;
  {
    BenchNode hub(root / "hub", "hub", true, Signatures::kChecked);
    Generator gen(7);
    ids = createCustomers(*hub.engine, gen, args.customers);
    for (uint64_t t = 0; t <= args.laptops; ++t)
      check(hub.engine->addApiUser(
          ApiUser{"tech" + std::to_string(t), "technician", std::string(64, 'a'), {}}, "bench"));
    // tech0 serves `assigned` customers spread over the register; tech1.. 20 each.
    std::vector<RecordId> mine;
    for (uint64_t i = 0; i < args.assigned; ++i)
      mine.push_back(ids[i * (ids.size() / args.assigned)]);
    updateAll(*hub.engine, mine, assign("tech0"));
    for (uint64_t t = 1; t <= args.laptops; ++t) {
      std::vector<RecordId> theirs;
      for (uint64_t i = 0; i < 20; ++i) theirs.push_back(ids[(t * 7919 + i * 104729) % ids.size()]);
      updateAll(*hub.engine, theirs, assign("tech" + std::to_string(t)));
    }
  }
  HubProcess served((root / "hub").string(), Signatures::kChecked);

  // 1. The join of tech0's laptop.
  auto measured = laptop(root / "laptop", "tech0");
  auto start = Clock::now();
  const node::BootstrapReport joined = node::bootstrapFrom(*measured->engine, served.endpoint());
  node::syncWith(*measured->engine, served.endpoint());
  result["join"] = {{"seconds", secondsSince(start)},
                    {"records", joined.records},
                    {"store_mb", double(fileBytes(root / "laptop")) / 1e6}};

  // 2. Catch-up after edits at the hub, few of them to tech0's customers.
  const auto editAtHub = [&](const std::vector<RecordId>& inFilter, const std::string& value) {
    auto store = storage::Store::open((root / "hub").string(), storage::Options{uint64_t(4) << 30});
    sync::SystemClock clock;
    sync::Engine hub(*store, clock);
    std::vector<RecordId> elsewhere;
    for (uint64_t i = 0; elsewhere.size() < args.edits - args.editsInFilter; ++i)
      if (i % (ids.size() / args.assigned) != 0) elsewhere.push_back(ids[i]);
    // A value no customer has yet: every edit is a change.
    const sync::Edit edit{uint16_t(CustomerField::email), {}, value + "@catch-up.example"};
    updateAll(hub, elsewhere, edit);
    updateAll(hub, inFilter, edit);
  };
  std::vector<RecordId> tech0Edits;
  for (uint64_t i = 0; i < args.editsInFilter; ++i)
    tech0Edits.push_back(ids[i * (ids.size() / args.assigned)]);
  editAtHub(tech0Edits, "first");
  start = Clock::now();
  const node::SyncReport caughtUp = node::syncWith(*measured->engine, served.endpoint());
  result["catch_up"] = {{"seconds", secondsSince(start)},
                        {"hub_edits", args.edits},
                        {"in_filter", args.editsInFilter},
                        {"records_received", caughtUp.received},
                        {"bytes_received", caughtUp.bytesReceived}};

  // 3. Many laptops (20 customers each) join; the hub makes the same edits again, and one to
  // each laptop's customers; then they all catch up at once.
  std::vector<std::unique_ptr<BenchNode>> others;
  std::vector<RecordId> oneEach;
  for (uint64_t t = 1; t <= args.laptops; ++t) {
    others.push_back(laptop(root / ("laptop" + std::to_string(t)), "tech" + std::to_string(t)));
    node::bootstrapFrom(*others.back()->engine, served.endpoint());
    oneEach.push_back(ids[(t * 7919) % ids.size()]);
  }
  editAtHub(oneEach, "second");
  const double cpuBefore = served.cpuSeconds();
  start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& node : others)
    threads.emplace_back([&] { node::syncWith(*node->engine, served.endpoint()); });
  for (auto& t : threads) t.join();
  const double hubCpu = served.cpuSeconds() - cpuBefore;
  result["laptops_at_once"] = {{"laptops", args.laptops},
                               {"hub_edits_before", args.edits - args.editsInFilter + args.laptops},
                               {"seconds", secondsSince(start)},
                               {"hub_cpu_seconds", hubCpu},
                               {"hub_cpu_ms_per_laptop", hubCpu * 1000 / double(args.laptops)},
                               {"hub_peak_rss_mb", served.peakRssAnonMb()}};
  if (args.json) return printJson(result);
  std::cout << "laptop of " << args.assigned << " of " << args.customers << " customers: join "
            << result["join"]["seconds"] << " s, store " << result["join"]["store_mb"]
            << " MB; catch-up after " << args.edits << " hub edits (" << args.editsInFilter
            << " its own): " << result["catch_up"]["records_received"] << " records in "
            << result["catch_up"]["seconds"] << " s; " << args.laptops
            << " laptops catching up at once: hub CPU " << hubCpu << " s, peak "
            << served.peakRssAnonMb() << " MB\n";
}

}  // namespace

void addFilteredCommand(CLI::App& app) {
  auto a = std::make_shared<FilteredArgs>();
  auto* cmd = app.add_subcommand(
      "filtered", "field laptops: a filtered join, catch-up, and many laptops at once");
  cmd->add_option("--data", a->data, "scratch directory (emptied first)")->required();
  cmd->add_option("--customers", a->customers, "customers at the hub (default 1000000)");
  cmd->add_option("--assigned", a->assigned, "customers of the measured laptop (default 2000)");
  cmd->add_option("--edits", a->edits, "hub edits before the catch-up (default 10000)");
  cmd->add_option("--edits-in-filter", a->editsInFilter,
                  "of which to the laptop's customers (default 100)");
  cmd->add_option("--laptops", a->laptops, "laptops catching up at once (default 100)");
  cmd->add_flag("--json", a->json, "print the figures as one JSON object");
  cmd->callback([a] {
    if (a->assigned == 0 || a->assigned > a->customers || a->editsInFilter > a->assigned ||
        a->editsInFilter > a->edits || a->customers < 100)
      throw UsageError(
          "need 100 <= customers, 0 < assigned <= customers, edits-in-filter <= "
          "assigned and <= edits");
    benchFiltered(*a);
  });
}

}  // namespace sitesync::bench
