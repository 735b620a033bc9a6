// The simulation's nodes and network (tests/unit/simulation_test.cpp). A node runs the real
// engine over a real LMDB store; a connection's ends are the real sync::PeerSession; the network
// carries their messages as encoded on the wire and loses, duplicates, delays and reorders them,
// drops whatever crosses a partition, and restarts nodes (their sessions go with them).
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/protocol.h"
#include "storage/store.h"
#include "sync/engine.h"
#include "sync/peer_session.h"
#include "tests/unit/test_support.h"

namespace sitesync::testing::sim {

inline constexpr uint64_t kStart = 1'700'000'000'000;

// Every choice of a schedule, from its seed.
class Dice {
 public:
  explicit Dice(uint64_t seed) : rng_(seed) {}
  size_t pick(size_t n) { return n == 0 ? 0 : size_t(rng_() % n); }
  bool chance(int percent) { return pick(100) < size_t(percent); }

 private:
  std::mt19937_64 rng_;
};

struct SimNode {
  SiteId id = 0;
  int64_t skew = 0;  // this node's wall clock minus true time
  TempDir dir;
  TestClock clock{kStart};
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<sync::Engine> engine;
  // Takes every batch through its inbox: acknowledged once staged, written after (as a node
  // does with large batches), so that the schedule covers that path and crashes within it.
  bool staging = false;

  void open() {
    store = storage::Store::open(dir.path(), storage::Options{.durable = false});
    engine = std::make_unique<sync::Engine>(*store, clock);
    if (staging) engine->stageBatchesFrom(1);
  }
  // Everything in memory goes; the store is read back from disk, and what is staged in the
  // inbox is applied before the node serves (as a node does when it starts).
  void restart() {
    engine.reset();
    store.reset();
    open();
    engine->applyStagedBatches();
  }
};

// What the protocol did, over a run (the test checks that the schedules reach these paths).
struct SessionCounts {
  size_t sessions = 0;        // sessions made, at either end
  size_t relayed = 0;         // batches passed on ahead of their write (takeRelayed)
  size_t crashes = 0;         // nodes that crashed between staging a batch and its ack
  size_t snapshots = 0;       // snapshots taken in a streaming session (needSnapshot)
  size_t unacknowledged = 0;  // sessions ended for a batch not acknowledged in time
  size_t silent = 0;          // sessions ended for silence
  size_t refused = 0;         // sessions ended by the peer's error

  SessionCounts& operator+=(const SessionCounts& o) {
    sessions += o.sessions;
    relayed += o.relayed;
    crashes += o.crashes;
    snapshots += o.snapshots;
    unacknowledged += o.unacknowledged;
    silent += o.silent;
    refused += o.refused;
    return *this;
  }
};

// A connection: its initiator's session and, once the initiator's hello arrived, the
// responder's (as a ROUTER makes one per hello).
struct Connection {
  size_t node[2] = {0, 0};                    // [0] the initiator, [1] the responder
  sync::SessionOptions options[2];            // each end's
  std::unique_ptr<sync::PeerSession> end[2];  // each end's session, while it lasts
  bool answered = false;                      // the responder's session was made
  bool closed = false;                        // an end is gone: no new session on it
};

class SimNetwork {
 public:
  SimNetwork(Dice& dice, std::vector<std::unique_ptr<SimNode>>& nodes, std::string& broken)
      : dice_(dice), nodes_(nodes), broken_(broken), trace_(::getenv("SIM_TRACE") != nullptr) {}
  ~SimNetwork() { closeAll(); }  // before the nodes: a session records its peer as it goes
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  void setTime(uint64_t sinceStart) { now_ = sync::SessionTime(int64_t(sinceStart)); }
  SessionCounts counts;
  size_t batchChanges = 20;  // a new session's batches hold at most 1 to this many changes

  // Partitions: what crosses a link that is down is lost.
  bool linkUp(size_t a, size_t b) const { return !down_.count({std::min(a, b), std::max(a, b)}); }
  void flipLink(size_t a, size_t b) {
    if (a == b) return;
    const auto link = std::pair{std::min(a, b), std::max(a, b)};
    if (!down_.erase(link)) down_.insert(link);
  }
  void healLinks() { down_.clear(); }

