// The running node: one thread, one zmq poll over the ROUTER socket (peers that connect here)
// and one DEALER per configured peer. Requests of one-shot sessions (`sitesync sync`, `join`)
// are answered statelessly; streaming links keep per-peer state (what the peer holds, where
// in this node's log its stream stands, batches in flight) and push changes as the log grows.
#include <algorithm>
#include <map>

#include "node/node.h"
#include "node/src/commit_wake.h"
#include "node/src/security.h"
#include "node/src/transport.h"

namespace sitesync::node {

namespace {

using Clock = std::chrono::steady_clock;

// Stream credit a peer may ask for: more buys nothing but memory at the receiver.
constexpr size_t kMaxCredit = 64;
// A one-shot session's connection is remembered this long after its last request.
constexpr auto kSessionIdle = std::chrono::seconds(60);

void joinInto(VersionVector& into, const VersionVector& from) {
  for (const auto& [origin, seq] : from.entries())
    if (seq > into.get(origin)) into.set(origin, seq);
}

bool lacksSomething(const VersionVector& have, const VersionVector& want) {
  return std::any_of(want.entries().begin(), want.entries().end(),
                     [&](const auto& e) { return e.second > have.get(e.first); });
}

}  // namespace

struct Server::Impl {
  // One streaming link, in either direction.
  struct Link {
    bool outgoing = false;
    std::string endpoint;  // outgoing: where this node connects
    std::string identity;  // incoming: the ROUTER's routing id
    std::string key;       // the peer's CURVE public key (outgoing: the one expected; empty: plain)
    std::unique_ptr<zmq::socket_t> socket;  // outgoing: this link's DEALER (null while waiting)
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

  void say(const std::string& line) {
    if (log) log(line);
  }

  std::string nameOf(const Link& link) const {
    std::string who = link.peerName.empty() ? "a peer" : "'" + link.peerName + "'";
    return link.outgoing ? who + " at " + link.endpoint : who + " (connected here)";
  }

  HelloMsg selfHello(bool stream) const {
    auto status = engine.status();
    HelloMsg hello{kProtocolVersion,  status.meta.siteId, status.meta.siteName,
                   status.meta.isHub, status.vector,      status.meta.deployment};
    hello.stream = stream;
    hello.credit = stream ? uint32_t(options.window) : 0;
    if (gate.secure()) engine.proveIdentity(hello, gate.identity().publicKey);
    hello.revoked = status.meta.revokedSites;
    return hello;
  }

  // --- sending ---------------------------------------------------------------------------------

  void sendTo(Link& link, const WireMessage& message) {
    zmq::message_t bytes = frame(message);
    if (link.outgoing) {
      if (!link.socket) return;
      (void)link.socket->send(bytes, zmq::send_flags::dontwait);
    } else {
      // A ROUTER drops a message for a peer that is gone; the link then times out.
      router.send(zmq::buffer(link.identity), zmq::send_flags::sndmore);
      (void)router.send(bytes, zmq::send_flags::dontwait);
    }
    link.lastSent = Clock::now();
  }

  void reply(const std::string& identity, const WireMessage& message) {
    router.send(zmq::buffer(identity), zmq::send_flags::sndmore);
    (void)router.send(frame(message), zmq::send_flags::dontwait);
  }

  // --- link lifecycle ----------------------------------------------------------------------------

  void connect(Link& link) {
    link.key.clear();
    if (gate.secure()) {
      const AllowedPeer* peer = gate.peerAt(link.endpoint);
      if (!peer) {
        drop(link, "no peer on the allow list listens at " + link.endpoint +
                       " (sitesync peers add --endpoint)");
        return;
      }
      link.key = peer->publicKey;
    }
    link.socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
    link.socket->set(zmq::sockopt::linger, 0);
    link.socket->set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
    if (gate.secure()) makeCurveClient(*link.socket, gate.identity(), link.key);
    link.socket->connect(link.endpoint);
    link.up = false;
    link.inFlight.clear();
    link.helloSent = Clock::now();
    sendTo(link, selfHello(true));
  }

  // Records the peer and what moved since the last note (one small durable write).
  void notePeer(Link& link) {
    if (link.peerId == 0) return;
    engine.notePeerSession(link.peerId, link.peerName, link.outgoing ? link.endpoint : "",
                           link.peerVector, link.sent - link.notedSent,
                           link.received - link.notedReceived);
    link.notedSent = link.sent;
    link.notedReceived = link.received;
    link.notedVector = link.peerVector;
    link.lastNoted = Clock::now();
  }

