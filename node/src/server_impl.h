// Private to node/: the running node's state (Server::Impl), shared by its two halves:
// server.cpp (the loop, links, sending) and server_messages.cpp (what each message does).
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "node/node.h"
#include "node/src/commit_wake.h"
#include "node/src/link_monitor.h"
#include "node/src/security.h"
#include "node/src/transport.h"

namespace sitesync::node {

using Clock = std::chrono::steady_clock;

// Stream credit a peer may ask for: more buys nothing but memory at the receiver.
inline constexpr size_t kMaxCredit = 64;
// A one-shot session's connection is remembered this long after its last request.
inline constexpr auto kSessionIdle = std::chrono::seconds(60);

inline void joinInto(VersionVector& into, const VersionVector& from) {
  for (const auto& [origin, seq] : from.entries())
    if (seq > into.get(origin)) into.set(origin, seq);
}

inline bool lacksSomething(const VersionVector& have, const VersionVector& want) {
  return std::any_of(want.entries().begin(), want.entries().end(),
                     [&](const auto& e) { return e.second > have.get(e.first); });
}

struct Server::Impl {
  // One streaming link, in either direction.
  struct Link {
    bool outgoing = false;
    std::string endpoint;  // outgoing: where this node connects
    std::string identity;  // incoming: the ROUTER's routing id
    std::string key;       // the peer's CURVE public key (outgoing: the one expected; empty: plain)
    std::unique_ptr<zmq::socket_t> socket;  // outgoing: this link's DEALER (null while waiting)
    std::unique_ptr<LinkMonitor> monitor;   // outgoing: why its connection fails
    bool up = false;
    SiteId peerId = 0;
    std::string peerName;
    VersionVector peerVector;
    VersionVector peerRevoked;    // the sites the peer revoked (HelloMsg::revoked)
    uint64_t position = 1;        // next position of this node's log to consider for the peer
    size_t credit = 0;            // batches the peer lets this node have in flight
    std::deque<size_t> inFlight;  // changes per unacknowledged batch
    Clock::time_point lastHeard{}, lastSent{}, helloSent{}, nextAttempt{}, lastNoted{};
    std::chrono::milliseconds backoff{0};
    uint64_t sent = 0, received = 0, notedSent = 0, notedReceived = 0;
    uint64_t relayedAhead = 0;  // batches passed on before this node wrote them (relayAhead)
    VersionVector notedVector;
    std::string lastError;
    bool needSnapshot = false;  // the peer's log cannot serve this node: take a snapshot
    bool snapshotting = false;
    bool peerNeedsSnapshot = false;  // this node's log cannot serve the peer: nothing streams
  };

  sync::Engine& engine;
  Log log;
  ServeOptions options;
  zmq::context_t context{1};
  zmq::socket_t router{context, zmq::socket_type::router};
  Gatekeeper gate;                  // keys, allow list, CURVE, abuse
  CommitWake localCommits{engine};  // local changes committed in this process
  std::string senderKeyOfCurrent;   // the key the message being handled was sent with
  std::string_view bytesOfCurrent;  // the message being handled, as it came (while handled)
  std::string boundEndpoint;        // as bound, with the actual port (guarded by stateMutex)
  std::vector<std::unique_ptr<Link>> outgoing;
  std::map<std::string, std::unique_ptr<Link>> incoming;  // by routing id
  std::map<std::string, Clock::time_point> sessions;      // one-shot sessions, by routing id
  uint64_t logEnd = 0;
  bool stopping = false;
  Clock::time_point lastCompaction = Clock::now();
  mutable std::mutex stateMutex;  // guards the links against links() from other threads

  Impl(sync::Engine& e, Log l, ServeOptions o)
      : engine(e), log(std::move(l)), options(std::move(o)), gate(e, options.identity, log) {
    options.window = std::clamp<size_t>(options.window, 1, kMaxCredit);
    for (const auto& endpoint : options.peers) {
      auto link = std::make_unique<Link>();
      link->outgoing = true;
      link->endpoint = endpoint;
      link->backoff = options.firstBackoff;
      outgoing.push_back(std::move(link));
    }
  }

  void say(const std::string& line);

