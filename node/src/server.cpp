// The running node: one thread, one zmq poll over the ROUTER socket (peers that connect here)
// and one DEALER per configured peer. Requests of one-shot sessions (`sitesync sync`, `join`)
// are answered statelessly; streaming links keep per-peer state (what the peer holds, where
// in this node's log its stream stands, batches in flight) and push changes as the log grows.
// This half: the loop, link lifecycle and sending; server_messages.cpp handles what arrives.
#include "node/src/server_impl.h"

namespace sitesync::node {

void Server::Impl::say(const std::string& line) {
  if (log) log(line);
}

std::string Server::Impl::nameOf(const Link& link) const {
  std::string who = link.peerName.empty() ? "a peer" : "'" + link.peerName + "'";
  return link.outgoing ? who + " at " + link.endpoint : who + " (connected here)";
}

HelloMsg Server::Impl::selfHello(bool stream) const {
  auto status = engine.status();
  status.vector = engine.heldVector();  // with a staged batch still being written
  HelloMsg hello{kProtocolVersion,  status.meta.siteId, status.meta.siteName,
                 status.meta.isHub, status.vector,      status.meta.deployment};
  hello.stream = stream;
  hello.credit = stream ? uint32_t(options.window) : 0;
  if (gate.secure()) engine.proveIdentity(hello, gate.identity().publicKey);
  hello.revoked = status.meta.revokedSites;
  return hello;
}

void Server::Impl::sendTo(Link& link, const WireMessage& message) {
  sendFrame(link, frame(message));
}

void Server::Impl::sendFrame(Link& link, zmq::message_t bytes) {
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

void Server::Impl::reply(const std::string& identity, const WireMessage& message) {
  router.send(zmq::buffer(identity), zmq::send_flags::sndmore);
  (void)router.send(frame(message), zmq::send_flags::dontwait);
}

void Server::Impl::connect(Link& link) {
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
  link.monitor = std::make_unique<LinkMonitor>(context, *link.socket, gate.secure());
  link.socket->connect(link.endpoint);
  link.up = false;
  link.inFlight.clear();
  link.helloSent = Clock::now();
  sendTo(link, selfHello(true));
}

void Server::Impl::notePeer(Link& link) {
  if (link.peerId == 0) return;
  engine.notePeerSession(link.peerId, link.peerName, link.outgoing ? link.endpoint : "",
                         link.peerVector, link.sent - link.notedSent,
                         link.received - link.notedReceived);
  link.notedSent = link.sent;
  link.notedReceived = link.received;
  link.notedVector = link.peerVector;
  link.lastNoted = Clock::now();
}

void Server::Impl::drop(Link& link, const std::string& why) {
  if (why != link.lastError || link.up) say("link with " + nameOf(link) + " down: " + why);
  link.lastError = why;
  if (link.up) notePeer(link);
  link.up = false;
  link.inFlight.clear();
  link.snapshotting = false;
  if (link.outgoing) {
    link.monitor.reset();
    link.socket.reset();
    link.nextAttempt = Clock::now() + link.backoff;
    link.backoff = std::min(link.backoff * 2, options.maxBackoff);
  }
}

VersionVector Server::Impl::asHeldBy(const Link& link, const VersionVector& sent) const {
  if (link.peerRevoked.entries().empty()) return sent;
  return withRevoked(sent, link.peerRevoked, engine.heldVector());
}

void Server::Impl::establish(Link& link, const HelloMsg& hello) {
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

void Server::Impl::leaseNumbersTo(const HelloMsg& hello) {
  if (hello.isHub) return;
  try {
    if (size_t blocks = engine.ensureLeases(hello.siteId))
      say("leased " + std::to_string(blocks) + " customer number blocks to '" + hello.siteName +
          "'");
  } catch (const std::exception& e) {
    say("could not lease customer numbers to '" + hello.siteName + "': " + e.what());
  }
}

void Server::Impl::aim(Link& link) {
  link.peerNeedsSnapshot = !engine.logReaches(link.peerVector);
  if (link.peerNeedsSnapshot) {
    sendTo(link, needSnapshotError());
    return;
  }
  link.position = engine.firstPositionMissingFrom(link.peerVector);
}

void Server::Impl::pump(Link& link) {
  if (!link.up || stopping) return;
  while (!link.peerNeedsSnapshot && link.inFlight.size() < link.credit && link.position <= logEnd) {
    auto batch = engine.changesMissingFrom(link.peerVector, link.position, options.batchChanges,
                                           options.batchBytes);
    link.position = batch.nextPosition;
    if (batch.changes.empty()) continue;
    link.inFlight.push_back(batch.changes.size());
    sendTo(link, ChangeBatchMsg{std::move(batch.changes), batch.complete});
  }
  // A peer that must re-bootstrap first sends everything it has, then asks for the snapshot.
  if (link.needSnapshot && !link.snapshotting && link.inFlight.empty() && link.position > logEnd) {
    link.snapshotting = true;
    say("taking a snapshot from " + nameOf(link) + ": its log no longer reaches this node's");
    sendTo(link, SnapshotRequestMsg{engine.meta().snapshotNextKey, kSnapshotChunkBytes});
  }
}

void Server::Impl::pumpAll() {
  for (auto& link : outgoing) pump(*link);
  for (auto& [id, link] : incoming) pump(*link);
}

std::optional<WireMessage> Server::Impl::decodeOrComplain(const zmq::message_t& bytes, Link* link,
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

void Server::Impl::readRouter() {
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
    if (!message) continue;
    bytesOfCurrent = parts[1].to_string_view();
    onRouterMessage(identity, std::move(*message));
    bytesOfCurrent = {};
  }
}

void Server::Impl::readOutgoing(Link& link) {
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
    bytesOfCurrent = bytes.to_string_view();
    onLinkMessage(link, std::move(*message));
    bytesOfCurrent = {};
  }
}

void Server::Impl::tick() {
  const auto now = Clock::now();
  std::optional<HeartbeatMsg> heartbeat;  // read once per pass, only when a link is due
  auto beat = [&](Link& link) {
    if (link.up && now - link.lastSent >= options.heartbeat) {
      if (!heartbeat) heartbeat = HeartbeatMsg{engine.heldVector()};
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
    if (auto failed = link->monitor->failure())  // refused: said at once, tried again later
      drop(*link, failed->cause);
    else if (!link->up && now - link->helloSent > options.deadAfter)
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

void Server::Impl::onAllowListChanged(Gatekeeper::News news) {
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

bool Server::Impl::anyInFlight() const {
  auto busy = [](const Link& l) { return l.up && !l.inFlight.empty(); };
  return std::any_of(outgoing.begin(), outgoing.end(), [&](auto& l) { return busy(*l); }) ||
         std::any_of(incoming.begin(), incoming.end(), [&](auto& e) { return busy(*e.second); });
}

void Server::Impl::step() {
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

Server::Server(sync::Engine& engine, const std::string& endpoint, Log log, ServeOptions options)
    : impl_(std::make_unique<Impl>(engine, std::move(log), std::move(options))) {
  // Batches acknowledged before a crash let them be applied: they go in before anything else.
  if (const size_t staged = engine.applyStagedBatches())
    impl_->say("applied " + std::to_string(staged) + " staged batches left by the last run");
  for (const auto& aside : engine.inboxState().setAside)
    impl_->say("set aside, could not apply: " + aside);
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

Server::~Server() {
  // A staged batch still being written calls back into this node (its commit wake): wait for
  // it, also when run() ended with an exception.
  try {
    impl_->engine.settleStaged();
  } catch (const std::exception&) {
    // It stays staged in the inbox; the next start applies it.
  }
}

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
  impl_->settle();
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
                            l.sent, l.received, l.inFlight.size(), l.relayedAhead, l.lastError});
  };
  for (const auto& link : impl_->outgoing) add(*link);
  for (const auto& [id, link] : impl_->incoming) add(*link);
  return out;
}

}  // namespace sitesync::node