  // `from` connects to `to` (its hello goes out), unless their link is down or `from` has a
  // session with `to` already. Returns the connection's id, 0 when none was opened.
  size_t open(size_t from, size_t to, bool snapshotOnly = false) {
    if (from == to || !linkUp(from, to)) return 0;
    for (const auto& [id, c] : connections_)
      if (c.node[0] == from && c.node[1] == to && c.end[0]) return 0;
    const size_t id = nextId_++;
    Connection& c = connections_[id];
    c.node[0] = from;
    c.node[1] = to;
    for (auto& o : c.options) {
      o.credit = 1 + dice_.pick(4);
      o.batchChanges = 1 + dice_.pick(batchChanges);
      o.batchBytes = size_t(1) << 20;
      o.heartbeat = sync::SessionTime(200);
      o.deadAfter = sync::SessionTime(1000);
    }
    // A laptop's join and catch-ups in small chunks in one connection in two: cut by
    // partitions and crashes, continued from other peers, some repeated. (Full snapshots keep
    // the 64 KiB floor: small ones make one seed diverge, docs/protocol.md "Snapshots".)
    const bool laptop =
        !nodes_[from]->engine->meta().filter.empty() || !nodes_[to]->engine->meta().filter.empty();
    if (laptop && dice_.pick(2) == 0)
      for (auto& o : c.options) o.largestChunk = 256 + dice_.pick(4096);
    c.options[0].snapshotOnly = snapshotOnly;
    makeEnd(id, 0);
    post(id, 1, c.end[0]->start(now_));
    return id;
  }

  sync::PeerSession* session(size_t id, int side) {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.end[side].get();
  }
  void close(size_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    for (auto& end : it->second.end) end.reset();
    connections_.erase(it);
  }
  void closeAll() {
    while (!connections_.empty()) close(connections_.begin()->first);
    packets_.clear();
  }
  // Closes every connection that is not established at both ends (the heal keeps the rest).
  void closeBroken() {
    for (size_t id : ids()) {
      const Connection& c = connections_.at(id);
      if (!c.end[0] || !c.end[1] || !c.end[0]->up() || !c.end[1]->up()) close(id);
    }
  }

  // A node restarts: its sessions end with it, before its engine does (a session records its
  // peer as it goes); the other ends notice by themselves (silence, an unacknowledged batch).
  void restart(size_t node) {
    for (size_t id : ids()) {
      Connection& c = connections_.at(id);
      for (int side : {0, 1})
        if (c.node[side] == node && c.end[side]) {
          c.end[side].reset();
          c.closed = true;
        }
      forgetIfGone(id);
    }
    trace(0, node, "restarts");
    nodes_[node]->restart();
  }

  size_t pending() const { return packets_.size(); }

