// `sitesync bench sync`: replication figures over tcp://127.0.0.1 with real LMDB stores, each
// beside the raw LMDB cost of the same data measured in the same run.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>

#include <sys/wait.h>
#include <unistd.h>
#include <random>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "tools/sitesync/bench_util.h"
#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

using namespace bench;

struct SyncBenchArgs {
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
};

// --unsigned: every receiving node of this run skips the signature checks.
bool uncheckedSignatures = false;

struct BenchNode {
  std::unique_ptr<storage::Store> store;
  sync::SystemClock clock;
  std::unique_ptr<sync::Engine> engine;
  BenchNode(const std::filesystem::path& dir, const std::string& name, bool hub) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    store = storage::Store::open(dir.string(), storage::Options{uint64_t(4) << 30});
    check(sync::Engine::initialize(*store, clock, sync::SiteKey::generate(), name, hub));
    engine = std::make_unique<sync::Engine>(*store, clock);
    engine->skipSignatureChecks(uncheckedSignatures);
  }
};

// The hub as its own process (`sitesync serve` on its data directory), so that its memory is
// measured alone: RssAnon of that process, sampled every 20 ms.
class HubProcess {
 public:
  explicit HubProcess(const std::string& data) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) throw Failure("bench: pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::vector<std::string> args = {self, "serve",    "--data",
                                     data, "--listen", "tcp://127.0.0.1:*"};
    if (uncheckedSignatures) args.push_back("--bench-unchecked-signatures");
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, self.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (rc != 0) throw Failure("bench: cannot start the hub process");
    std::string line;  // "serving 'hub' on tcp://127.0.0.1:PORT"
    while (line.find('\n') == std::string::npos) {
      pollfd fd{out[0], POLLIN, 0};
      char buf[256];
      ssize_t n = poll(&fd, 1, 10000) > 0 ? read(out[0], buf, sizeof buf) : 0;
      if (n <= 0) {
        close(out[0]);
        throw Failure("bench: the hub process did not start serving");
      }
      line.append(buf, size_t(n));
    }
    close(out[0]);
    endpoint_ = line.substr(line.find(" on ") + 4);
    endpoint_.erase(endpoint_.find('\n'));
    rss_ = std::make_unique<RssSampler>("/proc/" + std::to_string(pid_) + "/status");
  }
  ~HubProcess() {
    rss_.reset();
    kill(pid_, SIGTERM);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  const std::string& endpoint() const { return endpoint_; }
  double peakRssAnonMb() const { return rss_->peakMb(); }
  // Bytes the process has handed to write calls so far (`wchar` in /proc/PID/io): what its
  // LMDB writes (pages, then the meta page) and its inbox cost, whether or not the page cache
  // has written them back yet.
  uint64_t bytesWritten() const {
    const std::string path = "/proc/" + std::to_string(pid_) + "/io";
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("wchar:", 0) == 0) return std::stoull(line.substr(6));
    throw Failure("bench: cannot read the hub's write count from " + path +
                  " (a kernel without task I/O accounting?)");
  }

 private:
  pid_t pid_ = -1;
  std::string endpoint_;
  std::unique_ptr<RssSampler> rss_;
};

// Live: branches A and B keep streaming links to a hub (three running nodes, durable stores);
// each edit at A is timed from the call that writes it until B shows the new value.
Percentiles liveLatency(const std::filesystem::path& root, size_t edits, double& maxUs) {
  BenchNode a(root / "live-a", "branch A", false);
  BenchNode b(root / "live-b", "branch B", false);
  BenchNode hub(root / "live-hub", "hub", true);
  std::vector<RecordId> ids;
  Generator gen(7);
  for (int i = 0; i < 100; ++i)
    ids.push_back(take(a.engine->create(gen.customer(uint64_t(i)), "bench")).id);
  std::atomic<bool> stop{false};
  node::Server hubNode(*hub.engine, "tcp://127.0.0.1:*");
  node::ServeOptions toHub;
  toHub.peers = {hubNode.endpoint()};
  node::Server nodeA(*a.engine, "tcp://127.0.0.1:*", {}, toHub);
  node::Server nodeB(*b.engine, "tcp://127.0.0.1:*", {}, toHub);
  std::vector<std::thread> threads;
  for (node::Server* n : {&hubNode, &nodeA, &nodeB})
    threads.emplace_back([n, &stop] { n->run(stop); });
  struct Stopper {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Stopper() {
      stop = true;
      for (auto& t : threads) t.join();
    }
  } stopper{stop, threads};
  // Polls B every 50 us: spinning would take one of the machine's two cores from the nodes.
  auto waitUntil = [](const std::function<bool()>& condition, const char* what) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (!condition()) {
      if (Clock::now() > deadline) throw Failure(std::string("bench: live case: ") + what);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  };
  waitUntil([&] { return b.engine->customer(ids.back()).has_value(); },
            "the first customers never reached branch B");
  std::vector<double> us;
  std::mt19937 jitter(11);
  for (size_t i = 0; i < edits; ++i) {
    const RecordId id = ids[i % ids.size()];
    const std::string phone = "+358 44 " + std::to_string(2000000 + i);
    // Edits come at random moments, as typing does: not in step with the nodes' 1 ms loop tick
    // (an edit made right after the previous one arrived would always meet the same phase).
    std::this_thread::sleep_for(std::chrono::microseconds(jitter() % 1000));
    const auto start = Clock::now();
    take(a.engine->update(id, {sync::Edit{uint16_t(CustomerField::phone), {}, phone}}, "bench"));
    waitUntil(
        [&] {
          auto c = b.engine->customer(id);
          return c && c->value(CustomerField::phone) == phone;
        },
        "an edit never reached branch B");
    us.push_back(secondsSince(start) * 1e6);
  }
  maxUs = *std::max_element(us.begin(), us.end());
  return percentiles(us);
}

