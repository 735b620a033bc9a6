// `sitesync serve` and `sitesync sync`: running a node, and one replication session.
#include <csignal>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

std::atomic<bool> stopRequested{false};
extern "C" void onStopSignal(int) {
  stopRequested = true;
}

void logLine(const std::string& line) {
  static std::mutex mutex;
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::lock_guard lock(mutex);
  std::cerr << stamp << " " << line << std::endl;
}

struct NodeArgs {
  std::string data;
  std::string site;
  std::string hub;
  std::string listen;
  std::vector<std::string> peers;
  std::string peer;
  double timeoutSeconds = 30;
  bool json = false;
};

nlohmann::json vectorJson(const VersionVector& v) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [origin, seq] : v.entries()) j[siteIdToHex(origin)] = seq;
  return j;
}

void serveCommand(const NodeArgs& a) {
  auto site = openSite(a.data);
  std::unique_ptr<node::Server> listening;
  try {
    listening = std::make_unique<node::Server>(*site->engine, a.listen, logLine);
  } catch (const zmq::error_t& e) {
    throw UsageError("cannot listen on '" + a.listen + "': " + e.what());
  }
  node::Server& server = *listening;
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  std::cout << "serving '" << site->engine->meta().siteName << "' on " << server.endpoint()
            << std::endl;
  // Outgoing sessions run beside the server loop, so two nodes that peer with each other never
  // wait on each other's answers.
  // With every peer: a session at least every second, at once when this node's log grows (a
  // local write, from this or another process, or changes received, which are relayed), and at
  // once when a peer's watch says it holds changes this node lacks.
  auto logEnd = [&] { return site->engine->status().logEntries; };
  auto session = [&](const std::string& peer) {
    try {
      auto r = node::syncWith(*site->engine, peer);
      if (r.sent + r.received > 0)
        logLine("synced with '" + r.peerName + "' at " + peer + ": sent " + std::to_string(r.sent) +
                ", received " + std::to_string(r.received));
    } catch (const std::exception& e) {
      logLine("sync with " + peer + " failed: " + e.what());
    }
  };
  std::thread peering([&] {
    if (a.peers.empty()) return;
    node::PeerWatch watch(*site->engine, a.peers);
    uint64_t seen = UINT64_MAX;
    auto lastRound = std::chrono::steady_clock::time_point{};
    while (!stopRequested) {
      auto news = watch.wait(std::chrono::milliseconds(20));
      const uint64_t end = logEnd();
      const bool all =
          end != seen || std::chrono::steady_clock::now() - lastRound > std::chrono::seconds(1);
      seen = end;  // before the sessions: what they bring in is relayed on the next pass
      if (all) {
        lastRound = std::chrono::steady_clock::now();
        for (const auto& peer : a.peers) session(peer);
      } else {
        for (size_t i : news) session(a.peers[i]);
      }
    }
  });
  try {
    server.run(stopRequested);
  } catch (...) {
    stopRequested = true;
    peering.join();
    throw;
  }
  peering.join();
  logLine("stopped");
}

void syncCommand(const NodeArgs& a) {
  if (a.timeoutSeconds <= 0) throw UsageError("--timeout must be positive");
  auto site = openSite(a.data);
  node::SyncOptions options;
  options.timeout = std::chrono::milliseconds(int64_t(a.timeoutSeconds * 1000));
  node::SyncReport r;
  try {
    r = node::syncWith(*site->engine, a.peer, options);
  } catch (const node::SyncError& e) {
    throw Failure(e.what());
  } catch (const zmq::error_t& e) {
    throw UsageError("cannot connect to '" + a.peer + "': " + e.what());
  }
  if (a.json) {
    printJson({{"peer", r.peerName},
               {"peer_id", siteIdToHex(r.peerId)},
               {"sent", r.sent},
               {"received", r.received},
               {"vector", vectorJson(r.vector)}});
    return;
  }
  std::cout << "synced with '" << r.peerName << "' (" << siteIdToHex(r.peerId) << "): sent "
            << r.sent << ", received " << r.received << " changes\n";
}

// A new node (a new laptop) joins from the hub: a fresh site that takes the hub's whole register
// in one session. (The snapshot bootstrap of the replication issue will replace the log replay.)
void joinCommand(const NodeArgs& a) {
  namespace fs = std::filesystem;
  check(sync::validateSiteName(a.site));
  if (a.timeoutSeconds <= 0) throw UsageError("--timeout must be positive");
  std::error_code ec;
  if (fs::exists(fs::path(a.data) / "data.mdb", ec))
    throw Failure("'" + a.data + "' already holds a store; join needs an empty directory");
  const bool created = !fs::exists(a.data, ec);
  fs::create_directories(a.data, ec);
  if (ec) throw Failure("cannot create " + a.data + ": " + ec.message());
  node::SyncReport r;
  {
    auto store = storage::Store::open(a.data);
    sync::SystemClock clock;
    const SiteId id = newSiteId();
    check(sync::Engine::initialize(*store, clock, id, a.site, false));
    sync::Engine engine(*store, clock);
    node::SyncOptions options;
    options.timeout = std::chrono::milliseconds(int64_t(a.timeoutSeconds * 1000));
    std::string failure;
    try {
      r = node::syncWith(engine, a.hub, options);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {  // a failed join leaves nothing behind
      store.reset();
      fs::remove(fs::path(a.data) / "data.mdb", ec);
      fs::remove(fs::path(a.data) / "lock.mdb", ec);
      if (created) fs::remove(a.data, ec);
      throw Failure("join failed, nothing kept: " + failure);
    }
    if (a.json) {
      printJson({{"site", a.site},
                 {"site_id", siteIdToHex(id)},
                 {"hub", r.peerName},
                 {"received", r.received},
                 {"vector", vectorJson(r.vector)}});
      return;
    }
    std::cout << "joined '" << r.peerName << "' as '" << a.site << "' (" << siteIdToHex(id)
              << "): received " << r.received << " changes\n";
  }
}

}  // namespace

void addNodeCommands(CLI::App& app) {
  auto a = std::make_shared<NodeArgs>();
  auto* serve = app.add_subcommand("serve", "run this site's node until SIGINT or SIGTERM");
  serve->add_option("--data", a->data, "data directory")->required();
  serve->add_option("--listen", a->listen, "ZeroMQ endpoint, e.g. tcp://0.0.0.0:7400")->required();
  serve->add_option("--peer", a->peers, "endpoint of a peer to sync with (repeatable)");
  serve->callback([a] { serveCommand(*a); });

  auto* join = app.add_subcommand("join", "make DIR a new site holding the hub's register");
  join->add_option("--data", a->data, "data directory (new or empty)")->required();
  join->add_option("--site", a->site, "this site's name")->required();
  join->add_option("--hub", a->hub, "the hub's endpoint")->required();
  join->add_option("--timeout", a->timeoutSeconds, "seconds to wait for each answer (default 30)");
  join->add_flag("--json", a->json, "JSON output");
  join->callback([a] { joinCommand(*a); });

  auto* sync = app.add_subcommand("sync", "one session with a peer: both directions");
  sync->add_option("--data", a->data, "data directory")->required();
  sync->add_option("--peer", a->peer, "the peer's endpoint, e.g. tcp://hub.example:7400")
      ->required();
  sync->add_option("--timeout", a->timeoutSeconds, "seconds to wait for each answer (default 30)");
  sync->add_flag("--json", a->json, "JSON output");
  sync->callback([a] { syncCommand(*a); });
}

}  // namespace sitesync::cli
