// `sitesync serve` and `sitesync sync`: running a node, and one replication session.
#include <csignal>
#include <ctime>
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
  std::thread peering([&] {
    while (!stopRequested) {
      for (const auto& peer : a.peers) {
        try {
          auto r = node::syncWith(*site->engine, peer);
          if (r.sent + r.received > 0)
            logLine("synced with '" + r.peerName + "' at " + peer + ": sent " +
                    std::to_string(r.sent) + ", received " + std::to_string(r.received));
        } catch (const std::exception& e) {
          logLine("sync with " + peer + " failed: " + e.what());
        }
      }
      for (int i = 0; i < 20 && !stopRequested; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the peering interval
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

}  // namespace

void addNodeCommands(CLI::App& app) {
  auto a = std::make_shared<NodeArgs>();
  auto* serve = app.add_subcommand("serve", "run this site's node until SIGINT or SIGTERM");
  serve->add_option("--data", a->data, "data directory")->required();
  serve->add_option("--listen", a->listen, "ZeroMQ endpoint, e.g. tcp://0.0.0.0:7400")->required();
  serve->add_option("--peer", a->peers, "endpoint of a peer to sync with (repeatable)");
  serve->callback([a] { serveCommand(*a); });

  auto* sync = app.add_subcommand("sync", "one session with a peer: both directions");
  sync->add_option("--data", a->data, "data directory")->required();
  sync->add_option("--peer", a->peer, "the peer's endpoint, e.g. tcp://hub.example:7400")
      ->required();
  sync->add_option("--timeout", a->timeoutSeconds, "seconds to wait for each answer (default 30)");
  sync->add_flag("--json", a->json, "JSON output");
  sync->callback([a] { syncCommand(*a); });
}

}  // namespace sitesync::cli