// Fan-in: `branches` branches with `changes` new customers each sync into one fresh hub at once.
// Returns aggregate changes/s from the first connect to the last acknowledgement.
double fanInRate(const std::filesystem::path& root, size_t branches, uint64_t changes) {
  std::vector<std::unique_ptr<BenchNode>> nodes;
  for (size_t b = 0; b < branches; ++b) {
    nodes.push_back(std::make_unique<BenchNode>(root / ("fan-in-" + std::to_string(b)),
                                                "branch " + std::to_string(b), false));
    Generator gen(100 + b);
    std::vector<sync::LocalOp> ops;
    for (uint64_t i = 0; i < changes; ++i)
      ops.push_back(sync::LocalOp{sync::LocalOp::Kind::kCreate, {}, gen.customer(i), "bench", {}});
    nodes.back()->engine->submit(ops);
  }
  BenchNode hub(root / "fan-in-hub", "hub", true);
  std::atomic<bool> stop{false};
  node::Server server(*hub.engine, "tcp://127.0.0.1:*");
  std::thread serving([&] { server.run(stop); });
  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(300000);
  options.pull = false;  // into the hub only: pulling 49 others' changes is another measurement
  std::atomic<uint64_t> moved{0};
  std::vector<std::string> failures(branches);
  auto start = Clock::now();
  std::vector<std::thread> sessions;
  for (size_t b = 0; b < branches; ++b)
    sessions.emplace_back([&, b] {
      try {
        moved += node::syncWith(*nodes[b]->engine, server.endpoint(), options).sent;
        waitUntilHeld(*hub.engine, nodes[b]->engine->status().vector);
      } catch (const std::exception& e) {
        failures[b] = e.what();
      }
    });
  for (auto& t : sessions) t.join();
  const double seconds = secondsSince(start);
  stop = true;
  serving.join();
  for (const auto& f : failures)
    if (!f.empty()) throw Failure("bench: a fan-in session failed: " + f);
  for (size_t b = 0; b < branches; ++b)
    std::filesystem::remove_all(root / ("fan-in-" + std::to_string(b)));
  std::filesystem::remove_all(root / "fan-in-hub");
  return double(moved.load()) / seconds;
}