  std::string nameOf(const Link& link) const;

  HelloMsg selfHello(bool stream) const;

  // --- sending ---------------------------------------------------------------------------------

  void sendTo(Link& link, const WireMessage& message);
  void sendFrame(Link& link, zmq::message_t bytes);  // a message already encoded

  void reply(const std::string& identity, const WireMessage& message);

  // --- link lifecycle ----------------------------------------------------------------------------

  void connect(Link& link);

  // Records the peer and what moved since the last note (one small durable write).
  void notePeer(Link& link);

  // A link that failed or went silent: an outgoing one reconnects after its backoff (which
  // doubles), an incoming one is forgotten (its peer reconnects).
  void drop(Link& link, const std::string& why);

  // What the peer is to be treated as holding, from the vector it sent (withRevoked).
  VersionVector asHeldBy(const Link& link, const VersionVector& sent) const;

  // The peer's hello: both sides now know each other's vector; streaming starts.
  void establish(Link& link, const HelloMsg& hello);

  // At the hub: a site that holds no block of customer numbers yet gets its first ones, before
  // this node says what it holds (so they travel in this session).
  void leaseNumbersTo(const HelloMsg& hello);

  // Points the link's stream at the first change the peer lacks; a peer this node's log can no
  // longer serve is told to take a snapshot (its own changes still flow to this node).
  void aim(Link& link);

  // Sends what the peer lacks while it has credit.
  void pump(Link& link);

  void pumpAll();

  // --- messages ----------------------------------------------------------------------------------

  // A malformed message from a connection: counted; the fifth drops it (link or session) and
  // what it sends for the next minute is ignored.
  void strike(Link* link, const std::string* identity);

  // Applies a peer's batch and answers it once: with the ack (sent as soon as the batch is
  // durable, which for a large clean batch is before it is applied: Replication::applyBatch), or
  // with the error that refuses it (nothing written).
  void applyBatch(const ChangeBatchMsg& batch, Link* link, const std::string* identity,
                  const std::function<void(const WireMessage&)>& answer);
  // Waits for a staged batch still being written (Engine::settleStaged); logs what went wrong.
  void settle();
  // Cut-through relay: passes a clean batch (verified, all new here) on to every other
  // streaming peer that holds exactly what precedes it, before this node writes it.
  void relayAhead(const ChangeBatchMsg& batch, const sync::VerifiedBatch& verified,
                  const Link* from);

  // A refused hello is logged (both versions, or both deployments) on this side too.
  std::optional<ErrorMsg> checkHello(const HelloMsg& hello);

  // A message on a streaming link (either direction).
  void onLinkMessage(Link& link, WireMessage message);

  SnapshotChunkMsg snapshotChunk(const SnapshotRequestMsg& request);

  void onSnapshotChunk(Link& link, const SnapshotChunkMsg& chunk);

  // A message on the ROUTER from a connection without a streaming link: hellos, and the
  // stateless requests of one-shot sessions (`sync`, `join`), which must follow a hello.
  void onRouterMessage(const std::string& identity, WireMessage message);
  // A hello on the ROUTER: a streaming link starts, or a one-shot session.
  void onRouterHello(const std::string& identity, const HelloMsg& hello);
  // A one-shot session's pull: the next batch of what the peer lacks, or that it needs a
  // snapshot.
  WireMessage answerPull(const PullMsg& pull);

  // --- the loop ----------------------------------------------------------------------------------

  std::optional<WireMessage> decodeOrComplain(const zmq::message_t& bytes, Link* link,
                                              const std::string* identity);

  void readRouter();

  void readOutgoing(Link& link);

  // Heartbeats, timeouts, reconnects, and the periodic bookkeeping.
  void tick();

  // The CLI changed the allow list (from another process): the first peer allowed makes every
  // link CURVE from now on; a revoked key loses its links at once; an outgoing link whose
  // expected key changed reconnects with the new one.
  void onAllowListChanged(Gatekeeper::News news);

  bool anyInFlight() const;

  // One pass: wait for messages (1 ms while links stream, so a local write is pushed within
  // about a millisecond), handle them, push what the log gained, keep the links alive.
  void step();
};

}  // namespace sitesync::node
