// `sitesync-bench sync`: replication figures over tcp://127.0.0.1 with real LMDB stores, each
// beside the raw LMDB cost of the same data measured in the same run. The bulk and catch-up go
// from a branch in this process to a hub in its own (hub_process.h); the other cases are in
// sync_cases.cpp.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>

#include "node/node.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/hub_process.h"
#include "tools/bench/sync_cases.h"

namespace sitesync::bench {

namespace {

struct SyncArgs {
  std::string data;
  uint64_t customers = 1000000;
  size_t edits = 1000;
  size_t liveEdits = 1000;
  size_t fanInBranches = 0;  // 0: skip the fan-in case
  uint64_t fanInChanges = 20000;
  uint64_t conflictCustomers = 100000;  // 0: skip the conflicting case
  size_t conflictEdits = 20000;
  bool curve = false;  // bulk and catch-up over CURVE (both sides allow each other)
  bool json = false;
  bool unchecked = false;  // receivers skip signature checks: what verification costs
  size_t batchChanges = node::SyncOptions{}.batchChanges;  // per batch of the bulk and catch-up
  Signatures signatures() const { return unchecked ? Signatures::kSkipped : Signatures::kChecked; }
};

struct SyncFigures {
  node::SyncReport bulk, catchUp;
  double setupPeakMb = 0;
  double bulkSeconds = 0, bulkAckedSeconds = 0, bulkRate = 0, hubWrittenMb = 0, rawRate = 0;
  double catchUpMs = 0, catchUpAppliedMs = 0, bytesPerField = 0, wireVsPayload = 0;
  double fanIn = 0;
  ConflictFigures conflict;
  Percentiles live;
  double liveMaxUs = 0;
  double hubPeakMb = 0, peakMb = 0;
};

using Log = std::function<void(const std::string&)>;

// The bulk: every customer of the branch into the empty hub, until durable and indexed there.
void timeBulk(BenchNode& branch, BenchNode& hub, HubProcess& server,
              const node::SyncOptions& options, SyncFigures& f) {
  ::sync();  // the branch's setup writes are not the bulk's to flush
  const uint64_t writtenBefore = server.bytesWritten();
  const auto start = Clock::now();
  f.bulk = node::syncWith(*branch.engine, server.endpoint(), options);
  f.bulkAckedSeconds = double(f.bulk.acknowledgedAfter.count()) / 1e6;
  waitUntilHeld(*hub.engine, branch.engine->status().vector);
  f.bulkSeconds = secondsSince(start);
  f.bulkRate = double(f.bulk.sent) / f.bulkSeconds;
  f.hubWrittenMb = double(server.bytesWritten() - writtenBefore) / (1 << 20);
  if (hub.engine->digestHex() != branch.engine->digestHex())
    throw Failure("bench: hub and branch digests differ after the bulk sync");
}

double rawRateOf(const storage::Store& store, const std::filesystem::path& rawDir) {
  const RawInput raw = collectRawInput(store);
  std::filesystem::remove_all(rawDir);
  std::filesystem::create_directories(rawDir);
  const double rate = rawLmdbRate(rawDir.string(), raw, 100000);
  std::filesystem::remove_all(rawDir);
  return rate;
}

// The catch-up: `count` offline edits of random customers' phones at the branch, then a sync.
void timeCatchUp(BenchNode& branch, BenchNode& hub, HubProcess& server,
                 const node::SyncOptions& options, const std::vector<RecordId>& ids, size_t count,
                 SyncFigures& f) {
  std::mt19937_64 rng(9);
  std::vector<sync::LocalOp> edits;
  // Random numbers, not a sequence: the wire figure below is after compression, and a counting
  // sequence would compress better than anything users type.
  for (size_t i = 0; i < count; ++i) {
    const RecordId target = ids[rng() % ids.size()];
    const std::string phone = "+358 50 " + std::to_string(1000000 + rng() % 9000000);
    edits.push_back(sync::LocalOp{sync::LocalOp::Kind::kUpdate,
                                  target,
                                  {sync::Edit{uint16_t(CustomerField::phone), {}, phone}},
                                  "bench"});
  }
  branch.engine->submit(edits);
  const auto start = Clock::now();
  f.catchUp = node::syncWith(*branch.engine, server.endpoint(), options);
  f.catchUpMs = secondsSince(start) * 1000;
  waitUntilHeld(*hub.engine, branch.engine->status().vector);
  f.catchUpAppliedMs = secondsSince(start) * 1000;
  if (hub.engine->digestHex() != branch.engine->digestHex())
    throw Failure("bench: hub and branch digests differ after the catch-up");
  // Wire cost of the catch-up: bytes sent per changed field, against the field values' bytes.
  uint64_t payloadBytes = 0;
  for (const auto& op : edits)
    for (const auto& e : op.edits) payloadBytes += e.value.size();
  f.bytesPerField = double(f.catchUp.bytesSent) / double(count);
  f.wireVsPayload = double(f.catchUp.bytesSent) / double(payloadBytes);
}

// Fan-in, conflicting and live, each on nodes of its own, when asked for.
void runOtherCases(const SyncArgs& a, const std::filesystem::path& root, const Log& log,
                   SyncFigures& f) {
  if (a.fanInBranches > 0) {
    log("fan-in: " + std::to_string(a.fanInBranches) + " branches x " +
        std::to_string(a.fanInChanges) + " changes into one hub at once...");
    f.fanIn = fanInRate(root, a.fanInBranches, a.fanInChanges, a.signatures());
  }
  if (a.conflictCustomers > 0) {
    log("conflicting: 2 branches x " + std::to_string(a.conflictEdits) +
        " offline edits, 10% of them concurrent writes of one field...");
    f.conflict = conflictRates(root, a.conflictCustomers, a.conflictEdits, a.signatures());
  }
  if (a.liveEdits > 0) {
    log("live: " + std::to_string(a.liveEdits) + " edits at branch A, each until visible at B...");
    f.live = liveLatency(root, a.liveEdits, a.signatures(), f.liveMaxUs);
  }
}

nlohmann::json syncJson(const SyncArgs& a, const SyncFigures& f) {
  return {{"customers", a.customers},
          {"batch_changes", a.batchChanges},
          {"curve", a.curve},
          {"signatures_checked", !a.unchecked},
          {"bulk_changes", f.bulk.sent},
          {"bulk_seconds", f.bulkSeconds},
          {"bulk_acknowledged_seconds", f.bulkAckedSeconds},
          {"bulk_changes_per_s", f.bulkRate},
          {"raw_lmdb_per_s", f.rawRate},
          {"bulk_vs_raw_ratio", f.bulkRate / f.rawRate},
          {"catch_up_edits", f.catchUp.sent},
          {"catch_up_ms", f.catchUpMs},
          {"catch_up_acknowledged_ms", double(f.catchUp.acknowledgedAfter.count()) / 1000},
          {"catch_up_applied_ms", f.catchUpAppliedMs},
          {"catch_up_wire_bytes_per_field", f.bytesPerField},
          {"catch_up_wire_vs_payload", f.wireVsPayload},
          {"fan_in_branches", a.fanInBranches},
          {"fan_in_changes_per_s", f.fanIn},
          {"conflict_edits", a.conflictCustomers > 0 ? a.conflictEdits : 0},
          {"conflict_free_push_changes_per_s", f.conflict.cleanPerS},
          {"conflict_10pct_push_changes_per_s", f.conflict.conflictPerS},
          {"conflict_10pct_pull_changes_per_s", f.conflict.pullPerS},
          {"conflict_open_conflicts", f.conflict.conflicts},
          {"live_edits", a.liveEdits},
          {"live_p50_ms", f.live.p50 / 1000},
          {"live_p99_ms", f.live.p99 / 1000},
          {"live_max_ms", f.liveMaxUs / 1000},
          {"hub_peak_rss_anon_mb", f.hubPeakMb},
          {"hub_bulk_written_mb", f.hubWrittenMb},
          {"setup_peak_rss_anon_mb", f.setupPeakMb},
          {"peak_rss_anon_mb", f.peakMb}};
}

void printSync(const SyncArgs& a, const SyncFigures& f) {
  std::printf("customers                        %llu%s\n",
              static_cast<unsigned long long>(a.customers),
              a.curve ? "  (bulk and catch-up over CURVE)" : "");
  if (a.unchecked) std::printf("(receivers skip signature checks: --unsigned)\n");
  std::printf("bulk sync branch -> empty hub    %10.0f changes/s  (%.2f s, durable at the hub)\n",
              f.bulkRate, f.bulkSeconds);
  std::printf("raw LMDB, same records+indexes   %10.0f records/s\n", f.rawRate);
  std::printf("ratio sync/raw                   %10.2f\n", f.bulkRate / f.rawRate);
  std::printf("catch-up of %zu offline edits  %10.1f ms, connect to acknowledged (durable)\n",
              f.catchUp.sent, double(f.catchUp.acknowledgedAfter.count()) / 1000);
  std::printf("  ... whole session, both ways  %10.1f ms\n", f.catchUpMs);
  std::printf("  ... until applied at the hub  %10.1f ms, connect to searchable there\n",
              f.catchUpAppliedMs);
  std::printf("wire bytes per changed field      %10.1f  (%.1fx the field values' bytes)\n",
              f.bytesPerField, f.wireVsPayload);
  if (a.fanInBranches > 0)
    std::printf("fan-in, %zu branches at once       %10.0f changes/s (aggregate)\n",
                a.fanInBranches, f.fanIn);
  if (a.conflictCustomers > 0) {
    std::printf("push of %zu edits, no conflicts   %10.0f changes/s\n", a.conflictEdits,
                f.conflict.cleanPerS);
    std::printf("push of %zu edits, 10%% conflict  %10.0f changes/s  (pull: %.0f/s; %zu open)\n",
                a.conflictEdits, f.conflict.conflictPerS, f.conflict.pullPerS,
                f.conflict.conflicts);
  }
  if (a.liveEdits > 0)
    std::printf("live A -> hub -> B, %zu edits       p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                a.liveEdits, f.live.p50 / 1000, f.live.p99 / 1000, f.liveMaxUs / 1000);
  std::printf("hub peak RssAnon (its own process) %.1f MB\n", f.hubPeakMb);
  std::printf("hub's writes during the bulk       %.0f MB (wchar)\n", f.hubWrittenMb);
  std::printf("bench process peak RssAnon         %.1f MB (branch, raw baseline)\n", f.peakMb);
}

void benchSync(const SyncArgs& a) {
  if (a.customers == 0) throw UsageError("--customers must be at least 1");
  const std::filesystem::path root(a.data);
  const Log log = [&](const std::string& line) {
    if (!a.json) std::cerr << line << std::endl;
  };
  RssSampler rss;
  BenchNode branch(root / "bench-branch", "branch", false, a.signatures());
  BenchNode hub(root / "bench-hub", "hub", true, a.signatures());
  SyncFigures f;

  log("creating " + std::to_string(a.customers) + " customers at the branch (not timed)...");
  Generator gen(42);
  const std::vector<RecordId> ids = createCustomers(*branch.engine, gen, a.customers);
  f.setupPeakMb = rss.peakMb();

  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(120000);
  options.batchChanges = a.batchChanges;
  if (a.curve) {  // the hub allows the branch before it starts, so it serves CURVE only
    const auto hubKeys = node::ensureIdentity((root / "bench-hub").string());
    options.identity = node::ensureIdentity((root / "bench-branch").string());
    options.serverKey = hubKeys.publicKey;
    check(hub.engine->allowPeer(AllowedPeer{"branch", options.identity->publicKey, "", 0}));
  }
  HubProcess server((root / "bench-hub").string(), a.signatures());

  log("bulk: branch -> empty hub over " + server.endpoint() + "...");
  timeBulk(branch, hub, server, options, f);
  log("raw LMDB write of the same records and index entries...");
  f.rawRate = rawRateOf(*hub.store, root / "bench-raw");
  log("catch-up: " + std::to_string(a.edits) + " offline edits at the branch, then a sync...");
  timeCatchUp(branch, hub, server, options, ids, a.edits, f);
  runOtherCases(a, root, log, f);
  f.hubPeakMb = server.peakRssAnonMb();
  f.peakMb = rss.peakMb();
  if (a.json)
    printJson(syncJson(a, f));
  else
    printSync(a, f);
}

}  // namespace

void addSyncCommand(CLI::App& app) {
  auto a = std::make_shared<SyncArgs>();
  auto* cmd = app.add_subcommand("sync", "replication: bulk and catch-up over tcp://127.0.0.1");
  cmd->add_option("--data", a->data, "scratch directory for the benchmark stores")->required();
  cmd->add_option("--customers", a->customers, "customers at the branch (default 1000000)");
  cmd->add_option("--edits", a->edits, "offline edits for the catch-up case (default 1000)");
  cmd->add_option("--live-edits", a->liveEdits,
                  "edits timed A -> hub -> B through running nodes (default 1000; 0: skip)");
  cmd->add_option("--fan-in", a->fanInBranches,
                  "also run the fan-in case with this many branches (e.g. 50)");
  cmd->add_option("--fan-in-changes", a->fanInChanges, "changes per fan-in branch (default 20000)");
  cmd->add_option("--conflict-customers", a->conflictCustomers,
                  "customers in the conflicting case (default 100000; 0: skip it)");
  cmd->add_option("--conflict-edits", a->conflictEdits,
                  "offline edits per branch in the conflicting case, 10% of them conflicting "
                  "(default 20000)");
  cmd->add_flag("--curve", a->curve,
                "run the bulk and catch-up cases over CURVE (the hub allows only the branch)");
  cmd->add_flag("--unsigned", a->unchecked,
                "receivers skip the signature checks (to show what verification costs)");
  cmd->add_option("--batch-changes", a->batchChanges,
                  "changes per batch the branch sends in the bulk and catch-up cases (default " +
                      std::to_string(a->batchChanges) + ")")
      ->check(CLI::Range(size_t(1), size_t(1000000)));
  cmd->add_flag("--json", a->json, "print the figures as one JSON object");
  cmd->callback([a] { benchSync(*a); });
}

}  // namespace sitesync::bench