  // A link that failed or went silent: an outgoing one reconnects after its backoff (which
  // doubles), an incoming one is forgotten (its peer reconnects).
  void drop(Link& link, const std::string& why) {
    if (why != link.lastError || link.up) say("link with " + nameOf(link) + " down: " + why);
    link.lastError = why;
    if (link.up) notePeer(link);
    link.up = false;
    link.inFlight.clear();
    link.snapshotting = false;
    if (link.outgoing) {
      link.socket.reset();
      link.nextAttempt = Clock::now() + link.backoff;
      link.backoff = std::min(link.backoff * 2, options.maxBackoff);
    }
  }

  // What the peer is to be treated as holding, from the vector it sent (withRevoked).
  VersionVector asHeldBy(const Link& link, const VersionVector& sent) const {
    if (link.peerRevoked.entries().empty()) return sent;
    return withRevoked(sent, link.peerRevoked, engine.status().vector);
  }

  // The peer's hello: both sides now know each other's vector; streaming starts.
  void establish(Link& link, const HelloMsg& hello) {
    leaseNumbersTo(hello);
    link.up = true;
    link.peerId = hello.siteId;
    link.peerName = hello.siteName;
    link.peerRevoked = hello.revoked;
    link.peerVector = asHeldBy(link, hello.vector);
    link.credit = std::clamp<size_t>(hello.credit, 1, kMaxCredit);
    link.inFlight.clear();
    link.lastHeard = Clock::now();
    link.backoff = options.firstBackoff;
    link.lastError.clear();
    aim(link);
    say("link with " + nameOf(link) + " up");
    notePeer(link);
  }

  // At the hub: a site that holds no block of customer numbers yet gets its first ones, before
  // this node says what it holds (so they travel in this session).
  void leaseNumbersTo(const HelloMsg& hello) {
    if (hello.isHub) return;
    try {
      if (size_t blocks = engine.ensureLeases(hello.siteId))
        say("leased " + std::to_string(blocks) + " customer number blocks to '" + hello.siteName +
            "'");
    } catch (const std::exception& e) {
      say("could not lease customer numbers to '" + hello.siteName + "': " + e.what());
    }
  }

  // Points the link's stream at the first change the peer lacks; a peer this node's log can no
  // longer serve is told to take a snapshot (its own changes still flow to this node).
  void aim(Link& link) {
    link.peerNeedsSnapshot = !engine.logReaches(link.peerVector);
    if (link.peerNeedsSnapshot) {
      sendTo(link, needSnapshotError());
      return;
    }
    link.position = engine.firstPositionMissingFrom(link.peerVector);
  }

  // Sends what the peer lacks while it has credit.
  void pump(Link& link) {
    if (!link.up || stopping) return;
    while (!link.peerNeedsSnapshot && link.inFlight.size() < link.credit &&
           link.position <= logEnd) {
      auto batch = engine.changesMissingFrom(link.peerVector, link.position, options.batchChanges,
                                             options.batchBytes);
      link.position = batch.nextPosition;
      if (batch.changes.empty()) continue;
      link.inFlight.push_back(batch.changes.size());
      sendTo(link, ChangeBatchMsg{std::move(batch.changes), batch.complete});
    }
    // A peer that must re-bootstrap first sends everything it has, then asks for the snapshot.
    if (link.needSnapshot && !link.snapshotting && link.inFlight.empty() &&
        link.position > logEnd) {
      link.snapshotting = true;
      say("taking a snapshot from " + nameOf(link) + ": its log no longer reaches this node's");
      sendTo(link, SnapshotRequestMsg{engine.meta().snapshotNextKey, kSnapshotChunkBytes});
    }
  }

  void pumpAll() {
    for (auto& link : outgoing) pump(*link);
    for (auto& [id, link] : incoming) pump(*link);
  }

  // --- messages ----------------------------------------------------------------------------------

