// The initiating side of replication: one session over a DEALER socket.
#include <deque>

#include "node/node.h"
#include "node/src/link_monitor.h"
#include "node/src/security.h"
#include "node/src/transport.h"

namespace sitesync::node {

namespace {

class Session {
 public:
  Session(const std::string& endpoint, const SyncOptions& options)
      : endpoint_(endpoint), timeout_(options.timeout) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
    if (options.identity) makeCurveClient(socket_, *options.identity, options.serverKey);
    secure_ = options.identity.has_value();
    // A refused connection or handshake only shows as an event: watch for it, so that the user
    // hears why instead of waiting for a timeout.
    monitor_.emplace(context_, socket_, secure_);
    if (secure_) {
      ownKey_ = options.identity->publicKey;
      serverKey_ = options.serverKey;
    }
    socket_.connect(endpoint);
  }
  // On a CURVE link: this node's link key, and the one the server proved (empty on plain TCP).
  const std::string& ownKey() const { return ownKey_; }
  const std::string& serverKey() const { return serverKey_; }

  // Sends `request` and returns the reply of type T; an error reply or a timeout throws.
  template <typename T>
  T request(const WireMessage& message) {
    send(message);
    return receive<T>();
  }

  // A DEALER whose connection is not up (or whose handshake was refused) would block a send
  // forever: wait for room with the session's timeout, like for a reply.
  void send(const WireMessage& message) {
    zmq::message_t out = frame(message);
    bytesSent += out.size();
    if (!waitFor(ZMQ_POLLOUT) || !socket_.send(out, zmq::send_flags::dontwait))
      throw SyncError("cannot reach " + endpoint_ + " within " + std::to_string(timeout_.count()) +
                      " ms: is a node serving there?");
  }

  uint64_t bytesSent = 0;
  uint64_t bytesReceived = 0;

  // The next reply, which must be a T (replies come in the order of the requests).
  template <typename T>
  T receive() {
    if (!waitFor(ZMQ_POLLIN))
      throw SyncError("no answer from " + endpoint_ + " within " +
                      std::to_string(timeout_.count()) + " ms");
    zmq::message_t reply;
    (void)socket_.recv(reply, zmq::recv_flags::none);
    bytesReceived += reply.size();
    WireMessage decoded;
    try {
      decoded = decodeWireMessage(reply.to_string_view());
    } catch (const DecodeError& e) {
      throw SyncError("malformed reply from " + endpoint_ + ": " + e.what());
    }
    if (auto* error = std::get_if<ErrorMsg>(&decoded))
      throw SyncError("peer at " + endpoint_ + " refused: " + error->message, error->code);
    if (auto* typed = std::get_if<T>(&decoded)) return std::move(*typed);
    throw SyncError("unexpected reply from " + endpoint_);
  }

 private:
  std::string ownKey_, serverKey_;
  // Waits until the socket can receive (ZMQ_POLLIN) or send (ZMQ_POLLOUT), up to the timeout; a
  // failed handshake throws at once.
  bool waitFor(short readiness) {
    zmq::pollitem_t items[] = {{socket_.handle(), 0, readiness, 0},
                               {monitor_->events().handle(), 0, ZMQ_POLLIN, 0}};
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      try {
        zmq::poll(items, 2, left);
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) return false;
        throw;
      }
      if (items[0].revents & readiness) return true;
      if (items[1].revents & ZMQ_POLLIN)
        if (auto failed = monitor_->failure())
          throw SyncError(
              "cannot reach " + endpoint_ + ": " + failed->cause,
              failed->keyRefused ? std::optional(WireError::kNotAllowed) : std::nullopt);
    }
  }

  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  bool secure_ = false;
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::dealer};
  std::optional<LinkMonitor> monitor_;
};

}  // namespace

