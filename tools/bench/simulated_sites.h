// Internal to sitesync-bench: many sites in this one process for `sitesync-bench hub`. Each is a
// real site (a store of its own, its own signing key, real signed changes) whose end of its link
// is a sync::PeerSession on a DEALER socket of its own; one thread drives them all, as a hub's
// many branches would be driven by as many machines.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sync/engine.h"
#include "sync/peer_session.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/sync_cases.h"

namespace sitesync::bench {

// What the sites saw while they edited (SimulatedSites::edit).
struct EditRun {
  size_t made = 0;                // edits written at the sites
  size_t acknowledged = 0;        // of those, acknowledged by the hub (durable and applied there)
  std::vector<double> latencyUs;  // per acknowledged edit: from its local write to the hub's ack
  double maxLateMs = 0;           // how far behind its schedule the driver made an edit
};

class SimulatedSites {
 public:
  // `count` fresh sites in `dir` (emptied first), each holding one customer of its own.
  // `receive`: the sites take the hub's stream of everyone's changes (credit 4); otherwise
  // they only push (credit 0), so that the hub's cost of taking changes in is measured alone.
  SimulatedSites(const std::filesystem::path& dir, size_t count, bool receive);
  ~SimulatedSites();
  SimulatedSites(const SimulatedSites&) = delete;
  SimulatedSites& operator=(const SimulatedSites&) = delete;

  size_t count() const { return sites_.size(); }
  // Connects every site to the hub at `endpoint` (plain TCP) and drives the sessions until each
  // is up and its customer acknowledged; throws after `timeout`.
  void connect(const std::string& endpoint, std::chrono::seconds timeout);
  // Keeps the links alive with heartbeats only, for `seconds`.
  void idle(double seconds);
  // Each site edits its customer `perSecond` times a second, at a phase of its own, for
  // `seconds`; then waits up to `drain` for the last acks.
  EditRun edit(double seconds, double perSecond, std::chrono::seconds drain);
  size_t up() const;          // sessions up now
  size_t reconnects() const;  // sessions that ended (silent, refused) and were opened again
  // Why they ended, and how often.
  const std::map<std::string, size_t>& endReasons() const { return endReasons_; }
  uint64_t bytesSent() const { return bytesSent_; }
  uint64_t bytesReceived() const { return bytesReceived_; }
  uint64_t changesReceived() const;  // from the hub, applied at the sites (`receive` only)

 private:
  struct Site;
  void open(Site& site);
  void send(Site& site, const sync::PeerSession::Messages& messages);
  void read(Site& site, EditRun* run);
  // Waits up to `wait` for messages and handles them; ticks a share of the sessions, so that
  // each is ticked about every 100 ms (heartbeats, timeouts).
  void step(std::chrono::milliseconds wait, EditRun* run);
  size_t unacknowledged() const;

  const bool receive_;
  std::string endpoint_;
  zmq::context_t context_;
  std::vector<std::unique_ptr<Site>> sites_;
  std::vector<zmq::pollitem_t> items_;
  size_t tickCursor_ = 0;
  Clock::time_point lastTick_ = Clock::now();
  size_t reconnects_ = 0;
  std::map<std::string, size_t> endReasons_;
  uint64_t bytesSent_ = 0, bytesReceived_ = 0;
};

}  // namespace sitesync::bench
