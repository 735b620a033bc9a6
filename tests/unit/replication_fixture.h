// Fixtures of the replication suites: a site in a temporary directory, a node serving it from
// its own thread (optionally with streaming links to peers), and waiting for a condition.
#pragma once

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "node/node.h"
#include "storage/store.h"
#include "tests/unit/test_support.h"

namespace sitesync::testing {

struct Site {
  TempDir dir;
  std::unique_ptr<storage::Store> store =
      storage::Store::open(dir.path(), storage::Options{.durable = false});
  TestClock clock;
  sync::Engine engine{*store, clock};

  // `label`: names the site's key (testSiteId); `isHub`: the deployment's hub, which renumbers
  // the loser of a duplicate number claim and whose site id is the deployment id.
  Site(uint64_t label, const std::string& name, uint64_t deployment = 0, bool isHub = false) {
    BOOST_REQUIRE(sync::Engine::initialize(*store, clock, testSiteKey(testSiteId(label)), name,
                                           isHub, isHub ? 0 : deployment)
                      .isOk());
  }
  SiteId id() const { return engine.meta().siteId; }
  RecordId add(const std::string& name) {
    auto r = engine.create({sync::Edit{uint16_t(CustomerField::name), {}, name}}, "tester");
    BOOST_REQUIRE(r.isOk());
    return r->id;
  }
  void edit(RecordId id, CustomerField field, const std::string& value) {
    BOOST_REQUIRE(engine.update(id, {sync::Edit{uint16_t(field), {}, value}}, "tester").isOk());
  }
};

// Quick links for tests: heartbeats every 100 ms, silence of 400 ms drops a link.
inline node::ServeOptions quickLinks(std::vector<std::string> peers = {}) {
  node::ServeOptions o;
  o.peers = std::move(peers);
  o.batchChanges = 7;  // several batches even for small tests
  o.heartbeat = std::chrono::milliseconds(100);
  o.deadAfter = std::chrono::milliseconds(400);
  o.firstBackoff = std::chrono::milliseconds(20);
  o.maxBackoff = std::chrono::milliseconds(200);
  return o;
}

// A node serving `site` on a loopback port from its own thread until destroyed.
class Serving {
 public:
  explicit Serving(Site& site, node::ServeOptions options = quickLinks(),
                   const std::string& endpoint = "tcp://127.0.0.1:*")
      : server_(site.engine, endpoint, {}, std::move(options)),
        thread_([this] { server_.run(stop_); }) {}
  ~Serving() {
    stop_ = true;
    thread_.join();
  }
  std::string endpoint() const { return server_.endpoint(); }
  std::vector<node::LinkState> links() const { return server_.links(); }
  uint64_t malformedMessages() const { return server_.malformedMessages(); }

 private:
  std::atomic<bool> stop_{false};
  node::Server server_;
  std::thread thread_;
};

// Waits until `condition` holds, false after `timeout`. The nodes run on other threads and
// nothing signals "the digests are equal", so the condition is re-checked every 2 ms; the pause
// only paces the checks (a busy loop would take a core from the nodes under test).
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

inline node::SyncOptions quickSession() {
  node::SyncOptions o;
  o.timeout = std::chrono::milliseconds(5000);
  o.batchChanges = 7;
  return o;
}

}  // namespace sitesync::testing