namespace {

// Opens a session: hellos both ways, protocol version and deployment checked (a node without a
// deployment adopts the peer's).
HelloMsg openSession(sync::Engine& engine, Session& session, const std::string& endpoint) {
  const auto self = engine.status();
  HelloMsg hello{kProtocolVersion, self.meta.siteId, self.meta.siteName,
                 self.meta.isHub,  self.vector,      self.meta.deployment};
  if (!session.ownKey().empty()) engine.proveIdentity(hello, session.ownKey());
  hello.revoked = self.meta.revokedSites;
  HelloMsg peer = session.request<HelloMsg>(hello);
  if (auto refusal = refuseHello(engine, peer, session.serverKey()))
    throw SyncError(refusal->message + " (peer at " + endpoint + ")", refusal->code);
  return peer;
}

// Pulls the peer's snapshot chunk by chunk into this store, asking for the next chunk before
// merging the one in hand, so the peer reads while this node writes.
BootstrapReport takeSnapshot(sync::Engine& engine, Session& session, const std::string& peerName) {
  BootstrapReport report;
  report.peerName = peerName;
  session.send(SnapshotRequestMsg{engine.meta().snapshotNextKey, kSnapshotChunkBytes});
  for (;;) {
    auto chunk = session.receive<SnapshotChunkMsg>();
    if (!chunk.complete) session.send(SnapshotRequestMsg{chunk.nextKey, kSnapshotChunkBytes});
    try {
      engine.mergeSnapshotChunk(chunk);
    } catch (const std::exception& e) {
      throw SyncError(std::string("snapshot chunk refused: ") + e.what());
    }
    report.records += chunk.records.size();
    ++report.chunks;
    if (chunk.complete) return report;
  }
}

using SteadyTime = std::chrono::steady_clock::time_point;

// Pushes what the peer lacks, with up to kWindow batches in flight: this side reads its log while
// the peer applies the previous batch. Returns false when this node's log no longer reaches the
// peer's vector: then nothing is pushed, and the peer will take a snapshot from us (it asks).
bool pushMissing(sync::Engine& engine, Session& session, const HelloMsg& peer,
                 const SyncOptions& options, SteadyTime started, SyncReport& report) {
  constexpr size_t kWindow = 4;
  const VersionVector peerVector = withRevoked(peer.vector, peer.revoked, engine.status().vector);
  const bool canPush = engine.logReaches(peerVector);
  uint64_t position = canPush ? engine.firstPositionMissingFrom(peerVector) : engine.logEnd() + 1;
  std::deque<size_t> inFlight;
  bool readAll = false;
  while (!readAll || !inFlight.empty()) {
    while (!readAll && inFlight.size() < kWindow) {
      auto batch =
          engine.changesMissingFrom(peerVector, position, options.batchChanges, options.batchBytes);
      readAll = batch.complete;
      position = batch.nextPosition;
      if (batch.changes.empty()) continue;
      inFlight.push_back(batch.changes.size());
      session.send(ChangeBatchMsg{std::move(batch.changes), batch.complete});
    }
    if (inFlight.empty()) break;
    session.receive<AckMsg>();
    report.acknowledgedAfter = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    report.sent += inFlight.front();
    inFlight.pop_front();
  }
  return canPush;
}

// Pulls and applies what this node lacks, batch by batch.
void pullMissing(sync::Engine& engine, Session& session, const std::string& peerName,
                 SyncReport& report) {
  uint64_t from = 0;
  for (;;) {
    PullReplyMsg reply;
    try {
      reply = session.request<PullReplyMsg>(PullMsg{engine.status().vector, from});
    } catch (const SyncError& e) {
      if (e.refusal() != WireError::kNeedSnapshot || from != 0) throw;
      // Too far behind for the peer's log: this node's own changes went first (pushMissing);
      // now its register is merged with the peer's snapshot, and the pull starts again.
      report.received += takeSnapshot(engine, session, peerName).records;
      continue;
    }
    if (!reply.batch.changes.empty()) {
      const auto applied = engine.applyBatch(reply.batch.changes);
      // Set aside (stamped too far ahead): what follows it cannot apply either; say why.
      if (!applied.setAside.empty()) throw SyncError(applied.setAside);
      report.received += applied.applied;
    }
    if (reply.batch.complete) return;
    from = reply.nextPosition;
  }
}

SyncReport withTraffic(SyncReport report, const Session& session) {
  report.bytesSent = session.bytesSent;
  report.bytesReceived = session.bytesReceived;
  return report;
}

}  // namespace

BootstrapReport bootstrapFrom(sync::Engine& engine, const std::string& endpoint,
                              const SyncOptions& options) {
  Session session(endpoint, options);
  HelloMsg peer = openSession(engine, session, endpoint);
  return takeSnapshot(engine, session, peer.siteName);
}

SyncReport syncWith(sync::Engine& engine, const std::string& endpoint, const SyncOptions& options) {
  engine.applyStagedBatches();  // what a crashed `serve` acknowledged goes in first
  const auto started = std::chrono::steady_clock::now();
  Session session(endpoint, options);
  HelloMsg peer = openSession(engine, session, endpoint);
  SyncReport report;
  report.peerName = peer.siteName;
  report.peerId = peer.siteId;
  // Changes made on either side during the session call for another round; a few suffice.
  for (int round = 0; round < 8; ++round) {
    const bool canPush = pushMissing(engine, session, peer, options, started, report);
    if (!options.pull) {
      report.vector = engine.status().vector;
      return withTraffic(std::move(report), session);
    }
    pullMissing(engine, session, peer.siteName, report);
    peer = openSession(engine, session, endpoint);
    report.vector = engine.status().vector;
    if (!canPush && !(peer.vector == report.vector))
      throw SyncError("'" + peer.siteName +
                      "' lacks changes that this node's log no longer holds (compacted): it "
                      "needs a snapshot, which a streaming link (`sitesync serve --peer`) takes "
                      "by itself");
    if (withRevoked(peer.vector, peer.revoked, report.vector) == report.vector) {
      engine.notePeerSession(peer.siteId, peer.siteName, endpoint, peer.vector, report.sent,
                             report.received);
      return withTraffic(std::move(report), session);
    }
  }
  throw SyncError("the peer at " + endpoint + " kept changing; vectors still differ");
}

}  // namespace sitesync::node