// Conflicting: branches A and B hold the same `customers` (through the hub), then each edits
// the phone of `edits` customers offline; a tenth of B's edits hit customers A edited too
// (concurrent writes of one field), the rest others. Each pushes into the hub: A's push is the
// conflict-free baseline, B's push makes every tenth change a conflict; then B pulls A's edits
// (the same tenth conflicts there). All three must end with equal digests and the same list.
struct ConflictFigures {
  double cleanPerS = 0;     // A's push: no conflicts
  double conflictPerS = 0;  // B's push: 10% of the changes conflict at the hub
  double pullPerS = 0;      // B's pull of A's edits: 10% conflict at B
  size_t conflicts = 0;     // open conflicts at the end, on every node
};
ConflictFigures conflictRates(const std::filesystem::path& root, uint64_t customers, size_t edits) {
  if (edits * 2 > customers)
    throw UsageError("--conflict-edits must be at most half of --conflict-customers");
  BenchNode a(root / "conflict-a", "branch A", false);
  BenchNode b(root / "conflict-b", "branch B", false);
  BenchNode hub(root / "conflict-hub", "hub", true);
  std::atomic<bool> stop{false};
  node::Server server(*hub.engine, "tcp://127.0.0.1:*");
  std::thread serving([&] { server.run(stop); });
  struct Stopper {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Stopper() {
      stop = true;
      thread.join();
    }
  } stopper{stop, serving};
  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(120000);

  Generator gen(11);
  std::vector<RecordId> ids;
  for (uint64_t from = 0; from < customers; from += 100000) {
    std::vector<sync::LocalOp> ops;
    for (uint64_t i = from; i < std::min(customers, from + 100000); ++i)
      ops.push_back(sync::LocalOp{sync::LocalOp::Kind::kCreate, {}, gen.customer(i), "bench", {}});
    for (const auto& r : a.engine->submit(ops)) ids.push_back(r.id);
  }
  // B makes a change of its own, so that the hub knows both sites (it leases numbers only to a
  // site that has sent one); two rounds carry the blocks leased at their hellos, so that only
  // the edits move in the timed sessions.
  take(b.engine->create(gen.customer(customers), "bench"));
  for (int round = 0; round < 2; ++round) {
    node::syncWith(*a.engine, server.endpoint(), options);
    node::syncWith(*b.engine, server.endpoint(), options);
  }

  std::mt19937_64 rng(5);
  std::shuffle(ids.begin(), ids.end(), rng);
  auto phoneEdit = [](RecordId id, const std::string& phone) {
    return sync::LocalOp{sync::LocalOp::Kind::kUpdate,
                         id,
                         {sync::Edit{uint16_t(CustomerField::phone), {}, phone}},
                         "bench"};
  };
  std::vector<sync::LocalOp> atA, atB;
  const size_t conflicting = edits / 10;
  for (size_t i = 0; i < edits; ++i) {
    atA.push_back(phoneEdit(ids[i], "+358 41 " + std::to_string(1000000 + i)));
    // B's first tenth edits A's customers; the rest come from the other half of the register.
    const RecordId target = i < conflicting ? ids[i] : ids[edits + i];
    atB.push_back(phoneEdit(target, "+358 42 " + std::to_string(1000000 + i)));
  }
  a.engine->submit(atA);
  b.engine->submit(atB);

  options.pull = false;
  auto start = Clock::now();
  const size_t fromA = node::syncWith(*a.engine, server.endpoint(), options).sent;
  waitUntilHeld(*hub.engine, a.engine->status().vector);
  ConflictFigures out;
  out.cleanPerS = double(fromA) / secondsSince(start);
  start = Clock::now();
  const size_t fromB = node::syncWith(*b.engine, server.endpoint(), options).sent;
  waitUntilHeld(*hub.engine, b.engine->status().vector);
  out.conflictPerS = double(fromB) / secondsSince(start);
  options.pull = true;
  start = Clock::now();
  const size_t pulledByB = node::syncWith(*b.engine, server.endpoint(), options).received;
  out.pullPerS = double(pulledByB) / secondsSince(start);
  node::syncWith(*a.engine, server.endpoint(), options);
  if (fromA != edits || fromB != edits || pulledByB != edits)
    throw Failure("bench: conflicting case: not every edit moved");
  const std::string digest = hub.engine->digestHex();
  if (a.engine->digestHex() != digest || b.engine->digestHex() != digest)
    throw Failure("bench: conflicting case: digests differ after the syncs");
  out.conflicts = hub.engine->conflicts(false).size();
  if (out.conflicts != conflicting || a.engine->conflicts(false).size() != conflicting ||
      b.engine->conflicts(false).size() != conflicting)
    throw Failure("bench: conflicting case: expected " + std::to_string(conflicting) +
                  " open conflicts on every node, the hub has " + std::to_string(out.conflicts));
  for (const char* dir : {"conflict-a", "conflict-b", "conflict-hub"})
    std::filesystem::remove_all(root / dir);
  return out;
}

