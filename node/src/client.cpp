// The initiating side of a one-shot session (`sitesync sync`, `join`): one sync::PeerSession over
// a DEALER socket, driven until both sides hold the same changes (or the snapshot is in).
#include "node/node.h"
#include "node/src/link_monitor.h"
#include "node/src/security.h"
#include "node/src/transport.h"
#include "sync/peer_session.h"

namespace sitesync::node {

namespace {

using SteadyClock = std::chrono::steady_clock;

sync::SessionTime now() {
  return std::chrono::duration_cast<sync::SessionTime>(SteadyClock::now().time_since_epoch());
}

// A DEALER connected to one peer, with the monitor that says at once why a connection fails.
class Connection {
 public:
  Connection(const std::string& endpoint, const SyncOptions& options)
      : endpoint_(endpoint), timeout_(options.timeout) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
    if (options.identity) makeCurveClient(socket_, *options.identity, options.serverKey);
    // A refused connection or handshake only shows as an event: watch for it, so that the user
    // hears why instead of waiting for a timeout.
    monitor_.emplace(context_, socket_, options.identity.has_value());
    socket_.connect(endpoint);
  }
  ~Connection() {
    // The last acks may still be queued: give them a moment to leave.
    socket_.set(zmq::sockopt::linger, 200);
  }

  // A DEALER whose connection is not up (or whose handshake was refused) would block a send
  // forever: wait for room with the session's timeout, as for a message.
  void send(const WireMessage& message) {
    zmq::message_t out = frame(message);
    bytesSent += out.size();
    if (!waitFor(ZMQ_POLLOUT, timeout_) || !socket_.send(out, zmq::send_flags::dontwait))
      throw SyncError("cannot reach " + endpoint_ + " within " + std::to_string(timeout_.count()) +
                      " ms: is a node serving there?");
  }
  void sendAll(const sync::PeerSession::Messages& messages) {
    for (const auto& m : messages) send(m);
  }

  // The next message, if one comes within `wait`; a reply that does not decode throws.
  std::optional<WireMessage> receive(std::chrono::milliseconds wait, std::string& bytes) {
    if (!waitFor(ZMQ_POLLIN, wait)) return std::nullopt;
    zmq::message_t message;
    (void)socket_.recv(message, zmq::recv_flags::none);
    bytesReceived += message.size();
    bytes.assign(message.data<char>(), message.size());
    try {
      return decodeWireMessage(bytes);
    } catch (const DecodeError& e) {
      throw SyncError("malformed message from " + endpoint_ + ": " + e.what());
    }
  }

  uint64_t bytesSent = 0;
  uint64_t bytesReceived = 0;

 private:
  // Waits until the socket can receive (ZMQ_POLLIN) or send (ZMQ_POLLOUT), up to `wait`; a
  // failed handshake throws at once.
  bool waitFor(short readiness, std::chrono::milliseconds wait) {
    zmq::pollitem_t items[] = {{socket_.handle(), 0, readiness, 0},
                               {monitor_->events().handle(), 0, ZMQ_POLLIN, 0}};
    const auto deadline = SteadyClock::now() + wait;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      try {
        zmq::poll(items, 2, std::max(left, std::chrono::milliseconds(0)));
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
      if (left.count() <= 0) return false;
    }
  }

  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::dealer};
  std::optional<LinkMonitor> monitor_;
};

sync::SessionOptions sessionOptions(const SyncOptions& options, size_t credit) {
  sync::SessionOptions o;
  o.credit = credit;
  o.batchChanges = options.batchChanges;
  o.batchBytes = options.batchBytes;
  o.deadAfter = options.timeout;
  o.heartbeat = std::max(options.timeout / 4, sync::SessionTime(1));
  return o;
}

// Drives `session` over `connection` until `done` holds; a session that ends, or that moves
// nothing for the timeout, throws SyncError.
template <typename Done>
void drive(sync::PeerSession& session, Connection& connection, const std::string& endpoint,
           const SyncOptions& options, Done done) {
  session.sendNow([&](const WireMessage& m) { connection.send(m); });
  connection.sendAll(session.start(now()));
  const auto started = SteadyClock::now();
  auto lastMoved = started, lastReported = started;
  auto report = [&](bool last) {
    if (!options.progress) return;
    const auto c = session.counters();
    options.progress(TransferProgress{
        c.snapshotRecords, c.snapshotTotal, c.received, connection.bytesReceived,
        std::chrono::duration<double>(SteadyClock::now() - started).count(), last});
    lastReported = SteadyClock::now();
  };
  const auto timeout = options.timeout;
  std::string bytes;
  for (;;) {
    connection.sendAll(session.onTick(now()));
    if (session.ended())
      throw SyncError(session.endReason() + " (peer at " + endpoint + ")", session.refusal());
    if (!session.setAside().empty()) throw SyncError(session.setAside());
    if (done()) return report(true);
    if (SteadyClock::now() - lastReported > std::chrono::milliseconds(250)) report(false);
    if (SteadyClock::now() - lastMoved > timeout)
      throw SyncError("no answer from " + endpoint + " within " + std::to_string(timeout.count()) +
                      " ms");
    auto message = connection.receive(std::chrono::milliseconds(50), bytes);
    if (!message) continue;
    // A heartbeat only says the peer is there; anything else is the session moving.
    if (!std::holds_alternative<HeartbeatMsg>(*message)) lastMoved = SteadyClock::now();
    connection.sendAll(session.onMessage(*message, now(), bytes));
  }
}

sync::SessionLink linkTo(const std::string& endpoint, const SyncOptions& options) {
  return sync::SessionLink{true, endpoint, options.identity ? options.serverKey : std::string(),
                           options.identity ? options.identity->publicKey : std::string()};
}

}  // namespace

BootstrapReport bootstrapFrom(sync::Engine& engine, const std::string& endpoint,
                              const SyncOptions& options) {
  Connection connection(endpoint, options);
  auto o = sessionOptions(options, 0);
  o.snapshotOnly = true;
  sync::PeerSession session(engine, linkTo(endpoint, options), o);
  drive(session, connection, endpoint, options, [&] { return session.snapshotDone(); });
  const auto c = session.counters();
  return BootstrapReport{c.peerName, size_t(c.snapshotRecords), size_t(c.snapshotChunks)};
}

SyncReport syncWith(sync::Engine& engine, const std::string& endpoint, const SyncOptions& options) {
  engine.applyStagedBatches();  // what a crashed `serve` acknowledged goes in first
  const auto started = now();
  Connection connection(endpoint, options);
  SyncReport report;
  {
    // Credit 1: the peer streams one batch at a time (a large one is acknowledged once staged,
    // so the peer reads the next while this node writes); credit 0 when pushing only.
    sync::PeerSession session(engine, linkTo(endpoint, options),
                              sessionOptions(options, options.pull ? 1 : 0));
    drive(session, connection, endpoint, options, [&] { return session.inSync(); });
    const auto c = session.counters();
    report.peerName = c.peerName;
    report.peerId = c.peerId;
    report.sent = c.sent;
    report.received = c.received + c.snapshotRecords;
    report.heldBack = session.heldBack();
    if (c.firstAck.count() >= 0)
      report.acknowledgedAfter =
          std::chrono::duration_cast<std::chrono::microseconds>(c.firstAck - started);
  }  // the session records the peer as it closes
  report.vector = engine.status().vector;
  report.bytesSent = connection.bytesSent;
  report.bytesReceived = connection.bytesReceived;
  return report;
}

}  // namespace sitesync::node