  // A malformed message from a connection: counted; the fifth drops it (link or session) and
  // what it sends for the next minute is ignored.
  void strike(Link* link, const std::string* identity) {
    const std::string who = link ? (link->outgoing ? link->endpoint : link->identity)
                                 : (identity ? *identity : std::string());
    if (!gate.strike(who)) return;
    say("dropped " + (link ? nameOf(*link) : std::string("a session")) + " after " +
        std::to_string(Gatekeeper::kMaxStrikes) + " malformed messages; ignoring it for " +
        std::to_string(Gatekeeper::kQuarantine.count()) + " s");
    if (link) drop(*link, "too many malformed messages");
    // An incoming connection (link or session) is ignored for a while; an outgoing link backs off.
    if (const std::string* id = link && !link->outgoing ? &link->identity : identity) {
      sessions.erase(*id);
      gate.quarantine(*id);
    }
  }

  // Applies a peer's batch; returns the ack, or the error that refuses it (nothing written).
  WireMessage applyBatch(const ChangeBatchMsg& batch, Link* link,
                         const std::string* identity = nullptr) {
    try {
      auto report = engine.applyBatch(batch.changes);
      if (!report.followUpError.empty())
        say("applied a batch, but what it called for failed: " + report.followUpError);
      if (link) {
        link->received += report.applied;
        joinInto(link->peerVector, report.carried);  // the sender holds what it sent
      }
      return AckMsg{report.vector};
    } catch (const DecodeError& e) {
      say(std::string("malformed batch: ") + e.what());
      strike(link, identity);
      return ErrorMsg{WireError::kMalformed, e.what()};
    } catch (const std::exception& e) {
      say(std::string("refused a batch: ") + e.what());
      return ErrorMsg{WireError::kCannotApply, e.what()};
    }
  }

  // A refused hello is logged (both versions, or both deployments) on this side too.
  std::optional<ErrorMsg> checkHello(const HelloMsg& hello) {
    auto refusal = refuseHello(engine, hello, senderKeyOfCurrent);
    if (refusal) say("refused '" + hello.siteName + "': " + refusal->message);
    return refusal;
  }

  // A message on a streaming link (either direction).
  void onLinkMessage(Link& link, WireMessage message) {
    link.lastHeard = Clock::now();
    if (auto* batch = std::get_if<ChangeBatchMsg>(&message)) {
      auto answer = applyBatch(*batch, &link);
      sendTo(link, answer);
      if (std::holds_alternative<ErrorMsg>(answer)) drop(link, "sent a batch that was refused");
    } else if (auto* ack = std::get_if<AckMsg>(&message)) {
      if (link.inFlight.empty()) return;
      link.sent += link.inFlight.front();
      link.inFlight.pop_front();
      joinInto(link.peerVector, asHeldBy(link, ack->vector));
    } else if (auto* heartbeat = std::get_if<HeartbeatMsg>(&message)) {
      // With nothing in flight the peer's vector is at least what it acknowledged. If it is
      // less, batches were lost (a reconnect under the link): stream again from there. A peer
      // that was sent for a snapshot says what it holds now the same way.
      const VersionVector held = asHeldBy(link, heartbeat->vector);
      if (link.inFlight.empty() &&
          (link.peerNeedsSnapshot ? !(held == link.peerVector)
                                  : lacksSomething(held, link.peerVector))) {
        link.peerVector = held;
        aim(link);
      } else {
        joinInto(link.peerVector, held);
      }
    } else if (auto* request = std::get_if<SnapshotRequestMsg>(&message)) {
      sendTo(link, snapshotChunk(*request));
    } else if (auto* chunk = std::get_if<SnapshotChunkMsg>(&message)) {
      onSnapshotChunk(link, *chunk);
    } else if (auto* error = std::get_if<ErrorMsg>(&message)) {
      if (error->code == WireError::kNeedSnapshot) {
        link.needSnapshot = true;
        return;
      }
      drop(link, "peer refused: " + error->message);
    } else if (std::holds_alternative<HelloMsg>(message)) {
      // A repeated hello on an established link (the peer restarted the stream): re-aim.
      auto& hello = std::get<HelloMsg>(message);
      if (!link.outgoing) {
        if (auto refusal = checkHello(hello)) {
          sendTo(link, *refusal);
          return;
        }
        sendTo(link, selfHello(true));
      }
      establish(link, hello);
    } else {
      sendTo(link, ErrorMsg{WireError::kMalformed, "unexpected message on a streaming link"});
    }
  }

  SnapshotChunkMsg snapshotChunk(const SnapshotRequestMsg& request) {
    const size_t maxBytes = std::clamp<size_t>(request.maxBytes, 1 << 16, size_t(16) << 20);
    return engine.snapshotChunk(request.afterKey, maxBytes);
  }