  // One act of the network on a packet: lost, duplicated (the copy comes later), delayed (not
  // picked this time), or delivered: mostly the oldest of its stream, now and then another.
  void act() {
    if (packets_.empty()) return;
    size_t i = dice_.pick(packets_.size());
    const size_t what = dice_.pick(100);
    if (what < 7) {
      if (trace_) trace(packets_[i].connection, destination(packets_[i]), "lost");
      packets_.erase(packets_.begin() + long(i));
    } else if (what < 12) {
      packets_.push_back(packets_[i]);
    } else if (what >= 25) {
      if (!dice_.chance(10)) i = oldestOf(packets_[i].connection, packets_[i].to);
      take(i);
    }
  }
  // Delivers the oldest packet (of connection `only` when not 0); false when there was none.
  bool deliverNext(size_t only = 0) {
    for (size_t i = 0; i < packets_.size(); ++i)
      if (only == 0 || packets_[i].connection == only) {
        take(i);
        return true;
      }
    return false;
  }
  // Every session's timers and stream (of connection `only` when not 0).
  void tick(size_t only = 0) {
    for (size_t id : ids())
      if (only == 0 || id == only)
        for (int side : {0, 1}) tickEnd(id, side);
    if (++ticks_ % 4 == 0) checkInSync();  // now and then: it reads every node
  }
  // 10. A session in sync: its peer holds every change this node holds (what an ack promised).
  void checkInSync() {
    std::map<size_t, VersionVector> held;  // each node's, read once
    auto heldAt = [&](size_t node) -> const VersionVector& {
      auto it = held.find(node);
      if (it == held.end()) it = held.emplace(node, nodes_[node]->engine->heldVector()).first;
      return it->second;
    };
    for (const auto& [id, c] : connections_)
      for (int side : {0, 1}) {
        const sync::PeerSession* end = c.end[side].get();
        if (!end || c.options[side].snapshotOnly || !broken_.empty() || !end->inSync()) continue;
        const VersionVector& theirs = heldAt(c.node[1 - side]);
        // The peer takes none of a site it revoked past what it held then (HelloMsg::revoked).
        const VersionVector revoked = nodes_[c.node[1 - side]]->engine->meta().revokedSites;
        auto revokedThere = [&](SiteId origin) {
          return revoked.entries().count(origin) && theirs.get(origin) >= revoked.get(origin);
        };
        // A filtered site promises its own changes only, and a full site promises a filtered
        // one nothing (it sends it no changes: it answers its filtered snapshot requests).
        // Its own changes from one that names a customer the peer had not seen wait for another
        // peer (heldBackFrom): promised up to there.
        const SiteId self = nodes_[c.node[side]]->id;
        const bool mineFiltered = !nodes_[c.node[side]]->engine->meta().filter.empty();
        if (!nodes_[c.node[1 - side]]->engine->meta().filter.empty()) continue;
        const uint64_t heldBackFrom = end->counters().heldBackFrom;
        for (auto [origin, seq] : heldAt(c.node[side]).entries()) {
          if (origin == self && heldBackFrom > 0) seq = std::min(seq, heldBackFrom - 1);
          if (theirs.get(origin) < seq && !revokedThere(origin) && broken_.empty() &&
              (!mineFiltered || origin == self))
            broken_ = "10. session #" + std::to_string(id) + " at node " +
                      std::to_string(c.node[side]) + " is in sync, but its peer lacks " +
                      siteIdToHex(origin) + ":" + std::to_string(theirs.get(origin) + 1) + ".." +
                      std::to_string(seq);
        }
      }
  }
  // Every connection is established at both ends and both hold what the other holds.
  bool settled() const {
    for (const auto& [id, c] : connections_)
      for (const auto& end : c.end)
        if (!end || !end->inSync()) return false;
    return true;
  }
  // Whether `node` has a session with `peer` that it opened.
  bool connected(size_t node, size_t peer) const {
    for (const auto& [id, c] : connections_)
      if (c.node[0] == node && c.node[1] == peer && c.end[0]) return true;
    return false;
  }
  // The sessions' states, for a heal that does not settle.
  std::string describe() const {
    std::string out;
    for (const auto& [id, c] : connections_)
      for (int side : {0, 1}) {
        out += "\n  #" + std::to_string(id) + " node " + std::to_string(c.node[side]) +
               (side == 0 ? " to " : " from ") + std::to_string(c.node[1 - side]) + ": ";
        const sync::PeerSession* end = c.end[side].get();
        if (!end) {
          out += "gone";
          continue;
        }
        const VersionVector mine = nodes_[c.node[side]]->engine->heldVector();
        uint64_t lacks = 0;  // of this node's changes, those its peer lacks as far as it knows
        for (const auto& [origin, seq] : mine.entries())
          lacks += seq - std::min(seq, end->counters().peerVector.get(origin));
        out += std::string(end->up() ? "up" : "not up") + (end->inSync() ? ", in sync" : "") +
               ", " + std::to_string(end->inFlight()) + " in flight, the peer lacks " +
               std::to_string(lacks);
      }
    return out;
  }

 private:
  struct Packet {
    size_t connection = 0;
    int to = 0;         // the end it goes to
    std::string bytes;  // the message as on the wire
  };
  struct CrashAfterStaging {};  // not a std::exception: nothing on the way catches it
  static constexpr size_t kNobody = ~size_t(0);