void benchSync(const SyncBenchArgs& a) {
  if (a.customers == 0) throw UsageError("--customers must be at least 1");
  const std::filesystem::path root(a.data);
  auto log = [&](const std::string& line) {
    if (!a.json) std::cerr << line << std::endl;
  };
  RssSampler rss;
  BenchNode branch(root / "bench-branch", "branch", false);
  BenchNode hub(root / "bench-hub", "hub", true);

  log("creating " + std::to_string(a.customers) + " customers at the branch (not timed)...");
  Generator gen(42);
  std::vector<RecordId> ids;
  for (uint64_t from = 0; from < a.customers; from += 100000) {
    std::vector<sync::LocalOp> ops;
    for (uint64_t i = from; i < std::min(a.customers, from + 100000); ++i)
      ops.push_back(sync::LocalOp{sync::LocalOp::Kind::kCreate, {}, gen.customer(i), "bench", {}});
    for (const auto& r : branch.engine->submit(ops)) ids.push_back(r.id);
  }
  const double setupPeakMb = rss.peakMb();

  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(120000);
  options.batchChanges = a.batchChanges;
  if (a.curve) {  // the hub allows the branch before it starts, so it serves CURVE only
    const auto hubKeys = node::ensureIdentity((root / "bench-hub").string());
    options.identity = node::ensureIdentity((root / "bench-branch").string());
    options.serverKey = hubKeys.publicKey;
    check(hub.engine->allowPeer(AllowedPeer{"branch", options.identity->publicKey, "", 0}));
  }
  HubProcess server((root / "bench-hub").string());

  log("bulk: branch -> empty hub over " + server.endpoint() + "...");
  ::sync();  // the branch's setup writes are not the bulk's to flush
  const uint64_t writtenBefore = server.bytesWritten();
  auto start = Clock::now();
  auto bulk = node::syncWith(*branch.engine, server.endpoint(), options);
  const double bulkAckedSeconds = double(bulk.acknowledgedAfter.count()) / 1e6;
  waitUntilHeld(*hub.engine, branch.engine->status().vector);
  const double bulkSeconds = secondsSince(start);
  const double hubWrittenMb = double(server.bytesWritten() - writtenBefore) / (1 << 20);
  if (hub.engine->digestHex() != branch.engine->digestHex())
    throw Failure("bench: hub and branch digests differ after the bulk sync");

  log("raw LMDB write of the same records and index entries...");
  double rawRate = 0;
  {
    RawInput raw = collectRawInput(*hub.store);
    const auto rawDir = root / "bench-raw";
    std::filesystem::remove_all(rawDir);
    std::filesystem::create_directories(rawDir);
    rawRate = rawLmdbRate(rawDir.string(), raw.records, raw.indexKeys, 100000);
    std::filesystem::remove_all(rawDir);
  }

  log("catch-up: " + std::to_string(a.edits) + " offline edits at the branch, then a sync...");
  std::mt19937_64 rng(9);
  std::vector<sync::LocalOp> edits;
  // Random numbers, not a sequence: the wire figure below is after compression, and a counting
  // sequence would compress better than anything users type.
  for (size_t i = 0; i < a.edits; ++i) {
    const RecordId target = ids[rng() % ids.size()];
    const std::string phone = "+358 50 " + std::to_string(1000000 + rng() % 9000000);
    edits.push_back(sync::LocalOp{sync::LocalOp::Kind::kUpdate,
                                  target,
                                  {sync::Edit{uint16_t(CustomerField::phone), {}, phone}},
                                  "bench"});
  }
  branch.engine->submit(edits);
  start = Clock::now();
  auto catchUp = node::syncWith(*branch.engine, server.endpoint(), options);
  const double catchUpMs = secondsSince(start) * 1000;
  waitUntilHeld(*hub.engine, branch.engine->status().vector);
  const double catchUpAppliedMs = secondsSince(start) * 1000;
  if (hub.engine->digestHex() != branch.engine->digestHex())
    throw Failure("bench: hub and branch digests differ after the catch-up");

  // Wire cost of the catch-up: bytes sent per changed field, against the field values' bytes.
  uint64_t payloadBytes = 0;
  for (const auto& op : edits)
    for (const auto& e : op.edits) payloadBytes += e.value.size();
  const double bytesPerField = double(catchUp.bytesSent) / double(a.edits);
  const double wireVsPayload = double(catchUp.bytesSent) / double(payloadBytes);
  const double bulkRate = double(bulk.sent) / bulkSeconds;
  double fanIn = 0;
  if (a.fanInBranches > 0) {
    log("fan-in: " + std::to_string(a.fanInBranches) + " branches x " +
        std::to_string(a.fanInChanges) + " changes into one hub at once...");
    fanIn = fanInRate(root, a.fanInBranches, a.fanInChanges);
  }
  ConflictFigures conflict;
  if (a.conflictCustomers > 0) {
    log("conflicting: 2 branches x " + std::to_string(a.conflictEdits) +
        " offline edits, 10% of them concurrent writes of one field...");
    conflict = conflictRates(root, a.conflictCustomers, a.conflictEdits);
  }
  Percentiles live;
  double liveMaxUs = 0;
  if (a.liveEdits > 0) {
    log("live: " + std::to_string(a.liveEdits) + " edits at branch A, each until visible at B...");
    live = liveLatency(root, a.liveEdits, liveMaxUs);
  }
  nlohmann::json j = {
      {"customers", a.customers},
      {"batch_changes", a.batchChanges},
      {"curve", a.curve},
      {"signatures_checked", !a.unchecked},
      {"bulk_changes", bulk.sent},
      {"bulk_seconds", bulkSeconds},
      {"bulk_acknowledged_seconds", bulkAckedSeconds},
      {"bulk_changes_per_s", bulkRate},
      {"raw_lmdb_per_s", rawRate},
      {"bulk_vs_raw_ratio", bulkRate / rawRate},
      {"catch_up_edits", catchUp.sent},
      {"catch_up_ms", catchUpMs},
      {"catch_up_acknowledged_ms", double(catchUp.acknowledgedAfter.count()) / 1000},
      {"catch_up_applied_ms", catchUpAppliedMs},
      {"catch_up_wire_bytes_per_field", bytesPerField},
      {"catch_up_wire_vs_payload", wireVsPayload},
      {"fan_in_branches", a.fanInBranches},
      {"fan_in_changes_per_s", fanIn},
      {"conflict_edits", a.conflictCustomers > 0 ? a.conflictEdits : 0},
      {"conflict_free_push_changes_per_s", conflict.cleanPerS},
      {"conflict_10pct_push_changes_per_s", conflict.conflictPerS},
      {"conflict_10pct_pull_changes_per_s", conflict.pullPerS},
      {"conflict_open_conflicts", conflict.conflicts},
      {"live_edits", a.liveEdits},
      {"live_p50_ms", live.p50 / 1000},
      {"live_p99_ms", live.p99 / 1000},
      {"live_max_ms", liveMaxUs / 1000},
      {"hub_peak_rss_anon_mb", server.peakRssAnonMb()},
      {"hub_bulk_written_mb", hubWrittenMb},
      {"setup_peak_rss_anon_mb", setupPeakMb},
      {"peak_rss_anon_mb", rss.peakMb()}};
  if (a.json) {
    printJson(j);
    return;
  }
  std::printf("customers                        %llu%s\n",
              static_cast<unsigned long long>(a.customers),
              a.curve ? "  (bulk and catch-up over CURVE)" : "");
  if (a.unchecked) std::printf("(receivers skip signature checks: --unsigned)\n");
  std::printf("bulk sync branch -> empty hub    %10.0f changes/s  (%.2f s, durable at the hub)\n",
              bulkRate, bulkSeconds);
  std::printf("raw LMDB, same records+indexes   %10.0f records/s\n", rawRate);
  std::printf("ratio sync/raw                   %10.2f\n", bulkRate / rawRate);
  std::printf("catch-up of %zu offline edits  %10.1f ms, connect to acknowledged (durable)\n",
              catchUp.sent, double(catchUp.acknowledgedAfter.count()) / 1000);
  std::printf("  ... whole session, both ways  %10.1f ms\n", catchUpMs);
  std::printf("  ... until applied at the hub  %10.1f ms, connect to searchable there\n",
              catchUpAppliedMs);
  std::printf("wire bytes per changed field      %10.1f  (%.1fx the field values' bytes)\n",
              bytesPerField, wireVsPayload);
  if (a.fanInBranches > 0)
    std::printf("fan-in, %zu branches at once       %10.0f changes/s (aggregate)\n",
                a.fanInBranches, fanIn);
  if (a.conflictCustomers > 0) {
    std::printf("push of %zu edits, no conflicts   %10.0f changes/s\n", a.conflictEdits,
                conflict.cleanPerS);
    std::printf("push of %zu edits, 10%% conflict  %10.0f changes/s  (pull: %.0f/s; %zu open)\n",
                a.conflictEdits, conflict.conflictPerS, conflict.pullPerS, conflict.conflicts);
  }
  if (a.liveEdits > 0)
    std::printf("live A -> hub -> B, %zu edits       p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                a.liveEdits, live.p50 / 1000, live.p99 / 1000, liveMaxUs / 1000);
  std::printf("hub peak RssAnon (its own process) %.1f MB\n", server.peakRssAnonMb());
  std::printf("hub's writes during the bulk       %.0f MB (wchar)\n", hubWrittenMb);
  std::printf("bench process peak RssAnon         %.1f MB (branch, raw baseline)\n", rss.peakMb());
}

}  // namespace

void addSyncBenchCommand(CLI::App& bench) {
  auto a = std::make_shared<SyncBenchArgs>();
  auto* cmd = bench.add_subcommand("sync", "replication: bulk and catch-up over tcp://127.0.0.1");
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
  cmd->callback([a] {
    uncheckedSignatures = a->unchecked;
    benchSync(*a);
  });
}

}  // namespace sitesync::cli