  void onSnapshotChunk(Link& link, const SnapshotChunkMsg& chunk) {
    if (!link.snapshotting) return;
    try {
      engine.mergeSnapshotChunk(chunk);
    } catch (const std::exception& e) {
      drop(link, std::string("snapshot refused: ") + e.what());
      return;
    }
    if (!chunk.complete) {
      sendTo(link, SnapshotRequestMsg{chunk.nextKey, kSnapshotChunkBytes});
      return;
    }
    link.snapshotting = false;
    link.needSnapshot = false;
    say("snapshot from " + nameOf(link) + " complete");
    // Tell the peer what this node holds now, so its stream resumes from there.
    sendTo(link, HeartbeatMsg{engine.status().vector});
  }

  // A message on the ROUTER from a connection without a streaming link: hellos, and the
  // stateless requests of one-shot sessions (`sync`, `join`), which must follow a hello.
  void onRouterMessage(const std::string& identity, WireMessage message) {
    if (auto it = incoming.find(identity); it != incoming.end()) {
      onLinkMessage(*it->second, std::move(message));
      return;
    }
    if (auto* hello = std::get_if<HelloMsg>(&message)) {
      if (auto refusal = checkHello(*hello)) {
        reply(identity, *refusal);
        return;
      }
      if (hello->stream) {
        auto link = std::make_unique<Link>();
        link->identity = identity;
        link->key = senderKeyOfCurrent;
        Link& added = *link;
        incoming[identity] = std::move(link);
        sendTo(added, selfHello(true));
        establish(added, *hello);
        return;
      }
      sessions[identity] = Clock::now();
      engine.notePeerSession(hello->siteId, hello->siteName, {}, hello->vector, 0, 0);
      leaseNumbersTo(*hello);
      reply(identity, selfHello(false));
      return;
    }
    auto session = sessions.find(identity);
    if (session == sessions.end()) {
      reply(identity,
            ErrorMsg{WireError::kNoSession, "say hello first: this connection has no session"});
      return;
    }
    session->second = Clock::now();
    if (auto* batch = std::get_if<ChangeBatchMsg>(&message)) {
      reply(identity, applyBatch(*batch, nullptr, &identity));
    } else if (auto* pull = std::get_if<PullMsg>(&message)) {
      if (pull->fromPosition == 0 && !engine.logReaches(pull->vector)) {
        reply(identity, needSnapshotError());
        return;
      }
      uint64_t from =
          pull->fromPosition ? pull->fromPosition : engine.firstPositionMissingFrom(pull->vector);
      auto out =
          engine.changesMissingFrom(pull->vector, from, options.batchChanges, options.batchBytes);
      reply(identity,
            PullReplyMsg{ChangeBatchMsg{std::move(out.changes), out.complete}, out.nextPosition});
    } else if (auto* request = std::get_if<SnapshotRequestMsg>(&message)) {
      reply(identity, snapshotChunk(*request));
    } else if (std::holds_alternative<HeartbeatMsg>(message)) {
      // a one-shot session keeping itself alive: nothing to answer
    } else {
      reply(identity, ErrorMsg{WireError::kMalformed,
                               "unexpected message: requests are hello, changes, pull and "
                               "snapshotRequest"});
    }
  }

  // --- the loop ----------------------------------------------------------------------------------

  std::optional<WireMessage> decodeOrComplain(const zmq::message_t& bytes, Link* link,
                                              const std::string* identity) {
    try {
      return decodeWireMessage(bytes.to_string_view());
    } catch (const DecodeError& e) {
      say(std::string("malformed message: ") + e.what());
      ErrorMsg error{WireError::kMalformed, e.what()};
      if (link)
        sendTo(*link, error);
      else if (identity)
        reply(*identity, error);
      strike(link, identity);
      return std::nullopt;
    }
  }

