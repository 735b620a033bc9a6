// Private to node/: the running node's state (Server::Impl), shared by its two halves:
// server.cpp (the loop, links, sending) and server_messages.cpp (what each message does).
#pragma once

#include <algorithm>
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
#include "sync/peer_session.h"

namespace sitesync::node {

using Clock = std::chrono::steady_clock;

struct Server::Impl {
  // One connection to a peer, in either direction, and the session on it (sync::PeerSession:
  // the protocol itself; this side maps it onto ZeroMQ frames).
  struct Link {
    bool outgoing = false;
    std::string endpoint;  // outgoing: where this node connects
    std::string identity;  // incoming: the ROUTER's routing id
    std::string key;       // the peer's CURVE public key (outgoing: the one expected; empty: plain)
    std::unique_ptr<zmq::socket_t> socket;  // outgoing: this link's DEALER (null while waiting)
    std::unique_ptr<LinkMonitor> monitor;   // outgoing: why its connection fails
    std::unique_ptr<sync::PeerSession> session;  // null between an outgoing link's attempts
    Clock::time_point nextAttempt{};
    std::chrono::milliseconds backoff{0};
    std::string lastError;
    sync::PeerSession::Counters ended;  // what the link's ended sessions moved, and knew last
    uint64_t bytesSent = 0;             // this session's frames, as on the wire
    uint64_t bytesReceived = 0;
    Clock::time_point lastTicked{};  // incoming: when its session was last ticked
    bool heard = false;              // incoming: a message came since its last tick
  };
  // Between ticks that look at every incoming link (for timers and the log's growth), only the
  // links heard from are ticked.
  static constexpr std::chrono::milliseconds kSweepEvery{10};
  // A session with nothing to stream is ticked a quarter of a heartbeat apart (250 ms by
  // default): heartbeats and silence are judged in seconds, while ticking ten thousand sessions
  // every millisecond would cost a hub most of a core.
  std::chrono::milliseconds quietTickEvery() const {
    return std::clamp(options.heartbeat / 4, std::chrono::milliseconds(1),
                      std::chrono::milliseconds(250));
  }

  sync::Engine& engine;
  Log log;
  ServeOptions options;
  zmq::context_t context{1};
  zmq::socket_t router{context, zmq::socket_type::router};
  Gatekeeper gate;                  // keys, allow list, CURVE, abuse
  CommitWake localCommits{engine};  // local changes committed in this process
  std::string boundEndpoint;        // as bound, with the actual port (guarded by stateMutex)

  bool stopping = false;
  // Sessions' records of their peers, written together once a tick (declared before the links:
  // a session destroyed with them may still hand one over).
  std::vector<sync::PeerNote> pendingNotes;
  std::vector<std::string> heardIncoming;  // routing ids of links heard since the last tick
  Clock::time_point lastSweep{};           // the last tick that looked at every incoming link
  Clock::time_point lastCompaction = Clock::now();
  std::vector<std::unique_ptr<Link>> outgoing;
  std::map<std::string, std::unique_ptr<Link>> incoming;  // by routing id
  uint64_t lastLogEnd = 0;        // the log's end at the last tick: growth wakes streaming sessions
  mutable std::mutex stateMutex;  // guards the links against links() from other threads
  std::map<SiteId, PeerBytes> endedBytes;  // what ended sessions moved, by peer

  Impl(sync::Engine& e, Log l, ServeOptions o)
      : engine(e),
        log(std::move(l)),
        options(std::move(o)),
        gate(e, options.identity, [this](const std::string& line) { say(line); }) {
    options.window = std::clamp<size_t>(options.window, 1, sync::kMaxCredit);
    for (const auto& endpoint : options.peers) {
      auto link = std::make_unique<Link>();
      link->outgoing = true;
      link->endpoint = endpoint;
      link->backoff = options.firstBackoff;
      outgoing.push_back(std::move(link));
    }
  }

  void say(const std::string& line);
  void sayAbout(const Link& link, const std::string& line);  // tagged with the link's peer
  std::string nameOf(const Link& link) const;
  static sync::SessionTime now();

  // --- sending ---------------------------------------------------------------------------------

  void sendTo(Link& link, const WireMessage& message);
  void sendAll(Link& link, const sync::PeerSession::Messages& messages);
  void sendFrame(Link& link, zmq::message_t bytes);  // a message already encoded
  void reply(const std::string& identity, const WireMessage& message);

  // --- link lifecycle ----------------------------------------------------------------------------

  // A new session on `link` (its relay and early-ack hooks set); an outgoing one says hello.
  void openSession(Link& link);
  void connect(Link& link);
  // A link that failed, went silent or whose session ended: an outgoing one reconnects after
  // its backoff (which doubles); an incoming one is forgotten by the caller (its peer
  // reconnects).
  void drop(Link& link, const std::string& why);
  // Closes the link's session, keeping what it moved for links().
  void closeSession(Link& link);
  // The session's messages go out; an ended session drops its link. False: the link dropped.
  bool settleSession(Link& link, const sync::PeerSession::Messages& out);

  // --- messages ----------------------------------------------------------------------------------

  // A malformed message from a connection: counted; the fifth drops it and what it sends for
  // the next minute is ignored.
  void strike(Link* link, const std::string* identity);
  // A message for a link's session; strikes a malformed batch.
  void deliver(Link& link, const WireMessage& message, std::string_view asReceived);
  // Waits for a staged batch still being written (Engine::settleStaged); logs what went wrong.
  void settle();
  // Cut-through relay: passes a clean batch (verified, all new here) on to every other
  // session that holds exactly what precedes it, before this node writes it.
  void relayAhead(const ChangeBatchMsg& batch, const sync::VerifiedBatch& verified,
                  const Link* from);
  // A message on the ROUTER: a hello opens a session (a link); other messages go to the
  // connection's session, and without one are answered kNoSession.
  void onRouterMessage(const std::string& identity, const WireMessage& message,
                       std::string_view asReceived, const std::string& senderKey);

  // --- the loop ----------------------------------------------------------------------------------

  std::optional<WireMessage> decodeOrComplain(const zmq::message_t& bytes, Link* link,
                                              const std::string* identity);
  void readRouter();
  void readOutgoing(Link& link);
  // Streams, heartbeats, timeouts of every session; reconnects; the periodic bookkeeping.
  void tick();
  void tickOutgoing(Link& link);
  // Ticks one incoming link's session; false: it ended (the caller forgets the link).
  bool tickIncoming(Link& link, Clock::time_point at);
  void writeNotes();  // the sessions' records of their peers, in one write
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
