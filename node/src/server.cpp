// The running node: one thread, one zmq poll over the ROUTER socket (peers that connect here)
// and one DEALER per configured peer. Every connection carries one sync::PeerSession, which is
// the protocol; this side maps its messages onto frames, keeps connections up, and relays.
// This half: the loop, link lifecycle and sending; server_messages.cpp handles what arrives.
#include "node/src/server_impl.h"

namespace sitesync::node {

void Server::Impl::say(const std::string& line) {
  if (log) log(line, {});
}

void Server::Impl::sayAbout(const Link& link, const std::string& line) {
  if (!log) return;
  std::string peer = link.session ? link.session->counters().peerName : link.ended.peerName;
  log(line, peer.empty() && link.outgoing ? link.endpoint : peer);
}

std::string Server::Impl::nameOf(const Link& link) const {
  const std::string name = link.session ? link.session->counters().peerName : link.ended.peerName;
  std::string who = name.empty() ? "a peer" : "'" + name + "'";
  return link.outgoing ? who + " at " + link.endpoint : who + " (connected here)";
}

sync::SessionTime Server::Impl::now() {
  return std::chrono::duration_cast<sync::SessionTime>(Clock::now().time_since_epoch());
}

void Server::Impl::sendTo(Link& link, const WireMessage& message) {
  sendFrame(link, frame(message));
}

void Server::Impl::sendAll(Link& link, const sync::PeerSession::Messages& messages) {
  for (const auto& message : messages) sendTo(link, message);
}

void Server::Impl::sendFrame(Link& link, zmq::message_t bytes) {
  link.bytesSent += bytes.size();
  if (link.outgoing) {
    if (!link.socket) return;
    (void)link.socket->send(bytes, zmq::send_flags::dontwait);
  } else {
    // A ROUTER drops a message for a peer that is gone; the session then times out.
    router.send(zmq::buffer(link.identity), zmq::send_flags::sndmore);
    (void)router.send(bytes, zmq::send_flags::dontwait);
  }
}

void Server::Impl::reply(const std::string& identity, const WireMessage& message) {
  router.send(zmq::buffer(identity), zmq::send_flags::sndmore);
  (void)router.send(frame(message), zmq::send_flags::dontwait);
}

void Server::Impl::openSession(Link& link) {
  sync::SessionLink ends{link.outgoing, link.endpoint, link.key,
                         gate.secure() ? gate.identity().publicKey : std::string()};
  sync::SessionOptions o;
  o.credit = options.window;
  o.batchChanges = options.batchChanges;
  o.batchBytes = options.batchBytes;
  o.heartbeat = options.heartbeat;
  o.deadAfter = options.deadAfter;
  link.session = std::make_unique<sync::PeerSession>(
      engine, std::move(ends), o, [this, &link](const std::string& line) { sayAbout(link, line); });
  link.session->onVerified(
      [this, &link](const ChangeBatchMsg& batch, const sync::VerifiedBatch& verified) {
        relayAhead(batch, verified, &link);
      });
  link.session->sendNow([this, &link](const WireMessage& message) { sendTo(link, message); });
  link.session->noteInto([this](sync::PeerNote note) { pendingNotes.push_back(std::move(note)); });
  sendAll(link, link.session->start(now()));
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
  openSession(link);
}

void Server::Impl::closeSession(Link& link) {
  if (!link.session) return;
  const auto last = link.session->counters();
  link.ended.peerId = last.peerId;
  if (!last.peerName.empty()) link.ended.peerName = last.peerName;
  link.ended.peerVector = last.peerVector;
  link.ended.sent += last.sent;
  link.ended.received += last.received;
  link.ended.relayedAhead += last.relayedAhead;
  if (last.peerId) {
    auto& total = endedBytes[last.peerId];
    total.sent += link.bytesSent;
    total.received += link.bytesReceived;
  }
  link.bytesSent = link.bytesReceived = 0;
  link.session->noteInto({});
  link.session.reset();  // records the peer and what moved
}

void Server::Impl::drop(Link& link, const std::string& why) {
  const bool wasUp = link.session && link.session->up();
  if (why != link.lastError || wasUp) {
    const auto moved = link.session ? link.session->counters() : sync::PeerSession::Counters{};
    sayAbout(link, "link with " + nameOf(link) + " down: " + why +
                       (wasUp ? " (this session: sent " + std::to_string(moved.sent) +
                                    ", received " + std::to_string(moved.received) + " changes)"
                              : std::string()));
  }
  link.lastError = why;
  closeSession(link);
  if (link.outgoing) {
    link.monitor.reset();
    link.socket.reset();
    link.nextAttempt = Clock::now() + link.backoff;
    link.backoff = std::min(link.backoff * 2, options.maxBackoff);
  }
}

bool Server::Impl::settleSession(Link& link, const sync::PeerSession::Messages& out) {
  sendAll(link, out);
  if (!link.session || !link.session->ended()) {
    if (link.session && link.session->up()) {
      link.backoff = options.firstBackoff;
      link.lastError.clear();
    }
    return true;
  }
  drop(link, link.session->endReason());
  return false;
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
    std::string key;
    if (gate.secure()) {
      // Admitted at the handshake, the key may have been revoked since.
      key = senderKey(parts[1]);
      if (!gate.allows(key)) {
        say("dropped a message from key " + keyFingerprint(key) +
            "..., no longer on the allow list");
        reply(identity, ErrorMsg{WireError::kNotAllowed, "this node no longer allows your key"});
        if (it != incoming.end()) {
          drop(*it->second, "its key was removed from the allow list");
          incoming.erase(it);
        }
        continue;
      }
    }
    auto message =
        decodeOrComplain(parts[1], it == incoming.end() ? nullptr : it->second.get(), &identity);
    if (!message) continue;
    onRouterMessage(identity, *message, parts[1].to_string_view(), key);
  }
}