  void trace(size_t id, size_t at, const std::string& line) const {
    if (trace_) std::cerr << now_.count() << " #" << id << " node " << at << ": " << line << "\n";
  }
  // A message in a trace line: its kind, and the changes or the vector it carries.
  static std::string textOf(const WireMessage& m) {
    auto vector = [](const char* kind, const VersionVector& v) {
      std::string out = kind;
      for (const auto& [origin, seq] : v.entries())
        out += " " + siteIdToHex(origin).substr(0, 4) + ":" + std::to_string(seq);
      return out;
    };
    if (const auto* hello = std::get_if<HelloMsg>(&m)) return vector("hello", hello->vector);
    if (const auto* ack = std::get_if<AckMsg>(&m)) return vector("ack", ack->vector);
    if (const auto* beat = std::get_if<HeartbeatMsg>(&m)) return vector("heartbeat", beat->vector);
    if (const auto* batch = std::get_if<ChangeBatchMsg>(&m)) {
      std::string out = "batch";
      for (const auto& bytes : batch->changes) {
        const ChangeId id = decodeChangeId(bytes);
        out += " " + siteIdToHex(id.origin).substr(0, 4) + ":" + std::to_string(id.seq);
      }
      return out;
    }
    if (const auto* error = std::get_if<ErrorMsg>(&m)) return "error: " + error->message;
    if (std::holds_alternative<SnapshotRequestMsg>(m)) return "snapshot request";
    if (std::holds_alternative<SnapshotChunkMsg>(m)) return "snapshot chunk";
    return "other";
  }
  size_t destination(const Packet& p) const {
    auto it = connections_.find(p.connection);
    return it == connections_.end() ? kNobody : it->second.node[p.to];
  }
  std::vector<size_t> ids() const {
    std::vector<size_t> out;
    for (const auto& [id, c] : connections_) out.push_back(id);
    return out;
  }
  size_t oldestOf(size_t connection, int to) const {
    for (size_t i = 0;; ++i)
      if (packets_[i].connection == connection && packets_[i].to == to) return i;
  }
  void take(size_t i) {
    Packet packet = std::move(packets_[i]);
    packets_.erase(packets_.begin() + long(i));
    deliver(packet);
  }

  void post(size_t id, int to, const sync::PeerSession::Messages& messages) {
    for (const auto& m : messages) post(id, to, m);
  }
  void post(size_t id, int to, const WireMessage& message) {
    Packet packet{id, to, {}};
    encode(message, packet.bytes);
    packets_.push_back(std::move(packet));
  }

  void makeEnd(size_t id, int side) {
    Connection& c = connections_.at(id);
    const size_t at = c.node[side];
    sync::SessionLink link{side == 0, side == 0 ? "sim://" + std::to_string(c.node[1]) : "", "",
                           ""};
    sync::PeerSession::Log log;
    if (trace_) log = [this, id, at](const std::string& line) { trace(id, at, line); };
    c.end[side] = std::make_unique<sync::PeerSession>(*nodes_[at]->engine, std::move(link),
                                                      c.options[side], std::move(log));
    ++counts.sessions;
    // An ack of a staged batch and a pipelined snapshot request go out at once.
    c.end[side]->sendNow([this, id, side, at](const WireMessage& m) {
      if (crashAt_ == at && std::holds_alternative<AckMsg>(m)) throw CrashAfterStaging{};
      post(id, 1 - side, m);
    });
    c.end[side]->onVerified(
        [this, id, side, at](const ChangeBatchMsg& batch, const sync::VerifiedBatch& verified) {
          relay(at, id, side, batch, verified);
        });
  }

  // A clean batch goes on, as it came, to the node's other sessions whose peers can take it.
  void relay(size_t at, size_t from, int fromSide, const ChangeBatchMsg& batch,
             const sync::VerifiedBatch& verified) {
    if (!verified.clean) return;
    for (auto& [id, c] : connections_)
      for (int side : {0, 1}) {
        if (c.node[side] != at || !c.end[side] || (id == from && side == fromSide)) continue;
        if (!c.end[side]->takeRelayed(verified, batch.changes.size(), now_)) continue;
        ++counts.relayed;
        post(id, 1 - side, ChangeBatchMsg{batch.changes, false});
        trace(id, at, "relays a batch ahead");
      }
  }