  void readRouter() {
    for (;;) {
      std::vector<zmq::message_t> parts = receiveParts(router);
      if (parts.empty()) return;
      if (parts.size() != 2) {  // [peer identity][message]: anything else is dropped
        say("dropped a message of " + std::to_string(parts.size() - 1) + " frames");
        continue;
      }
      const std::string identity = parts[0].to_string();
      if (gate.ignoring(identity)) continue;  // abused this node a moment ago
      auto it = incoming.find(identity);
      if (gate.secure()) {
        // Admitted at the handshake, the key may have been revoked since.
        senderKeyOfCurrent = senderKey(parts[1]);
        if (!gate.allows(senderKeyOfCurrent)) {
          say("dropped a message from key " + keyFingerprint(senderKeyOfCurrent) +
              "..., no longer on the allow list");
          reply(identity, ErrorMsg{WireError::kNotAllowed, "this node no longer allows your key"});
          if (it != incoming.end()) {
            drop(*it->second, "its key was removed from the allow list");
            incoming.erase(it);
          }
          sessions.erase(identity);
          continue;
        }
      }
      auto message =
          decodeOrComplain(parts[1], it == incoming.end() ? nullptr : it->second.get(), &identity);
      if (message) onRouterMessage(identity, std::move(*message));
    }
  }

  void readOutgoing(Link& link) {
    zmq::message_t bytes;
    while (link.socket && link.socket->recv(bytes, zmq::recv_flags::dontwait)) {
      auto message = decodeOrComplain(bytes, &link, nullptr);
      if (!message) continue;
      if (!link.up) {
        if (auto* hello = std::get_if<HelloMsg>(&*message)) {
          if (auto refusal = refuseHello(engine, *hello, link.key))  // drop() logs it
            drop(link, refusal->message);
          else
            establish(link, *hello);
        } else if (auto* error = std::get_if<ErrorMsg>(&*message)) {
          drop(link, "peer refused: " + error->message);
        }
        continue;
      }
      onLinkMessage(link, std::move(*message));
    }
  }

  // Heartbeats, timeouts, reconnects, and the periodic bookkeeping.
  void tick() {
    const auto now = Clock::now();
    std::optional<HeartbeatMsg> heartbeat;  // read once per pass, only when a link is due
    auto beat = [&](Link& link) {
      if (link.up && now - link.lastSent >= options.heartbeat) {
        if (!heartbeat) heartbeat = HeartbeatMsg{engine.status().vector};
        sendTo(link, *heartbeat);
      }
      // Once a burst has settled (nothing in flight), at most once a second per link: one small
      // durable write, so that `status` shows what moved and what is pending.
      if (link.up && link.inFlight.empty() && now - link.lastNoted >= std::chrono::seconds(1) &&
          (link.sent != link.notedSent || link.received != link.notedReceived ||
           !(link.peerVector == link.notedVector)))
        notePeer(link);
    };
    for (auto& link : outgoing) {
      if (!link->socket) {
        if (!stopping && now >= link->nextAttempt) connect(*link);
        continue;
      }
      if (!link->up && now - link->helloSent > options.deadAfter)
        drop(*link, "no answer within " + std::to_string(options.deadAfter.count()) + " ms");
      else if (link->up && now - link->lastHeard > options.deadAfter)
        drop(*link, "silent for " + std::to_string(options.deadAfter.count()) + " ms");
      else
        beat(*link);
    }
    for (auto it = incoming.begin(); it != incoming.end();) {
      if (!it->second->up) {  // dropped while handling a message: its peer starts over
        it = incoming.erase(it);
        continue;
      }
      if (now - it->second->lastHeard > options.deadAfter) {
        drop(*it->second, "silent for " + std::to_string(options.deadAfter.count()) + " ms");
        it = incoming.erase(it);
        continue;
      }
      beat(*it->second);
      ++it;
    }
    for (auto it = sessions.begin(); it != sessions.end();)
      it = now - it->second > kSessionIdle ? sessions.erase(it) : std::next(it);
    if (auto news = gate.refresh(now); news != Gatekeeper::News::kNone) onAllowListChanged(news);
    if (options.compactEvery.count() > 0 && now - lastCompaction > options.compactEvery) {
      lastCompaction = now;
      if (uint64_t removed = engine.compactLog())
        say("compacted " + std::to_string(removed) + " log entries every peer holds");
    }
  }