void Server::Impl::readOutgoing(Link& link) {
  zmq::message_t bytes;
  while (link.socket && link.session && link.socket->recv(bytes, zmq::recv_flags::dontwait)) {
    auto message = decodeOrComplain(bytes, &link, nullptr);
    if (message && link.session) deliver(link, *message, bytes.to_string_view());
  }
}

void Server::Impl::tickOutgoing(Link& link) {
  if (!link.socket) {
    if (!stopping && Clock::now() >= link.nextAttempt) connect(link);
    return;
  }
  if (auto failed = link.monitor->failure()) {  // refused: said at once, tried again later
    drop(link, failed->cause);
    return;
  }
  if (link.session && !stopping) settleSession(link, link.session->onTick(now()));
}

void Server::Impl::tick() {
  for (auto& link : outgoing) tickOutgoing(*link);
  const uint64_t logEnd = engine.logEnd();
  const bool logGrew = logEnd != lastLogEnd;
  lastLogEnd = logEnd;
  const auto at = Clock::now();
  if (logGrew || at - lastSweep >= kSweepEvery) {
    lastSweep = at;
    for (auto it = incoming.begin(); it != incoming.end();) {
      Link& link = *it->second;
      const bool due = link.heard || at - link.lastTicked >= quietTickEvery() ||
                       (logGrew && link.session && link.session->streamsOnGrowth());
      const bool alive = link.session && (!due || tickIncoming(link, at));
      it = alive ? std::next(it) : incoming.erase(it);
    }
  } else {
    for (const std::string& id : heardIncoming)
      if (auto it = incoming.find(id); it != incoming.end() && it->second->heard)
        if (!it->second->session || !tickIncoming(*it->second, at)) incoming.erase(it);
  }
  heardIncoming.clear();
  writeNotes();
  if (auto news = gate.refresh(Clock::now()); news != Gatekeeper::News::kNone)
    onAllowListChanged(news);
  if (options.compactEvery.count() > 0 && Clock::now() - lastCompaction > options.compactEvery) {
    lastCompaction = Clock::now();
    if (uint64_t removed = engine.compactLog())
      say("compacted " + std::to_string(removed) + " log entries every peer holds");
  }
}

bool Server::Impl::tickIncoming(Link& link, Clock::time_point at) {
  link.heard = false;
  link.lastTicked = at;
  return stopping || settleSession(link, link.session->onTick(now()));
}

void Server::Impl::writeNotes() {
  if (pendingNotes.empty()) return;
  std::vector<sync::PeerNote> notes;
  notes.swap(pendingNotes);
  engine.notePeerSessions(notes);
}

void Server::Impl::onAllowListChanged(Gatekeeper::News news) {
  if (news == Gatekeeper::News::kBecameSecure) {
    for (auto& [id, link] : incoming) drop(*link, "the node now requires CURVE");
    incoming.clear();
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
  auto busy = [](const Link& l) { return l.session && l.session->up() && l.session->inFlight(); };
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
  // Sessions still open (run() ended by an exception) record their peers as they close.
  for (auto& link : impl_->outgoing)
    if (link->session) link->session->noteInto({});
  for (auto& [id, link] : impl_->incoming)
    if (link->session) link->session->noteInto({});
}

std::string Server::endpoint() const {
  std::lock_guard lock(impl_->stateMutex);  // the node re-binds when it turns secure
  return impl_->boundEndpoint;
}

void Server::run(const std::atomic<bool>& stop) {
  while (!stop.load()) impl_->step();
  // Graceful stop: no new batches; the ones in flight get up to a second to be acknowledged.
  impl_->stopping = true;
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  while (impl_->anyInFlight() && Clock::now() < deadline) impl_->step();
  impl_->settle();
  std::lock_guard lock(impl_->stateMutex);
  for (auto& link : impl_->outgoing) impl_->closeSession(*link);
  for (auto& [id, link] : impl_->incoming) impl_->closeSession(*link);
}

std::vector<LinkState> Server::links() const {
  std::lock_guard lock(impl_->stateMutex);
  std::vector<LinkState> out;
  auto add = [&](const Impl::Link& l) {
    auto c = l.ended;
    if (l.session) {
      const auto now = l.session->counters();
      c.sent += now.sent;
      c.received += now.received;
      c.relayedAhead += now.relayedAhead;
      if (now.peerId)
        c.peerId = now.peerId, c.peerName = now.peerName, c.peerVector = now.peerVector;
      c.inFlight = now.inFlight;
    }
    const bool up = l.session && l.session->up();
    out.push_back(LinkState{l.outgoing, l.endpoint, up, c.peerName, c.peerId, c.peerVector, c.sent,
                            c.received, c.inFlight, c.relayedAhead, l.lastError});
  };
  for (const auto& link : impl_->outgoing) add(*link);
  for (const auto& [id, link] : impl_->incoming) add(*link);
  return out;
}

std::map<SiteId, PeerBytes> Server::bytesByPeer() const {
  std::lock_guard lock(impl_->stateMutex);
  auto out = impl_->endedBytes;
  auto add = [&](const Impl::Link& l) {
    const SiteId peer = l.session ? l.session->counters().peerId : 0;
    if (!peer) return;
    out[peer].sent += l.bytesSent;
    out[peer].received += l.bytesReceived;
  };
  for (const auto& link : impl_->outgoing) add(*link);
  for (const auto& [id, link] : impl_->incoming) add(*link);
  return out;
}

}  // namespace sitesync::node