  void deliver(const Packet& packet) {
    auto it = connections_.find(packet.connection);
    if (it == connections_.end()) return;  // both ends gone
    Connection& c = it->second;
    const int side = packet.to;
    const size_t at = c.node[side];
    const WireMessage message = decodeWireMessage(packet.bytes);
    const bool up = linkUp(c.node[0], c.node[1]);
    if (trace_) trace(packet.connection, at, textOf(message) + (up ? "" : ": lost in a partition"));
    if (!up) return;
    if (!c.end[side]) {
      // Only a hello makes the responder's session, once (a ROUTER's session per hello).
      if (side == 0 || c.answered || c.closed || !std::holds_alternative<HelloMsg>(message)) return;
      c.answered = true;
      makeEnd(packet.connection, 1);
    }
    const bool batch = std::holds_alternative<ChangeBatchMsg>(message);
    crashAt_ = batch && nodes_[at]->staging && dice_.chance(10) ? at : kNobody;
    sync::PeerSession::Messages out;
    try {
      out = c.end[side]->onMessage(message, now_, batch ? std::string_view(packet.bytes) : "");
    } catch (const CrashAfterStaging&) {
      // Staged in the inbox, its ack not sent: the node applies it when it starts again.
      crashAt_ = kNobody;
      ++counts.crashes;
      restart(at);
      return;
    }
    crashAt_ = kNobody;
    if (const auto* chunk = std::get_if<SnapshotChunkMsg>(&message))
      counts.snapshots +=
          chunk->complete && c.end[side]->snapshotDone() && !c.options[side].snapshotOnly;
    settle(at);  // the staged batch is written before anything reads the log
    // onMessage never streams; onTick does.
    if (after(packet.connection, side, out)) tickEnd(packet.connection, side);
  }

  // A staging node's batch is written at once, so that the schedule stays deterministic; one
  // that then cannot apply is a broken promise (its sender may forget it once acknowledged).
  void settle(size_t at) {
    if (!nodes_[at]->staging) return;
    if (std::string error = nodes_[at]->engine->settleStaged(); !error.empty() && broken_.empty())
      broken_ = "1. a staged batch at node " + std::to_string(at) + ": " + error;
  }

  void tickEnd(size_t id, int side) {
    auto it = connections_.find(id);
    if (it != connections_.end() && it->second.end[side])
      after(id, side, it->second.end[side]->onTick(now_));
  }

  // What a session said goes on the network; a session never has more batches in flight than
  // its peer's credit; an ended one goes (the transport drops the connection). Returns whether
  // the session is still there.
  bool after(size_t id, int side, const sync::PeerSession::Messages& out) {
    post(id, 1 - side, out);
    Connection& c = connections_.at(id);
    auto& end = c.end[side];
    const auto& peer = c.options[1 - side];
    if (end->inFlight() > (peer.snapshotOnly ? 0 : peer.credit) && broken_.empty())
      broken_ = "8. " + std::to_string(end->inFlight()) + " batches in flight on #" +
                std::to_string(id) + ", its peer's credit is " + std::to_string(peer.credit);
    if (!end->ended()) return true;
    const std::string& why = end->endReason();
    trace(id, c.node[side], "ended: " + why);
    counts.unacknowledged += why.find("not acknowledged") != std::string::npos;
    counts.silent += why.find("silent") != std::string::npos;
    counts.refused += end->refusal().has_value();
    end.reset();
    c.closed = true;
    forgetIfGone(id);
    return false;
  }
  void forgetIfGone(size_t id) {
    auto it = connections_.find(id);
    if (it != connections_.end() && it->second.closed && !it->second.end[0] && !it->second.end[1])
      connections_.erase(it);
  }

  Dice& dice_;
  std::vector<std::unique_ptr<SimNode>>& nodes_;
  std::string& broken_;
  const bool trace_;
  sync::SessionTime now_{0};
  std::map<size_t, Connection> connections_;
  size_t nextId_ = 1;
  std::deque<Packet> packets_;
  std::set<std::pair<size_t, size_t>> down_;
  size_t crashAt_ = kNobody;
  size_t ticks_ = 0;  // the node whose next early ack crashes it
};

}  // namespace sitesync::testing::sim