  // The CLI changed the allow list (from another process): the first peer allowed makes every
  // link CURVE from now on; a revoked key loses its links at once; an outgoing link whose
  // expected key changed reconnects with the new one.
  void onAllowListChanged(Gatekeeper::News news) {
    if (news == Gatekeeper::News::kBecameSecure) {
      for (auto& [id, link] : incoming) drop(*link, "the node now requires CURVE");
      incoming.clear();
      sessions.clear();
      for (auto& link : outgoing) drop(*link, "the node now requires CURVE");
      boundEndpoint = gate.bind(context, router, boundEndpoint);
      return;
    }
    if (!gate.secure()) return;
    for (auto it = incoming.begin(); it != incoming.end();) {
      if (!gate.allows(it->second->key)) {
        drop(*it->second, "its key was removed from the allow list");
        it = incoming.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& link : outgoing) {
      const AllowedPeer* peer = gate.peerAt(link->endpoint);
      if (link->socket && (!peer || peer->publicKey != link->key)) {
        drop(*link, peer ? "its key on the allow list changed" : "it left the allow list");
        link->nextAttempt = Clock::now();
      }
    }
  }

  bool anyInFlight() const {
    auto busy = [](const Link& l) { return l.up && !l.inFlight.empty(); };
    return std::any_of(outgoing.begin(), outgoing.end(), [&](auto& l) { return busy(*l); }) ||
           std::any_of(incoming.begin(), incoming.end(), [&](auto& e) { return busy(*e.second); });
  }

  // One pass: wait for messages (1 ms while links stream, so a local write is pushed within
  // about a millisecond), handle them, push what the log gained, keep the links alive.
  void step() {
    std::vector<zmq::pollitem_t> items{{router.handle(), 0, ZMQ_POLLIN, 0}};
    if (gate.zap()) items.push_back({gate.zap()->handle(), 0, ZMQ_POLLIN, 0});
    const bool waking = localCommits.fd() >= 0;
    if (waking) items.push_back({nullptr, localCommits.fd(), ZMQ_POLLIN, 0});
    const size_t firstLink = items.size();
    std::vector<Link*> polled;
    for (auto& link : outgoing)
      if (link->socket) {
        items.push_back({link->socket->handle(), 0, ZMQ_POLLIN, 0});
        polled.push_back(link.get());
      }
    const bool streaming = !incoming.empty() || !polled.empty();
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(streaming ? 1 : 20));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      return;  // a signal: the caller checks its stop flag
    }
    std::lock_guard lock(stateMutex);
    if (gate.zap() && (items[1].revents & ZMQ_POLLIN)) gate.answerZap();
    if (waking && (items[firstLink - 1].revents & ZMQ_POLLIN)) localCommits.reset();
    if (items[0].revents & ZMQ_POLLIN) readRouter();
    for (size_t i = 0; i < polled.size(); ++i)
      if (items[firstLink + i].revents & ZMQ_POLLIN) readOutgoing(*polled[i]);
    logEnd = engine.logEnd();
    pumpAll();
    tick();
  }
};

Server::Server(sync::Engine& engine, const std::string& endpoint, Log log, ServeOptions options)
    : impl_(std::make_unique<Impl>(engine, std::move(log), std::move(options))) {
  impl_->boundEndpoint = impl_->gate.bind(impl_->context, impl_->router, endpoint);
}

uint64_t Server::malformedMessages() const {
  std::lock_guard lock(impl_->stateMutex);
  return impl_->gate.malformed();
}

bool Server::secure() const {
  std::lock_guard lock(impl_->stateMutex);
  return impl_->gate.secure();
}

Server::~Server() = default;

std::string Server::endpoint() const {
  std::lock_guard lock(impl_->stateMutex);  // the node re-binds when it turns secure
  return impl_->boundEndpoint;
}

void Server::run(const std::atomic<bool>& stop) {
  impl_->logEnd = impl_->engine.logEnd();
  while (!stop.load()) impl_->step();
  // Graceful stop: no new batches; the ones in flight get up to a second to be acknowledged.
  impl_->stopping = true;
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  while (impl_->anyInFlight() && Clock::now() < deadline) impl_->step();
  std::lock_guard lock(impl_->stateMutex);
  for (auto& link : impl_->outgoing)
    if (link->up) impl_->notePeer(*link);
  for (auto& [id, link] : impl_->incoming)
    if (link->up) impl_->notePeer(*link);
}

std::vector<LinkState> Server::links() const {
  std::lock_guard lock(impl_->stateMutex);
  std::vector<LinkState> out;
  auto add = [&](const Impl::Link& l) {
    out.push_back(LinkState{l.outgoing, l.endpoint, l.up, l.peerName, l.peerId, l.peerVector,
                            l.sent, l.received, l.inFlight.size(), l.lastError});
  };
  for (const auto& link : impl_->outgoing) add(*link);
  for (const auto& [id, link] : impl_->incoming) add(*link);
  return out;
}

}  // namespace sitesync::node
