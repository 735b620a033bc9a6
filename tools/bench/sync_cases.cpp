// The cases of `sitesync-bench sync` beside the bulk and catch-up: live propagation, fan-in and
// conflicting edits, over tcp://127.0.0.1 with real LMDB stores.
#include "tools/bench/sync_cases.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <random>
#include <thread>

#include "node/node.h"
#include "sync/testing/engine_test_access.h"

namespace sitesync::bench {

BenchNode::BenchNode(const std::filesystem::path& dir, const std::string& name, bool hub,
                     Signatures signatures) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  store = storage::Store::open(dir.string(), storage::Options{uint64_t(4) << 30});
  check(sync::Engine::initialize(*store, clock, sync::SiteKey::generate(), name, hub));
  engine = std::make_unique<sync::Engine>(*store, clock);
  sync::EngineTestAccess::skipSignatureChecks(*engine, signatures == Signatures::kSkipped);
}

namespace {

// Runs `server` on a thread of its own until the scope ends.
class Serving {
 public:
  explicit Serving(node::Server& server) : thread_([this, &server] { server.run(stop_); }) {}
  ~Serving() {
    stop_ = true;
    thread_.join();
  }
  Serving(const Serving&) = delete;
  Serving& operator=(const Serving&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Polls every 50 us: spinning would take one of the machine's two cores from the nodes.
void waitUntil(const std::function<bool()>& condition, const char* what) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (Clock::now() > deadline) throw Failure(std::string("bench: live case: ") + what);
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

sync::LocalOp phoneEdit(RecordId id, const std::string& phone) {
  return sync::LocalOp{sync::LocalOp::Kind::kUpdate,
                       id,
                       {sync::Edit{uint16_t(CustomerField::phone), {}, phone}},
                       "bench"};
}

}  // namespace

Percentiles liveLatency(const std::filesystem::path& root, size_t edits, Signatures signatures,
                        double& maxUs) {
  BenchNode a(root / "live-a", "branch A", false, signatures);
  BenchNode b(root / "live-b", "branch B", false, signatures);
  BenchNode hub(root / "live-hub", "hub", true, signatures);
  Generator gen(7);
  const std::vector<RecordId> ids = createCustomers(*a.engine, gen, 100, 1);
  node::Server hubNode(*hub.engine, "tcp://127.0.0.1:*");
  node::ServeOptions toHub;
  toHub.peers = {hubNode.endpoint()};
  node::Server nodeA(*a.engine, "tcp://127.0.0.1:*", {}, toHub);
  node::Server nodeB(*b.engine, "tcp://127.0.0.1:*", {}, toHub);
  Serving servingHub(hubNode), servingA(nodeA), servingB(nodeB);
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

double fanInRate(const std::filesystem::path& root, size_t branches, uint64_t changes,
                 Signatures signatures) {
  std::vector<std::unique_ptr<BenchNode>> nodes;
  for (size_t b = 0; b < branches; ++b) {
    nodes.push_back(std::make_unique<BenchNode>(root / ("fan-in-" + std::to_string(b)),
                                                "branch " + std::to_string(b), false, signatures));
    Generator gen(100 + b);
    createCustomers(*nodes.back()->engine, gen, changes, std::max<uint64_t>(changes, 1));
  }
  BenchNode hub(root / "fan-in-hub", "hub", true, signatures);
  node::Server server(*hub.engine, "tcp://127.0.0.1:*");
  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(300000);
  options.pull = false;  // into the hub only: pulling 49 others' changes is another measurement
  std::atomic<uint64_t> moved{0};
  std::vector<std::string> failures(branches);
  double seconds = 0;
  {
    Serving serving(server);
    const auto start = Clock::now();
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
    seconds = secondsSince(start);
  }
  for (const auto& f : failures)
    if (!f.empty()) throw Failure("bench: a fan-in session failed: " + f);
  for (size_t b = 0; b < branches; ++b)
    std::filesystem::remove_all(root / ("fan-in-" + std::to_string(b)));
  std::filesystem::remove_all(root / "fan-in-hub");
  return double(moved.load()) / seconds;
}

namespace {

// The conflicting case's start: `customers` created at A, and both branches and the hub holding
// them. B makes a change of its own, so that the hub knows both sites (it leases numbers only to
// a site that has sent one); two rounds carry the blocks leased at their hellos, so that only the
// edits move in the timed sessions. Returns the customers' ids.
std::vector<RecordId> shareCustomers(BenchNode& a, BenchNode& b, const std::string& hub,
                                     uint64_t customers, const node::SyncOptions& options) {
  Generator gen(11);
  std::vector<RecordId> ids = createCustomers(*a.engine, gen, customers);
  take(b.engine->create(gen.customer(customers), "bench"));
  for (int round = 0; round < 2; ++round) {
    node::syncWith(*a.engine, hub, options);
    node::syncWith(*b.engine, hub, options);
  }
  return ids;
}

// The offline edits of A and B: B's first tenth edit A's customers; the rest come from the other
// half of the register.
void editOffline(BenchNode& a, BenchNode& b, std::vector<RecordId> ids, size_t edits) {
  std::mt19937_64 rng(5);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<sync::LocalOp> atA, atB;
  for (size_t i = 0; i < edits; ++i) {
    atA.push_back(phoneEdit(ids[i], "+358 41 " + std::to_string(1000000 + i)));
    const RecordId target = i < edits / 10 ? ids[i] : ids[edits + i];
    atB.push_back(phoneEdit(target, "+358 42 " + std::to_string(1000000 + i)));
  }
  a.engine->submit(atA);
  b.engine->submit(atB);
}

}  // namespace

ConflictFigures conflictRates(const std::filesystem::path& root, uint64_t customers, size_t edits,
                              Signatures signatures) {
  if (edits * 2 > customers)
    throw UsageError("--conflict-edits must be at most half of --conflict-customers");
  BenchNode a(root / "conflict-a", "branch A", false, signatures);
  BenchNode b(root / "conflict-b", "branch B", false, signatures);
  BenchNode hub(root / "conflict-hub", "hub", true, signatures);
  node::Server server(*hub.engine, "tcp://127.0.0.1:*");
  Serving serving(server);
  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(120000);
  editOffline(a, b, shareCustomers(a, b, server.endpoint(), customers, options), edits);

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
  const size_t conflicting = edits / 10;
  out.conflicts = hub.engine->conflicts(false).size();
  if (out.conflicts != conflicting || a.engine->conflicts(false).size() != conflicting ||
      b.engine->conflicts(false).size() != conflicting)
    throw Failure("bench: conflicting case: expected " + std::to_string(conflicting) +
                  " open conflicts on every node, the hub has " + std::to_string(out.conflicts));
  for (const char* dir : {"conflict-a", "conflict-b", "conflict-hub"})
    std::filesystem::remove_all(root / dir);
  return out;
}

}  // namespace sitesync::bench
